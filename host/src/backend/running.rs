//! A loaded backend, its start and its stop.

mod drop_in;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use abi_stable::std_types::RResult;
use greenroom_contract::INTERFACE_VERSION;
use tokio::sync::watch;

use drop_in::DropIn;
pub use drop_in::{FileChange, FileChangeError};

use super::{
    Backend, Library,
    configure::{self, CheckedConfig},
    host_services,
};
use crate::{
    config::{ConfigLoader, ConfigProblem, PluginSelection},
    initialize::{self, InitOptions, Initialized, PluginConfigs, StartupReport},
    load::PrivateDir,
    reload::{self, ConfigState, Reloader, Reloading, WatchError},
    report::LibraryReport,
    resolve::{self, Node, Plan, Problem, Source},
    serve::{self, HttpOptions, HttpState, Phase, Server},
    services::Discovery,
};

/// Why a loaded backend did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration breaks the host's or a plugin's schema; nothing was
    /// initialized.
    #[error("the configuration is invalid:\n{}", list(.0))]
    Config(Vec<ConfigProblem>),
    /// Resolution found problems; nothing was initialized.
    #[error("the plugins cannot start together:\n{}", list(.0))]
    Resolve(Vec<Problem>),
    /// Routes linked into the host claim a loaded plugin's id.
    #[error("the routes linked in as `{id}` would hide plugin `{id}`'s; give them another id")]
    RouteConflict {
        /// The id both claim.
        id: String,
    },
    /// The configuration files could not be watched.
    #[error("cannot watch the configuration files: {0}")]
    Watch(#[from] WatchError),
    /// The HTTP server could not listen.
    #[error("cannot listen on {address}: {error}; choose another address")]
    Listen {
        /// The address.
        address: std::net::SocketAddr,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// A plugin or module failed and the failure policy says abort; what
    /// did start has been shut down again.
    #[error("startup aborted: {}", aborted(report))]
    Aborted {
        /// What happened to every plugin and module.
        report: Box<StartupReport>,
        /// What failed while shutting down what had started.
        stop_failures: Vec<String>,
    },
}

fn list(problems: &[impl std::fmt::Display]) -> String {
    let lines: Vec<String> = problems
        .iter()
        .map(|problem| format!("  {problem}"))
        .collect();
    lines.join("\n")
}

fn aborted(report: &StartupReport) -> String {
    let causes: Vec<String> = report
        .plugins
        .iter()
        .filter(|plugin| plugin.aborts())
        .map(|plugin| {
            let module = plugin.modules.iter().find(|module| module.error.is_some());
            match (&plugin.error, module) {
                (Some(error), _) => format!("plugin `{}`: {error}", plugin.plugin_id),
                (None, Some(module)) => format!(
                    "module `{}/{}`: {}",
                    plugin.plugin_id,
                    module.module_id,
                    module.error.as_deref().unwrap_or_default()
                ),
                (None, None) => format!("plugin `{}`", plugin.plugin_id),
            }
        })
        .collect();
    causes.join("; ")
}

/// Resolves the features of `libraries` against the host's services.
pub(super) fn resolve_libraries<'a>(
    libraries: impl Iterator<Item = &'a Library>,
    options: resolve::ResolveOptions,
) -> Result<Plan, Vec<Problem>> {
    let libraries: Vec<&Library> = libraries.collect();
    let origins: Vec<String> = libraries
        .iter()
        .map(|library| library.path.to_string())
        .collect();
    let sources: Vec<Source<'_>> = libraries
        .iter()
        .zip(&origins)
        .map(|(library, origin)| Source {
            origin,
            features: &library.features,
        })
        .collect();
    resolve::resolve(&sources, &host_services(), options)
}

