//! Development mode's drop-in: a plugin file added to, replaced in or
//! removed from the plugins directory loads, reloads or stops its plugins
//! while the host runs.
//!
//! A replacement loads the new file from a private copy (so a file copied
//! over in place is only ever read, never mapped) and registers it; it is
//! refused, the old generation serving on, when its plugin ids differ from
//! the old file's, when the whole set no longer resolves, or when any
//! plugin of the new generation fails to start. Libraries are never
//! unloaded: each load leaks its copy, so the instance endpoint counts them.

use std::collections::{BTreeMap, BTreeSet};

use camino::{Utf8Path, Utf8PathBuf};

use super::{RunningBackend, entry_points};
use crate::{
    backend::{Library, configure, pipeline},
    check::{self, CheckOptions},
    discover,
    initialize::NextGeneration,
    register::PluginId,
    resolve::{self, ResolveOptions},
};

/// What the running backend needs to follow its plugins directory.
pub(super) struct DropIn {
    /// The directory followed; `None` when not in development mode.
    pub(super) plugins_dir: Option<Utf8PathBuf>,
    pub(super) check: CheckOptions,
    /// How files are probed in a child process first, when they are.
    pub(super) probe: Option<crate::inspect::InspectOptions>,
    pub(super) resolve: ResolveOptions,
    /// Every library loaded since the start, replaced ones included.
    pub(super) libraries_loaded: u64,
    /// Libraries stopped since the start, whose code stays mapped.
    pub(super) libraries_retired: u64,
    /// The process's resident memory once the first generation served.
    pub(super) resident_at_start: Option<u64>,
    /// Why the latest change of each file was refused, until one passes.
    pub(super) refused: BTreeMap<Utf8PathBuf, String>,
}

/// What a change of a plugin file did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileChange {
    /// A new file's plugins started.
    Loaded(Vec<String>),
    /// A replaced file's plugins, and the plugins depending on them, now
    /// serve in a new generation.
    Reloaded(Vec<String>),
    /// A removed file's plugins stopped.
    Stopped(Vec<String>),
    /// The file's content is what already runs, or it is not followed.
    Unchanged,
}

/// Why a change of a plugin file was refused; what ran before goes on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}: the change was refused and the running plugins kept: {reason}")]
pub struct FileChangeError {
    /// The plugin file.
    pub file: Utf8PathBuf,
    /// Why.
    pub reason: String,
}

impl RunningBackend {
    /// Waits for the next batch of changed plugin files and applies each
    /// change (see [`RunningBackend::apply_file_change`]); `None` when the
    /// plugins directory is not followed. Waiting is cancel safe; applying
    /// runs to its end.
    pub async fn follow_plugin_files(
        &mut self,
    ) -> Option<Vec<Result<FileChange, FileChangeError>>> {
        let files = self.plugin_changes.as_mut()?.recv().await?;
        let mut outcomes = Vec::new();
        for file in files {
            outcomes.push(self.apply_file_change(&file).await);
        }
        Some(outcomes)
    }

    /// Loads, reloads or stops the plugins of `file` as it now is on disk.
    ///
    /// # Errors
    ///
    /// Returns why the change was refused; the running plugins are kept.
    pub async fn apply_file_change(
        &mut self,
        file: &Utf8Path,
    ) -> Result<FileChange, FileChangeError> {
        let outcome = self.change(file).await;
        let path = discover::absolute(file).unwrap_or_else(|_| file.to_owned());
        match &outcome {
            Ok(change) => {
                if *change != FileChange::Unchanged {
                    tracing::info!(file = %path, ?change, "plugin file applied");
                }
                self.loaded.drop_in.refused.remove(&path);
            }
            Err(error) => {
                tracing::error!("{error}");
                self.loaded
                    .drop_in
                    .refused
                    .insert(path, error.reason.clone());
            }
        }
        self.publish_generations();
        outcome
    }

    async fn change(&mut self, file: &Utf8Path) -> Result<FileChange, FileChangeError> {
        let refuse = |reason: String| FileChangeError {
            file: file.to_owned(),
            reason,
        };
        let path = discover::absolute(file).map_err(|error| refuse(error.to_string()))?;
        let index = self
            .loaded
            .libraries
            .iter()
            .position(|old| old.path == path);
        if !path.as_std_path().exists() {
            return match index {
                Some(index) => self.remove_library(index).await.map_err(refuse),
                None => Ok(FileChange::Unchanged),
            };
        }
        let checked = check::check(&path, &self.loaded.drop_in.check)
            .map_err(|error| refuse(error.to_string()))?;
        let running_sha = self
            .loaded
            .reports
            .iter()
            .find(|report| report.file == path && !report.is_refused())
            .and_then(|report| report.sha256.clone());
        if index.is_some() && running_sha.as_deref() == Some(checked.sha256.as_str()) {
            return Ok(FileChange::Unchanged);
        }
        drop(checked);
        self.load_library(&path, index).await.map_err(refuse)
    }

