//! The embedding API: choose plugins, load and resolve them, start, stop.
//!
//! ```no_run
//! use greenroom_host::Backend;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let backend = Backend::new().plugins_dir("plugins").load()?.start().await?;
//! println!("{}", serde_json::to_string(backend.report())?);
//! backend.stop().await;
//! # Ok(())
//! # }
//! ```

pub(crate) mod configure;
mod pipeline;
mod running;

use std::{collections::BTreeMap, time::Duration};

use camino::Utf8PathBuf;
use greenroom_contract::PluginModuleRef;

pub(crate) use pipeline::{Claims, describe, ids_of};
pub use running::{FileChange, FileChangeError, LoadedBackend, RunningBackend, StartError};

use crate::{
    check::CheckOptions,
    config::{Config, ConfigErrors, ConfigLoader, HostSettings, PluginSelection},
    discover::{self, DiscoverError},
    initialize::InitOptions,
    load::{LoadError, PrivateDir, RootModule},
    register::Features,
    report::{LibraryReport, Stage},
    resolve::{HostService, ResolveOptions},
    serve::HttpOptions,
};

/// Why a backend could not load at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The plugins directory could not be scanned.
    #[error(transparent)]
    Discover(#[from] DiscoverError),
    /// The private directory for library copies could not be created.
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// A backend being configured; [`Backend::load`] loads it.
pub struct Backend {
    plugins_dir: Option<Utf8PathBuf>,
    files: Vec<Utf8PathBuf>,
    check: CheckOptions,
    private_base: Utf8PathBuf,
    statics: Vec<(String, RootModule)>,
    resolve: ResolveOptions,
    init: InitOptions,
    config: BTreeMap<String, serde_json::Value>,
    app_config: Option<Config>,
    strict_config: bool,
    watch: Option<ConfigLoader>,
    watch_plugins: bool,
    selection: PluginSelection,
    http: HttpOptions,
    listen: bool,
    routes: Vec<(String, axum::Router, Vec<String>)>,
    clock: std::sync::Arc<dyn crate::services::Clock>,
    endpoints: BTreeMap<String, String>,
    probe: Option<(Utf8PathBuf, Duration)>,
    database: crate::services::DatabaseClient,
}

impl Default for Backend {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend {
    /// A backend that loads plugins from `plugins/` in the working directory.
    pub fn new() -> Self {
        let temp = std::env::temp_dir();
        Self {
            plugins_dir: Some(Utf8PathBuf::from("plugins")),
            files: Vec::new(),
            check: CheckOptions::default(),
            private_base: Utf8PathBuf::from_path_buf(temp).unwrap_or_else(|_| "/tmp".into()),
            statics: Vec::new(),
            resolve: ResolveOptions::default(),
            init: InitOptions::default(),
            config: BTreeMap::new(),
            app_config: None,
            strict_config: false,
            watch: None,
            watch_plugins: false,
            selection: PluginSelection::all(),
            http: HttpOptions::default(),
            listen: false,
            routes: Vec::new(),
            clock: std::sync::Arc::new(crate::services::SystemClock::default()),
            endpoints: BTreeMap::new(),
            probe: None,
            database: crate::services::DatabaseClient::default(),
        }
    }

    /// Loads each library in a child process (`program probe FILE`, the
    /// `greenroom` binary) before loading it here, within `timeout`: a
    /// library whose constructor crashes or hangs is refused instead of
    /// taking the host down. Costs a process start per file.
    pub fn probe_with(mut self, program: Utf8PathBuf, timeout: Duration) -> Self {
        self.probe = Some((program, timeout));
        self
    }

    /// Where plugins' databases live (by default one SQLite file per plugin
    /// under `data/`).
    pub fn database(mut self, client: crate::services::DatabaseClient) -> Self {
        self.database = client;
        self
    }

    /// How files are probed before loading, when they are.
    pub(crate) fn probe_options(&self) -> Option<crate::inspect::InspectOptions> {
        self.probe
            .as_ref()
            .map(|(program, timeout)| crate::inspect::InspectOptions {
                check: self.check.clone(),
                probe_program: program.clone(),
                timeout: *timeout,
            })
    }

    /// Reads the time for the host's services (the cache's expiry) from
    /// `clock`, such as a `ManualClock` a test moves.
    pub fn clock(mut self, clock: std::sync::Arc<dyn crate::services::Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Tells plugins that `plugin_id`'s routes are reached at `url` rather
    /// than on this host (discovery).
    pub fn discovery_endpoint(mut self, plugin_id: &str, url: &str) -> Self {
        self.endpoints
            .insert(plugin_id.to_string(), url.to_string());
        self
    }

    /// Serves an axum router linked into the host under `/api/<id>`, behind
    /// the same checks, limits and logging as a plugin's routes; requests
    /// below the `open_paths` prefixes need no credential. `id` must not be
    /// a loaded plugin's.
    pub fn route(mut self, id: &str, router: axum::Router, open_paths: &[&str]) -> Self {
        let open_paths = open_paths.iter().map(|path| path.to_string()).collect();
        self.routes.push((id.to_string(), router, open_paths));
        self
    }

    /// A backend configured by `config`: its host settings (see
    /// [`HostSettings`]) and each plugin's slice, checked against the
    /// plugin's schema before anything initializes.
    ///
    /// # Errors
    ///
    /// Returns every bad host setting (under `backend`) at once.
    pub fn from_config(config: Config) -> Result<Self, ConfigErrors> {
        let settings = HostSettings::from_config(&config)?;
        Ok(Self::new().settings(&settings).app_config(config))
    }

    /// Applies the host settings read from a configuration: plugins
    /// directory (when set), HTTP limits and address (serving still needs
    /// [`Backend::listen`]), timeouts, orphan modules, plugin selection and
    /// failure policy. Later calls of the single setters win.
    pub fn settings(mut self, settings: &HostSettings) -> Self {
        if let Some(dir) = &settings.plugins_dir {
            self.plugins_dir = Some(dir.clone());
        }
        self.http = settings.http.clone();
        self.init.init_timeout = settings.init_timeout;
        self.init.hook_timeout = settings.hook_timeout;
        self.init.allow_failure = configure::failure_policy(settings.policy.clone());
        self.resolve.orphan_modules_are_errors = settings.orphan_modules_are_errors;
        self.selection = settings.selection.clone();
        self.database = settings.database.clone();
        self.check.pins = settings.pins.clone();
        self
    }

    /// Gives every plugin its slice of `config` (the value under its id),
    /// checked against its schema after registration: an error stops the
    /// start, naming file, line, key and rule. [`Backend::plugin_config`]
    /// wins over it for the plugins it names.
    pub fn app_config(mut self, config: Config) -> Self {
        self.app_config = Some(config);
        self
    }

    /// Makes keys no schema declares errors rather than warnings.
    pub fn strict_config(mut self, strict: bool) -> Self {
        self.strict_config = strict;
        self
    }

    /// Once started, watches the files `loader` reads and hands plugins
    /// each change that passes every check (see [`crate::reload`]); for
    /// development. The same loader should have made the configuration
    /// given to [`Backend::app_config`].
    pub fn watch_config(mut self, loader: ConfigLoader) -> Self {
        self.watch = Some(loader);
        self
    }

    /// Once started, watches the plugins directory and loads, reloads or
    /// stops a plugin when its file is added, replaced or removed (see
    /// [`RunningBackend::follow_plugin_files`]); for development.
    pub fn watch_plugins(mut self, watch: bool) -> Self {
        self.watch_plugins = watch;
        self
    }

    /// Loads only the plugins `selection` allows; a library none of whose
    /// plugins it allows is excluded after the check, before its code runs.
    pub fn selection(mut self, selection: PluginSelection) -> Self {
        self.selection = selection;
        self
    }

    /// Serves HTTP on `address` (port 0 picks a free port; see
    /// [`RunningBackend::http_address`]). Without it the host serves no
    /// socket, and [`RunningBackend::router`] answers in process.
    pub fn listen(mut self, address: std::net::SocketAddr) -> Self {
        self.http.listen = address;
        self.listen = true;
        self
    }

    /// Sets the HTTP server's limits and timeouts (the listen address is
    /// set by [`Backend::listen`]).
    pub fn http_options(mut self, options: HttpOptions) -> Self {
        let listen = self.http.listen;
        self.http = HttpOptions { listen, ..options };
        self
    }

    /// Loads plugin files from `dir` instead of `plugins/`.
    pub fn plugins_dir(mut self, dir: impl Into<Utf8PathBuf>) -> Self {
        self.plugins_dir = Some(dir.into());
        self
    }

    /// Loads no plugins directory; only files and static features added.
    pub fn no_plugins_dir(mut self) -> Self {
        self.plugins_dir = None;
        self
    }

    /// Also loads one library file, after those of the plugins directory.
    pub fn file(mut self, path: impl Into<Utf8PathBuf>) -> Self {
        self.files.push(path.into());
        self
    }

    /// Refuses library files larger than `bytes`.
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.check.max_file_size = bytes;
        self
    }

    /// Keeps private copies of libraries in a new directory inside `base`
    /// (by default the system's temporary directory). It must allow
    /// executable mappings.
    pub fn private_dir(mut self, base: impl Into<Utf8PathBuf>) -> Self {
        self.private_base = base.into();
        self
    }

    /// Adds a library linked into the host instead of loaded from a file,
    /// such as one made with `greenroom_sdk::root_module!`.
    pub fn add_static(mut self, name: &str, module: PluginModuleRef) -> Self {
        self.statics
            .push((name.to_string(), RootModule::Current(module)));
        self
    }

    /// Makes a module whose plugin is absent an error instead of a warning.
    pub fn orphan_modules_are_errors(mut self, errors: bool) -> Self {
        self.resolve.orphan_modules_are_errors = errors;
        self
    }

    /// Cuts off a plugin's or module's initialization after `timeout`.
    pub fn init_timeout(mut self, timeout: Duration) -> Self {
        self.init.init_timeout = timeout;
        self
    }

    /// Cuts off a lifecycle hook after `timeout`.
    pub fn hook_timeout(mut self, timeout: Duration) -> Self {
        self.init.hook_timeout = timeout;
        self
    }

    /// Decides which plugins and modules may fail without aborting the
    /// start (by default none may).
    pub fn failure_policy(mut self, allow: crate::initialize::FailurePolicy) -> Self {
        self.init.allow_failure = allow;
        self
    }

    /// Gives a plugin its configuration.
    pub fn plugin_config(mut self, plugin_id: &str, config: serde_json::Value) -> Self {
        self.config.insert(plugin_id.to_string(), config);
        self
    }

    /// Finds, checks, loads and registers every library, then resolves
    /// what they provide. Nothing initializes yet.
    ///
    /// A library that fails any stage is refused with a reason in its report
    /// and the others go on.
    ///
    /// # Errors
    ///
    /// Returns an error only when the plugins directory cannot be read or
    /// the private directory cannot be created.
    pub fn load(self) -> Result<LoadedBackend, BackendError> {
        let mut files = Vec::new();
        let mut reports = Vec::new();
        if let Some(dir) = &self.plugins_dir {
            let scan = discover::scan(dir)?;
            if scan.files.is_empty() {
                tracing::warn!(
                    "no plugin files (*.{}) in {dir}; build and install some with cargo xtask \
                     build-plugins",
                    crate::platform::LIBRARY_EXTENSION
                );
            }
            files.extend(scan.files);
            reports.extend(scan.refused.into_iter().map(|error| {
                LibraryReport::refused(error.entry(), Stage::Discover, error.to_string())
            }));
        }
        for file in &self.files {
            files.push(discover::absolute(file)?);
        }

        let private = PrivateDir::create(&self.private_base)?;
        let probe = self
            .probe
            .as_ref()
            .map(|(program, timeout)| crate::inspect::InspectOptions {
                check: self.check.clone(),
                probe_program: program.clone(),
                timeout: *timeout,
            });
        let mut claims = Claims::default();
        let mut libraries = Vec::new();
        for (name, root) in &self.statics {
            let (report, library) =
                pipeline::start_static(name, *root, &self.selection, &mut claims);
            reports.push(report);
            libraries.extend(library);
        }
        for path in &files {
            let (report, library) = pipeline::start_file(
                path,
                probe.as_ref(),
                &self.check,
                &self.selection,
                &private,
                &mut claims,
            );
            if report.is_refused() {
                tracing::error!("{}", report.status_line());
            } else if report.is_excluded() {
                tracing::info!("{}", report.status_line());
            } else {
                tracing::info!(file = %path, "library loaded");
            }
            reports.push(report);
            libraries.extend(library);
        }
        self.warn_unmatched_pins(&files, &reports);
        Ok(LoadedBackend::new(reports, libraries, private, &self))
    }

    /// Warns of each integrity pin that names no file and no plugin here: a
    /// pin that matches nothing protects nothing.
    fn warn_unmatched_pins(&self, files: &[Utf8PathBuf], reports: &[LibraryReport]) {
        let mut names: std::collections::BTreeSet<String> = files
            .iter()
            .filter_map(|file| file.file_name().map(str::to_string))
            .collect();
        for features in reports.iter().filter_map(|report| report.features.as_ref()) {
            names.extend(features.plugins.iter().map(|plugin| plugin.id.to_string()));
        }
        for key in self.check.pins.unmatched(&names) {
            tracing::warn!(
                "backend.plugins.sha256 pins `{key}`, which names no plugin file and no plugin \
                 here; file names and ids match exactly, case included"
            );
        }
    }
}

/// The version of every service the host provides itself.
pub(crate) fn host_service_version() -> semver::Version {
    semver::Version::parse(greenroom_contract::HOST_SERVICE_VERSION)
        .expect("the contract's host service version is a version")
}

/// The services the host itself provides to every plugin.
pub fn host_services() -> Vec<HostService> {
    use crate::register::{FeatureId, ServiceScope};

    [
        ("core.config", ServiceScope::Plugin),
        ("core.lifecycle", ServiceScope::Plugin),
        ("core.logger", ServiceScope::Plugin),
        ("core.plugin-metadata", ServiceScope::Plugin),
        ("core.cache", ServiceScope::Plugin),
        ("core.discovery", ServiceScope::Plugin),
        ("core.database", ServiceScope::Plugin),
        ("core.scheduler", ServiceScope::Plugin),
    ]
    .into_iter()
    .map(|(id, scope)| HostService {
        id: FeatureId::parse("service id", id).expect("core service ids are valid"),
        version: host_service_version(),
        scope,
    })
    .collect()
}

/// A library that loaded and registered.
#[derive(Debug)]
pub struct Library {
    /// Where it was found, or `(static) name` for a linked-in library.
    pub path: Utf8PathBuf,
    /// Its entry points.
    pub root: RootModule,
    /// What it registered.
    pub features: Features,
}