/// Libraries loaded and resolved, not yet initialized.
pub struct LoadedBackend {
    reports: Vec<LibraryReport>,
    libraries: Vec<Library>,
    private: PrivateDir,
    resolution: Result<Plan, Vec<Problem>>,
    init: InitOptions,
    checked: Option<CheckedConfig>,
    /// The configuration and schemas as they stand while running.
    live_config: reload::SharedConfig,
    strict_config: bool,
    watch: Option<ConfigLoader>,
    drop_in: DropIn,
    selection: PluginSelection,
    overrides: BTreeMap<String, serde_json::Value>,
    configs: Arc<PluginConfigs>,
    http: HttpOptions,
    listen: bool,
    routes: Vec<(String, axum::Router, Vec<String>)>,
    clock: Arc<dyn crate::services::Clock>,
    endpoints: BTreeMap<String, String>,
    database: crate::services::DatabaseClient,
}

impl LoadedBackend {
    pub(super) fn new(
        reports: Vec<LibraryReport>,
        libraries: Vec<Library>,
        private: PrivateDir,
        backend: &Backend,
    ) -> Self {
        let resolution = resolve_libraries(libraries.iter(), backend.resolve);
        match &resolution {
            Ok(plan) => plan
                .warnings
                .iter()
                .for_each(|warning| tracing::warn!("{warning}")),
            Err(problems) => problems
                .iter()
                .for_each(|problem| tracing::error!("{problem}")),
        }
        let schemas = configure::schemas(&libraries);
        let libraries_loaded = libraries.len() as u64;
        let checked = backend
            .app_config
            .as_ref()
            .map(|config| configure::check(config, &schemas, &backend.selection));
        for problem in checked.iter().flat_map(|checked| &checked.problems) {
            if problem.is_error(backend.strict_config) {
                tracing::error!("{problem}");
            } else {
                tracing::warn!("{problem}");
            }
        }
        let config = checked.as_ref().map(|checked| &checked.config);
        let slices = configure::slices(config, &schemas, &backend.config);
        Self {
            reports,
            libraries,
            private,
            resolution,
            init: backend.init.clone(),
            live_config: Arc::new(std::sync::Mutex::new(reload::LiveConfig {
                config: checked.as_ref().map(|checked| checked.config.clone()),
                schemas,
            })),
            checked,
            strict_config: backend.strict_config,
            watch: backend.watch.clone(),
            drop_in: DropIn {
                plugins_dir: backend
                    .plugins_dir
                    .clone()
                    .filter(|_| backend.watch_plugins),
                check: backend.check.clone(),
                probe: backend.probe_options(),
                resolve: backend.resolve,
                libraries_loaded,
                libraries_retired: 0,
                resident_at_start: None,
                refused: BTreeMap::new(),
            },
            selection: backend.selection.clone(),
            overrides: backend.config.clone(),
            configs: Arc::new(PluginConfigs::new(slices)),
            http: backend.http.clone(),
            listen: backend.listen,
            routes: backend.routes.clone(),
            clock: backend.clock.clone(),
            endpoints: backend.endpoints.clone(),
            database: backend.database.clone(),
        }
    }

    /// Every way the configuration breaks the host's or a loaded plugin's
    /// schema, warnings included; empty without a configuration.
    pub fn config_problems(&self) -> &[ConfigProblem] {
        self.checked
            .as_ref()
            .map_or(&[], |checked| checked.problems.as_slice())
    }

    /// The configuration problems that stop the start.
    pub fn config_errors(&self) -> Vec<ConfigProblem> {
        self.config_problems()
            .iter()
            .filter(|problem| problem.is_error(self.strict_config))
            .cloned()
            .collect()
    }

    /// What became of every library, in load order.
    pub fn reports(&self) -> &[LibraryReport] {
        &self.reports
    }

    /// The libraries that loaded and registered.
    pub fn libraries(&self) -> &[Library] {
        &self.libraries
    }

    /// Whether any library was refused.
    pub fn any_refused(&self) -> bool {
        self.reports.iter().any(LibraryReport::is_refused)
    }

    /// The plan, or every problem that prevents one.
    pub fn resolution(&self) -> Result<&Plan, &[Problem]> {
        self.resolution.as_ref().map_err(Vec::as_slice)
    }

    /// The features of every library, for drawing the graph.
    pub fn sources(&self) -> Vec<(String, &crate::register::Features)> {
        self.libraries
            .iter()
            .map(|library| (library.path.to_string(), &library.features))
            .collect()
    }

