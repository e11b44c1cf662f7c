//! What a plugin or module sees of the host while it initializes.

use std::{
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use abi_stable::{
    sabi_trait::TD_Opaque,
    std_types::{RBox, RResult, RString, RVec},
};
use async_ffi::{FfiFuture, FutureExt as _};
use greenroom_contract::{
    CACHE_SERVICE, CacheServiceBox, ConfigOrigin, DATABASE_SERVICE, DISCOVERY_SERVICE,
    DatabaseServiceBox, DiscoveryServiceBox, ErrorCode, HostBox, PluginError, RootMoment,
    TaskSchedule,
    host::{ConfigSubscriber, ConfigSubscriber_TO, Hook_TO, Task_TO},
    http::HttpHandlerBox,
};

use crate::{Config, Error, init};

/// The host, as one initializing plugin or module sees it.
#[derive(Clone)]
pub struct Context {
    host: HostBox,
}

impl Context {
    pub(crate) fn new(host: HostBox) -> Self {
        Self { host }
    }

    pub(crate) fn host(&self) -> &HostBox {
        &self.host
    }

    /// The id of the plugin (for a module, of the plugin it extends).
    pub fn plugin_id(&self) -> String {
        self.host.plugin_id().into_string()
    }

    /// The module's id, or `None` for a plugin.
    pub fn module_id(&self) -> Option<String> {
        Some(self.host.module_id().into_string()).filter(|id| !id.is_empty())
    }

    /// The plugin's configuration as JSON text: the app config's value under
    /// the plugin's id, `null` when there is none.
    pub fn config_json(&self) -> String {
        self.host.config().into_string()
    }

    /// The plugin's configuration, with typed access by dotted key:
    /// `context.config().number("refresh.interval")`. Errors name the full
    /// key and the file and line the value came from.
    pub fn config(&self) -> Config {
        let json = self.host.config();
        let origins = self.host.config_origins();
        Config::from_host(&self.plugin_id(), json.as_str(), &origins)
    }

    /// Runs `subscriber` with the plugin's new configuration each time it
    /// changes while the host runs (in development mode, when a
    /// configuration file changes and passes every check). It runs on the
    /// library's executor with panics caught; an error it returns is
    /// logged and the host goes on.
    pub fn on_config_change<F, Fut>(&self, subscriber: F)
    where
        F: Fn(Config) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        let subscriber = Subscriber {
            callback: Arc::new(subscriber),
            host: self.host.clone(),
        };
        self.host
            .on_config_change(ConfigSubscriber_TO::from_value(subscriber, TD_Opaque));
    }

    /// Where the plugin keeps its database: its own SQLite file (the
    /// default) or its own schema in PostgreSQL. The plugin opens it with
    /// the client library it prefers. A plugin that declared
    /// `depends_on_service("core.database", "^1")` asks whoever provides
    /// that service: the host, or a plugin in its place or around it.
    ///
    /// # Errors
    ///
    /// Returns the reason when the database cannot be prepared.
    pub fn database(&self) -> Result<Database, Error> {
        let settings = match self.declared_service::<DatabaseServiceBox>(DATABASE_SERVICE, "^1")? {
            Some(service) => service.database(self.host.plugin_id()),
            None => self.host.database(),
        };
        match settings {
            RResult::ROk(settings) => Ok(Database {
                client: settings.client.into_string(),
                connection: settings.connection.into_string(),
                schema: settings.schema.into_string(),
            }),
            RResult::RErr(error) => Err(Error::msg(error.message)),
        }
    }

    /// What this host runs, as JSON: `{"plugins": [{"id", "version",
    /// "modules": [...]}]}` (Backstage's instance metadata).
    pub fn instance_json(&self) -> String {
        self.host.instance().into_string()
    }

    /// The plugin's cache: one namespace per plugin, entries with a time to
    /// live, kept by the host (so they survive the plugin's reloads). A
    /// plugin that declared `depends_on_service("core.cache", "^1")` gets
    /// whoever provides that service: the host, or a plugin in its place or
    /// around it.
    pub fn cache(&self) -> Cache {
        let service = match self.declared_service::<CacheServiceBox>(CACHE_SERVICE, "^1") {
            Ok(cache) => cache.map(|cache| (cache, self.host.plugin_id())),
            Err(error) => {
                tracing::error!("{error}; the plugin uses the host's own cache instead");
                None
            }
        };
        Cache {
            host: self.host.clone(),
            service,
        }
    }

    /// Runs `task` every `period` (the first time after `period` too) until
    /// the plugin shuts down; a run still going when the next falls due is
    /// not started twice.
    ///
    /// # Errors
    ///
    /// Returns the host's reason when the schedule is not valid.
    pub fn schedule_every<F, Fut>(&self, id: &str, period: Duration, task: F) -> Result<(), Error>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        let every_ms = u64::try_from(period.as_millis()).unwrap_or(u64::MAX).max(1);
        self.schedule(id, every_ms, "", every_ms, task)
    }

    /// Runs `task` on a cron pattern (`*/5 * * * *`: minute, hour, day of
    /// month, month, day of week; a leading seconds field is allowed),
    /// evaluated in UTC, until the plugin shuts down.
    ///
    /// # Errors
    ///
    /// Returns the host's reason when the pattern is not valid.
    pub fn schedule_cron<F, Fut>(&self, id: &str, pattern: &str, task: F) -> Result<(), Error>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.schedule(id, 0, pattern, 0, task)
    }

    fn schedule<F, Fut>(
        &self,
        id: &str,
        every_ms: u64,
        cron: &str,
        delay_ms: u64,
        task: F,
    ) -> Result<(), Error>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        let schedule = TaskSchedule {
            id: id.into(),
            every_ms,
            cron: cron.into(),
            initial_delay_ms: delay_ms,
            timeout_ms: 0,
        };
        let body = Task_TO::from_value(
            ScheduledTask {
                task,
                host: self.host.clone(),
            },
            TD_Opaque,
        );
        match self.host.schedule(schedule, body) {
            RResult::ROk(()) => Ok(()),
            RResult::RErr(error) => Err(Error::msg(error.message)),
        }
    }

    /// The base URL of plugin `plugin_id`'s routes, such as
    /// `http://127.0.0.1:7007/api/catalog`. When the plugin that provides
    /// discovery fails, this logs why and answers the host's URL;
    /// [`Context::try_discovery_url`] returns the failure instead.
    pub fn discovery_url(&self, plugin_id: &str) -> String {
        self.try_discovery_url(plugin_id).unwrap_or_else(|error| {
            tracing::error!("{error}; using the host's own URL for plugin `{plugin_id}`");
            self.host.discovery_url(plugin_id.into()).into_string()
        })
    }

    /// The base URL of plugin `plugin_id`'s routes. A plugin that declared
    /// `depends_on_service("core.discovery", "^1")` asks whoever provides
    /// that service: the host, or a plugin in its place or around it.
    ///
    /// # Errors
    ///
    /// Returns the reason when the service cannot be had, or the plugin
    /// providing it fails.
    pub fn try_discovery_url(&self, plugin_id: &str) -> Result<String, Error> {
        match self.declared_service::<DiscoveryServiceBox>(DISCOVERY_SERVICE, "^1")? {
            Some(discovery) => match discovery.base_url(plugin_id.into()) {
                RResult::ROk(url) => Ok(url.into_string()),
                RResult::RErr(error) => Err(Error::msg(format!(
                    "discovery failed for plugin `{plugin_id}`: {}",
                    error.message
                ))),
            },
            None => Ok(self.host.discovery_url(plugin_id.into()).into_string()),
        }
    }

    /// Runs `hook` once this plugin and all its modules have initialized.
    /// An error it returns is logged; it does not fail the plugin.
    pub fn on_startup<F, Fut>(&self, hook: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.host.add_startup_hook(self.hook(hook));
    }

    /// Runs `hook` once every plugin of the host has started (Backstage's
    /// root lifecycle startup).
    pub fn on_root_startup<F, Fut>(&self, hook: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.host
            .add_root_hook(RootMoment::Startup, self.hook(hook));
    }

    /// Runs `hook` as soon as the host begins to shut down, before any
    /// plugin stops.
    pub fn on_before_shutdown<F, Fut>(&self, hook: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.host
            .add_root_hook(RootMoment::BeforeShutdown, self.hook(hook));
    }

    /// Runs `hook` after every plugin has stopped.
    pub fn on_root_shutdown<F, Fut>(&self, hook: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.host
            .add_root_hook(RootMoment::Shutdown, self.hook(hook));
    }

    /// Runs `hook` when the host shuts the plugin down.
    pub fn on_shutdown<F, Fut>(&self, hook: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.host.add_shutdown_hook(self.hook(hook));
    }

    /// Runs `future` on the library's executor with this feature's logger
    /// current and panics caught, for code the host calls later (service
    /// methods, HTTP handlers).
    pub fn spawn<T, F>(&self, future: F) -> FfiFuture<RResult<T, PluginError>>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, Error>> + Send + 'static,
    {
        let slot = Arc::new(Mutex::new(None));
        let writer = slot.clone();
        let run = init::run_guarded(self.host.clone(), move || async move {
            let value = future.await?;
            *writer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(value);
            Ok(())
        });
        async move {
            if let RResult::RErr(error) = run.await {
                return RResult::RErr(error);
            }
            let value = slot
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take();
            match value {
                Some(value) => RResult::ROk(value),
                None => RResult::RErr(PluginError::new(
                    ErrorCode::FAILED,
                    "the plugin's future finished without a value",
                )),
            }
        }
        .into_ffi()
    }

    /// Serves `handler` under `/api/<pluginId>` once the plugin has started;
    /// requests below the `open_paths` prefixes need no credential. The HTTP
    /// SDK (`greenroom-sdk-http`) calls this with an axum router.
    ///
    /// # Errors
    ///
    /// Returns the host's reason when a module calls it, or a plugin calls
    /// it twice.
    pub fn serve_http(&self, handler: HttpHandlerBox, open_paths: &[&str]) -> Result<(), Error> {
        let open_paths = open_paths.iter().map(|path| RString::from(*path)).collect();
        match self.host.serve_http(handler, open_paths) {
            RResult::ROk(()) => Ok(()),
            RResult::RErr(error) => Err(Error::msg(error.message)),
        }
    }

    fn hook<F, Fut>(&self, hook: F) -> greenroom_contract::HookBox
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        let host = self.host.clone();
        Hook_TO::from_ptr(RBox::new(OnceHook(Some((hook, host)))), TD_Opaque)
    }
}

