//! Stage eight: change while running. In development mode the host watches
//! its configuration files; when one changes it reads them again and checks
//! everything it checked at startup (the host's settings and schema, every
//! plugin's slice against its schema, unknown keys when strict). A change
//! that passes is published: each plugin whose slice changed has its
//! subscribers called with the new slice. A change that fails is logged
//! with every reason, and the running configuration stays as it was.
//!
//! Host settings (listen address, timeouts, plugin selection) take effect
//! at the next start; only plugins' slices change while running.

mod watcher;

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Duration,
};

use camino::Utf8PathBuf;

use serde::Serialize;
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};

pub use watcher::{Changed, DEBOUNCE, WatchError, WatchKind, Watcher, is_change};

use crate::{
    backend::configure,
    config::{Config, ConfigLoader, PluginSelection, PluginSlice},
    initialize::PluginConfigs,
    serve::HttpState,
};

/// Where the running configuration stands, as the instance endpoint shows
/// it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ConfigState {
    /// How many changes have been published since the start.
    pub revision: u64,
    /// Why the latest change was refused, while no later change passed.
    pub refused: Option<String>,
}

/// The configuration running now and the plugin schemas it was checked
/// against, shared by configuration reloads and plugin file changes.
#[derive(Default)]
pub(crate) struct LiveConfig {
    /// `None` when the host runs without configuration files.
    pub(crate) config: Option<Config>,
    pub(crate) schemas: Vec<(String, Option<serde_json::Value>)>,
}

/// The [`LiveConfig`] every part of the running host sees.
pub(crate) type SharedConfig = Arc<std::sync::Mutex<LiveConfig>>;

/// Locks the live configuration, whatever a panicking holder left.
pub(crate) fn live(shared: &SharedConfig) -> std::sync::MutexGuard<'_, LiveConfig> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What reloading needs to know of the running backend.
pub(crate) struct Reloader {
    pub(crate) loader: ConfigLoader,
    pub(crate) selection: PluginSelection,
    pub(crate) strict: bool,
    pub(crate) overrides: BTreeMap<String, serde_json::Value>,
    pub(crate) configs: Arc<PluginConfigs>,
    pub(crate) hook_timeout: Duration,
    pub(crate) state: watch::Sender<ConfigState>,
    pub(crate) http: Arc<HttpState>,
    /// The configuration running now (to tell a change from a rewrite of
    /// the same content) and the schemas to check a change against.
    pub(crate) live: SharedConfig,
}

/// The task that reloads on the watcher's changes, owning the watcher;
/// dropping it stops both.
pub(crate) struct Reloading {
    task: JoinHandle<()>,
}