    /// Loads `path` as a new library, or as the next generation of the
    /// library at `index`.
    async fn load_library(
        &mut self,
        path: &Utf8Path,
        index: Option<usize>,
    ) -> Result<FileChange, String> {
        let mut claims = pipeline::Claims::default();
        for (position, library) in self.loaded.libraries.iter().enumerate() {
            if Some(position) != index {
                let _ = claims.claim(ids(library), &library.path);
            }
        }
        let drop_in = &self.loaded.drop_in;
        let (report, library) = pipeline::start_file(
            path,
            drop_in.probe.as_ref(),
            &drop_in.check,
            &self.loaded.selection,
            &self.loaded.private,
            &mut claims,
        );
        if library.is_some() || report.is_refused() && report.features.is_some() {
            self.loaded.drop_in.libraries_loaded += 1;
        }
        let Some(library) = library else {
            return Err(report.status_line());
        };
        let plugins = plugin_ids(&library);
        if let Some(old) = index.map(|index| &self.loaded.libraries[index]) {
            let old_plugins = plugin_ids(old);
            if old_plugins != plugins {
                return Err(format!(
                    "the new file provides plugins [{}] but the running one [{}]; a reload \
                     keeps the plugin ids, so restart the host to change them",
                    plugins.join(", "),
                    old_plugins.join(", ")
                ));
            }
        }

        self.fit_config(&library)?;

        let mut libraries: Vec<&Library> = self.loaded.libraries.iter().collect();
        match index {
            Some(index) => libraries[index] = &library,
            None => libraries.push(&library),
        }
        let plan = self.resolve(&libraries)?;
        let (roots, declared) = entry_points(libraries);
        let changed = library
            .features
            .plugins
            .iter()
            .map(|plugin| plugin.id.clone())
            .chain(library.features.modules.iter().map(|m| m.plugin_id.clone()))
            .filter(|id| plan.plugins.contains_key(id))
            .collect::<BTreeSet<_>>();
        let next = NextGeneration {
            plan,
            roots,
            declared,
            changed,
        };
        let drain = self.http.options.drain_timeout;
        let started = self.initialized.next_generation(next, drain).await?;
        let started = started.iter().map(ToString::to_string).collect();

        self.loaded.reports.retain(|old| old.file != path);
        self.loaded.reports.push(report);
        let change = match index {
            Some(index) => {
                let old = std::mem::replace(&mut self.loaded.libraries[index], library);
                stop_library(old).await;
                self.loaded.drop_in.libraries_retired += 1;
                FileChange::Reloaded(started)
            }
            None => {
                self.loaded.libraries.push(library);
                FileChange::Loaded(started)
            }
        };
        Ok(change)
    }

    /// Stops the plugins of the library at `index`, whose file was removed.
    /// Plugins of other files that it added modules to are initialized
    /// again without them first, while the modules' code still runs.
    async fn remove_library(&mut self, index: usize) -> Result<FileChange, String> {
        let remaining: Vec<&Library> = self
            .loaded
            .libraries
            .iter()
            .enumerate()
            .filter(|(position, _)| *position != index)
            .map(|(_, library)| library)
            .collect();
        let plan = self.resolve(&remaining)?;
        let removed = &self.loaded.libraries[index];
        let plugins = plugin_ids(removed);
        let extended: BTreeSet<PluginId> = removed
            .features
            .modules
            .iter()
            .map(|module| module.plugin_id.clone())
            .filter(|id| plan.plugins.contains_key(id))
            .collect();
        let drain = self.http.options.drain_timeout;
        if !extended.is_empty() {
            let (roots, declared) = entry_points(remaining);
            let next = NextGeneration {
                plan: plan.clone(),
                roots,
                declared,
                changed: extended,
            };
            self.initialized.next_generation(next, drain).await?;
        }
        self.initialized.remove(&plugins, plan, drain).await;
        let old = self.loaded.libraries.remove(index);
        self.loaded.reports.retain(|report| report.file != old.path);
        stop_library(old).await;
        self.loaded.drop_in.libraries_retired += 1;
        Ok(FileChange::Stopped(plugins))
    }