/// Plugin code to run with each new configuration.
struct Subscriber<F> {
    callback: Arc<F>,
    host: HostBox,
}

impl<F, Fut> ConfigSubscriber for Subscriber<F>
where
    F: Fn(Config) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    fn changed(
        &self,
        config: RString,
        origins: RVec<ConfigOrigin>,
    ) -> FfiFuture<RResult<(), PluginError>> {
        let plugin_id = self.host.plugin_id();
        let config = Config::from_host(plugin_id.as_str(), config.as_str(), &origins);
        let callback = self.callback.clone();
        init::run_guarded(self.host.clone(), move || callback(config))
    }
}

/// A scheduled task's body as the host sees it.
struct ScheduledTask<F> {
    task: F,
    host: HostBox,
}

impl<F, Fut> greenroom_contract::host::Task for ScheduledTask<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    fn run(&self) -> FfiFuture<RResult<(), PluginError>> {
        init::run_guarded(self.host.clone(), || (self.task)())
    }
}

/// A plugin's database, as the host assigned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Database {
    /// `sqlite` or `postgres`.
    pub client: String,
    /// The SQLite file's path, or the PostgreSQL connection URL.
    pub connection: String,
    /// The PostgreSQL schema that is the plugin's alone; empty for SQLite.
    pub schema: String,
}