impl Drop for Reloading {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Where changed plugin files are sent: the plugins directory and the
/// channel the running backend reads.
pub(crate) type PluginFiles = (Utf8PathBuf, mpsc::UnboundedSender<BTreeSet<Utf8PathBuf>>);

/// Watches the configuration files (with `config`) and the plugins
/// directory (with `plugins`) with one watcher; reloads the configuration
/// on each change of it, and sends each batch of changed plugin files on.
///
/// # Errors
///
/// Returns an error when the files cannot be watched.
pub(crate) fn watch(
    config: Option<Reloader>,
    plugins: Option<PluginFiles>,
) -> Result<Reloading, WatchError> {
    let (mut watcher, changes) = Watcher::start().map_err(|source| WatchError::Watch {
        path: ".".into(),
        source,
    })?;
    if let Some(reloader) = &config {
        let files: Vec<_> = reloader
            .loader
            .files()
            .into_iter()
            .map(|file| file.path)
            .collect();
        watcher.watch_files(WatchKind::Config, &files)?;
        let (_, read) = reloader.loader.load_reading();
        follow(&mut watcher, read);
        tracing::info!(files = files.len(), "watching the configuration files");
        reloader.publish_state();
    }
    let sender = match plugins {
        Some((directory, sender)) => {
            watcher.watch_directory(WatchKind::Plugin, &directory)?;
            tracing::info!(%directory, "watching the plugins directory");
            Some(sender)
        }
        None => None,
    };
    let task = tokio::spawn(dispatch(watcher, config, sender, changes));
    Ok(Reloading { task })
}

/// Also watches the files a configuration load read through `$include`
/// and `$file`; a file that cannot be watched is only logged.
fn follow(watcher: &mut Watcher, read: BTreeSet<Utf8PathBuf>) {
    let read: Vec<Utf8PathBuf> = read.into_iter().collect();
    if let Err(error) = watcher.watch_files(WatchKind::Config, &read) {
        tracing::warn!(%error, "a file the configuration includes is not watched");
    }
}

async fn dispatch(
    mut watcher: Watcher,
    config: Option<Reloader>,
    plugins: Option<mpsc::UnboundedSender<BTreeSet<Utf8PathBuf>>>,
    mut changes: mpsc::UnboundedReceiver<Changed>,
) {
    while let Some(mut changed) = changes.recv().await {
        if let (Some(files), Some(sender)) = (changed.files.remove(&WatchKind::Plugin), &plugins) {
            let _ = sender.send(files);
        }
        let (Some(files), Some(reloader)) = (changed.files.get(&WatchKind::Config), &config) else {
            continue;
        };
        let files: Vec<String> = files.iter().map(ToString::to_string).collect();
        tracing::info!("configuration changed: {}", files.join(", "));
        let read = reloader.reload().await;
        follow(&mut watcher, read);
    }
}

impl Reloader {
    /// Reads and checks the configuration again, and publishes it or keeps
    /// the old one. Returns every file it read.
    async fn reload(&self) -> BTreeSet<Utf8PathBuf> {
        let (loaded, read) = self.loader.load_reading();
        let reasons = match self.check(loaded) {
            Ok((config, slices)) => {
                if !self.swap_running(config) {
                    tracing::debug!("the configuration files were written without a change");
                    self.state.send_modify(|state| state.refused = None);
                    self.publish_state();
                    return read;
                }
                let changed = self.configs.replace(slices);
                self.state.send_modify(|state| {
                    state.revision += 1;
                    state.refused = None;
                });
                self.publish_state();
                tracing::info!(
                    revision = self.state.borrow().revision,
                    "configuration reloaded; plugins whose configuration changed: {}",
                    if changed.is_empty() {
                        "none".to_string()
                    } else {
                        changed.join(", ")
                    }
                );
                self.configs.notify(&changed, self.hook_timeout).await;
                return read;
            }
            Err(reasons) => reasons,
        };
        let reason = format!(
            "the configuration change was refused and the running configuration kept:\n  {}",
            reasons.join("\n  ")
        );
        tracing::error!("{reason}");
        self.state.send_modify(|state| state.refused = Some(reason));
        self.publish_state();
        read
    }

    /// The new configuration and slices, or every reason the configuration
    /// cannot be used.
    fn check(
        &self,
        loaded: Result<Config, crate::config::ConfigErrors>,
    ) -> Result<(Config, BTreeMap<String, PluginSlice>), Vec<String>> {
        let config =
            loaded.map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
        configure::settings_problems(&config)?;
        let schemas = live(&self.live).schemas.clone();
        let checked = configure::check(&config, &schemas, &self.selection);
        let errors = checked.errors(self.strict);
        if !errors.is_empty() {
            return Err(errors);
        }
        let slices = configure::slices(Some(&checked.config), &schemas, &self.overrides);
        Ok((checked.config, slices))
    }

    /// Makes `config` the running configuration; `false` when it already
    /// was.
    fn swap_running(&self, config: Config) -> bool {
        let mut live = live(&self.live);
        if live.config.as_ref() == Some(&config) {
            return false;
        }
        live.config = Some(config);
        true
    }

    /// Shows the state on the instance endpoint.
    fn publish_state(&self) {
        let state = self.state.borrow().clone();
        self.http
            .update_instance([("config", serde_json::json!(state))]);
    }
}