    /// Initializes every plugin and module in the plan.
    ///
    /// # Errors
    ///
    /// Returns the configuration's errors, or the resolution problems when
    /// there is no plan, and the startup report when a failure the policy
    /// does not allow happened (all plugins settle first, and what started is
    /// shut down again).
    pub async fn start(self) -> Result<RunningBackend, StartError> {
        let config_errors = self.config_errors();
        if !config_errors.is_empty() {
            return Err(StartError::Config(config_errors));
        }
        let plan = match &self.resolution {
            Ok(plan) => plan.clone(),
            Err(problems) => return Err(StartError::Resolve(problems.clone())),
        };
        let (roots, declared) = entry_points(&self.libraries);
        if let Some((id, ..)) = self
            .routes
            .iter()
            .find(|(id, ..)| plan.plugins.contains_key(id.as_str()))
        {
            return Err(StartError::RouteConflict { id: id.clone() });
        }
        let http = HttpState::new(self.http.clone());
        for (id, router, open_paths) in &self.routes {
            http.routes.native(id, router.clone(), open_paths.clone());
        }
        http.set_instance(instance(&self.reports, None));
        let server = if self.listen {
            let address = self.http.listen;
            let server = Server::start(http.clone())
                .await
                .map_err(|error| StartError::Listen { address, error })?;
            Some(server)
        } else {
            None
        };
        let listening = server.as_ref().map_or(self.http.listen, Server::address);
        let core = initialize::CoreServices {
            cache: Arc::default(),
            discovery: Arc::new(Discovery {
                base: format!("http://{listening}/api"),
                endpoints: self.endpoints.clone(),
            }),
            scheduler: crate::services::Scheduler::new(self.clock.clone(), self.init.hook_timeout),
            database: Arc::new(self.database.clone()),
            clock: self.clock.clone(),
        };
        let features = initialize::Features {
            roots,
            declared,
            config: self.configs.clone(),
            routes: http.routes.clone(),
            core,
        };
        let initialized = initialize::initialize(&plan, features, self.init.clone()).await;
        http.set_instance(instance(&self.reports, Some(&initialized.report)));

        let (state, _) = watch::channel(ConfigState::default());
        let mut running = RunningBackend {
            loaded: self,
            initialized,
            http,
            server,
            config_state: state,
            reloading: None,
            plugin_changes: None,
        };
        running.loaded.drop_in.resident_at_start = crate::platform::resident_bytes();
        running.publish_generations();
        if running.initialized.report.ok {
            running.http.routes.set_phase(Phase::Ready);
            let config = running
                .loaded
                .watch
                .clone()
                .map(|loader| running.reloader(loader));
            let plugins = running.loaded.drop_in.plugins_dir.clone().map(|directory| {
                let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
                running.plugin_changes = Some(receiver);
                (directory, sender)
            });
            if config.is_some() || plugins.is_some() {
                match reload::watch(config, plugins) {
                    Ok(reloading) => running.reloading = Some(reloading),
                    Err(error) => {
                        let _ = running.stop().await;
                        return Err(error.into());
                    }
                }
            }
            return Ok(running);
        }
        let report = Box::new(running.initialized.report.clone());
        let stop_failures = running.stop().await;
        Err(StartError::Aborted {
            report,
            stop_failures,
        })
    }
}

/// What the instance endpoint reports: the host, every library file and
/// every plugin's startup.
fn instance(reports: &[LibraryReport], startup: Option<&StartupReport>) -> serde_json::Value {
    let libraries: Vec<serde_json::Value> = reports
        .iter()
        .map(|report| serde_json::to_value(report).unwrap_or_default())
        .collect();
    serde_json::json!({
        "host": { "version": env!("CARGO_PKG_VERSION"), "interface": INTERFACE_VERSION },
        "libraries": libraries,
        "startup": startup,
    })
}

/// A started backend.
pub struct RunningBackend {
    loaded: LoadedBackend,
    initialized: Initialized,
    http: Arc<HttpState>,
    server: Option<Server>,
    config_state: watch::Sender<ConfigState>,
    reloading: Option<Reloading>,
    plugin_changes: Option<
        tokio::sync::mpsc::UnboundedReceiver<std::collections::BTreeSet<camino::Utf8PathBuf>>,
    >,
}