    /// Checks the running configuration against the schemas of `library`'s
    /// plugins, which may differ from the running ones; when it fits, they
    /// replace them and the plugins' slices are made anew.
    fn fit_config(&self, library: &Library) -> Result<(), String> {
        let mut live = crate::reload::live(&self.loaded.live_config);
        let Some(config) = live.config.clone() else {
            return Ok(());
        };
        let mut schemas = live.schemas.clone();
        for plugin in &library.features.plugins {
            let schema = plugin.config_schema.clone();
            match schemas
                .iter_mut()
                .find(|(id, _)| id.as_str() == plugin.id.as_str())
            {
                Some(slot) => slot.1 = schema,
                None => schemas.push((plugin.id.to_string(), schema)),
            }
        }
        let checked = configure::check(&config, &schemas, &self.loaded.selection);
        let errors = checked.errors(self.loaded.strict_config);
        if !errors.is_empty() {
            return Err(format!(
                "the running configuration does not fit the new file's schema: {}",
                errors.join("; ")
            ));
        }
        let slices = configure::slices(Some(&checked.config), &schemas, &self.loaded.overrides);
        self.loaded.configs.replace(slices);
        live.schemas = schemas;
        Ok(())
    }

    /// The plan of `libraries`, or every problem in one line each.
    fn resolve(&self, libraries: &[&Library]) -> Result<resolve::Plan, String> {
        super::resolve_libraries(libraries.iter().copied(), self.loaded.drop_in.resolve).map_err(
            |problems| {
                let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
                format!(
                    "the plugins would not resolve together: {}",
                    lines.join("; ")
                )
            },
        )
    }

    /// What old generations cost: libraries are never unloaded, so each
    /// retired one keeps its code, and whatever its plugins leaked, mapped.
    /// The growth of resident memory since the first generation served,
    /// shared out over the retired libraries, estimates that cost.
    fn memory(&self) -> serde_json::Value {
        let drop_in = &self.loaded.drop_in;
        let resident = crate::platform::resident_bytes();
        let per_retired = match (resident, drop_in.resident_at_start) {
            (Some(now), Some(start)) if drop_in.libraries_retired > 0 => {
                Some(now.saturating_sub(start) / drop_in.libraries_retired)
            }
            _ => None,
        };
        serde_json::json!({
            "resident_bytes": resident,
            "resident_bytes_at_start": drop_in.resident_at_start,
            "libraries_retired": drop_in.libraries_retired,
            "growth_per_retired_library_bytes": per_retired,
        })
    }

    /// Shows every plugin's generation, the loaded libraries and refused
    /// changes on the instance endpoint.
    pub(super) fn publish_generations(&self) {
        let libraries: Vec<serde_json::Value> = self
            .loaded
            .reports
            .iter()
            .map(|report| serde_json::to_value(report).unwrap_or_default())
            .collect();
        let refused: BTreeMap<String, &String> = self
            .loaded
            .drop_in
            .refused
            .iter()
            .map(|(file, reason)| (file.to_string(), reason))
            .collect();
        self.http.update_instance([
            ("libraries", serde_json::json!(libraries)),
            ("startup", serde_json::json!(self.initialized.report)),
            (
                "generations",
                serde_json::json!(self.http.routes.generations()),
            ),
            (
                "libraries_loaded",
                serde_json::json!(self.loaded.drop_in.libraries_loaded),
            ),
            ("refused_changes", serde_json::json!(refused)),
            ("memory", self.memory()),
        ]);
    }
}

/// Stops a library none of whose plugins runs any more: its runtime and
/// threads. Its code stays mapped; libraries are never unloaded.
async fn stop_library(library: Library) {
    let Some(shutdown) = library.root.shutdown() else {
        return;
    };
    let stopped = tokio::task::spawn_blocking(move || shutdown()).await;
    if !matches!(stopped, Ok(abi_stable::std_types::RResult::ROk(()))) {
        tracing::error!(file = %library.path, "the replaced library's shutdown failed");
    }
}

fn plugin_ids(library: &Library) -> Vec<String> {
    let mut ids: Vec<String> = library
        .features
        .plugins
        .iter()
        .map(|plugin| plugin.id.to_string())
        .collect();
    ids.sort();
    ids
}

fn ids(library: &Library) -> Vec<String> {
    let modules: Vec<(String, String)> = library
        .features
        .modules
        .iter()
        .map(|module| (module.plugin_id.to_string(), module.module_id.to_string()))
        .collect();
    pipeline::ids_of(&plugin_ids(library), &modules)
}