/// The plugin's namespace in the cache: through the host's handle, or
/// through service `core.cache` when this plugin declared a dependency on
/// it.
#[derive(Clone)]
pub struct Cache {
    host: HostBox,
    service: Option<(crate::Service<CacheServiceBox>, RString)>,
}

impl Cache {
    /// The bytes under `key`, unless absent or expired (or the cache
    /// service failed, which is logged).
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        match &self.service {
            Some((cache, namespace)) => cache
                .get(namespace.clone(), key.into())
                .into_result()
                .map_err(|error| tracing::warn!("the cache failed: {}", error.message))
                .ok()?
                .into_option()
                .map(RVec::into_vec),
            None => self
                .host
                .cache_get(key.into())
                .into_option()
                .map(RVec::into_vec),
        }
    }

    /// Stores `value` under `key` for `ttl`.
    pub fn set(&self, key: &str, value: &[u8], ttl: Duration) {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        match &self.service {
            Some((cache, namespace)) => {
                let stored = cache.set(namespace.clone(), key.into(), RVec::from(value), ttl_ms);
                if let RResult::RErr(error) = stored {
                    tracing::warn!("the cache failed: {}", error.message);
                }
            }
            None => self.host.cache_set(key.into(), RVec::from(value), ttl_ms),
        }
    }

    /// Removes `key`.
    pub fn delete(&self, key: &str) {
        match &self.service {
            Some((cache, namespace)) => {
                if let RResult::RErr(error) = cache.delete(namespace.clone(), key.into()) {
                    tracing::warn!("the cache failed: {}", error.message);
                }
            }
            None => self.host.cache_delete(key.into()),
        }
    }
}

/// A hook that runs its closure the first time, and does nothing after.
struct OnceHook<F>(Option<(F, HostBox)>);

impl<F, Fut> greenroom_contract::host::Hook for OnceHook<F>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    fn run(&mut self) -> FfiFuture<RResult<(), PluginError>> {
        match self.0.take() {
            Some((hook, host)) => init::run_guarded(host, hook),
            None => async { RResult::ROk(()) }.into_ffi(),
        }
    }
}