/// The entry point and declaration of every plugin and module of
/// `libraries`.
fn entry_points<'a>(
    libraries: impl IntoIterator<Item = &'a Library>,
) -> (
    BTreeMap<Node, crate::load::RootModule>,
    BTreeMap<Node, crate::register::FeatureSet>,
) {
    let mut roots = BTreeMap::new();
    let mut declared = BTreeMap::new();
    for library in libraries {
        for plugin in &library.features.plugins {
            let node = Node::Plugin(plugin.id.clone());
            roots.insert(node.clone(), library.root);
            declared.insert(node, plugin.features.clone());
        }
        for module in &library.features.modules {
            let node = Node::Module(module.plugin_id.clone(), module.module_id.clone());
            roots.insert(node.clone(), library.root);
            declared.insert(node, module.features.clone());
        }
    }
    (roots, declared)
}

impl RunningBackend {
    /// Follows the configuration while it runs: how many changes were
    /// published, and why the latest one was refused.
    pub fn config_state(&self) -> watch::Receiver<ConfigState> {
        self.config_state.subscribe()
    }

    fn reloader(&self, loader: ConfigLoader) -> Reloader {
        let loaded = &self.loaded;
        Reloader {
            loader,
            selection: loaded.selection.clone(),
            strict: loaded.strict_config,
            overrides: loaded.overrides.clone(),
            configs: loaded.configs.clone(),
            hook_timeout: loaded.init.hook_timeout,
            state: self.config_state.clone(),
            http: self.http.clone(),
            live: loaded.live_config.clone(),
        }
    }

    /// What happened to every plugin and module at startup.
    pub fn report(&self) -> &StartupReport {
        &self.initialized.report
    }

    /// What became of every library file.
    pub fn reports(&self) -> &[LibraryReport] {
        self.loaded.reports()
    }

    /// Shuts one plugin down and initializes it and its modules again inside
    /// the libraries already loaded (what a reload of something it depends
    /// on needs); returns its new result.
    ///
    /// # Errors
    ///
    /// Returns an error when the plugin is not running here.
    pub async fn restart_plugin(
        &mut self,
        plugin_id: &str,
    ) -> Result<crate::initialize::PluginResult, String> {
        self.initialized.restart(plugin_id).await
    }

    /// The address the HTTP server listens on, if it was asked to.
    pub fn http_address(&self) -> Option<std::net::SocketAddr> {
        self.server.as_ref().map(Server::address)
    }

    /// The host's HTTP routes, to call in process without a socket.
    pub fn router(&self) -> axum::Router {
        serve::router(self.http.clone())
    }

    /// Stops taking plugin requests (readiness fails) and lets those in
    /// flight finish within the drain timeout; runs every shutdown hook,
    /// then stops every library (its threads and runtimes), last loaded
    /// first; then closes the server. Returns the failures.
    pub async fn stop(self) -> Vec<String> {
        let Self {
            loaded,
            initialized,
            http,
            server,
            reloading,
            ..
        } = self;
        drop(reloading);
        serve::drain(&http).await;
        let mut failures = initialized.shut_down().await;
        for library in loaded.libraries.iter().rev() {
            let Some(shutdown) = library.root.shutdown() else {
                tracing::debug!(file = %library.path, "library has no shutdown entry point");
                continue;
            };
            let path = library.path.clone();
            let stopped = tokio::task::spawn_blocking(move || shutdown()).await;
            match stopped {
                Ok(RResult::ROk(())) => {}
                Ok(RResult::RErr(error)) => {
                    tracing::error!(file = %path, %error, "library shutdown failed");
                    failures.push(format!("{path}: shutdown failed: {error}"));
                }
                Err(error) => failures.push(format!("{path}: shutdown failed: {error}")),
            }
        }
        drop(loaded.private);
        if let Some(server) = server {
            server.stop(Duration::from_secs(1)).await;
        }
        failures
    }
}
