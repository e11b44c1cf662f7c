//! What the host offers a plugin or module while it runs: its identity,
//! logging, configuration and lifecycle hooks.
//!
//! The host hands each initializing plugin and module its own [`HostBox`];
//! everything the feature asks of the host goes through it.

#![allow(
    non_local_definitions,
    reason = "abi_stable's sabi_trait expands to impl blocks inside constants"
)]

use abi_stable::{
    StableAbi,
    pointer_trait::TransmuteElement as _,
    sabi_trait,
    std_types::{RArc, RBox, ROption, RResult, RString, RVec, Tuple2},
    type_layout::TypeLayout,
};
use async_ffi::FfiFuture;

use crate::PluginError;

/// How much a log record matters, most severe first.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Nothing is logged.
    Off,
    /// Something failed.
    Error,
    /// Something is degraded.
    Warn,
    /// A lifecycle edge.
    Info,
    /// Detail for developers.
    Debug,
    /// Every step.
    Trace,
}

/// One log event from plugin code.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// How much it matters.
    pub level: LogLevel,
    /// The module path of the code that logged it.
    pub target: RString,
    /// The event's message.
    pub message: RString,
    /// The event's other fields, formatted.
    pub fields: RVec<Tuple2<RString, RString>>,
}

/// The host, as seen by one plugin or module.
#[sabi_trait]
pub trait HostApi: Send + Sync + Clone {
    /// The id of the plugin being run (or that the module extends).
    fn plugin_id(&self) -> RString;

    /// The module's id, or an empty string for the plugin itself.
    fn module_id(&self) -> RString;

    /// The most detailed level the host records; skip formatting the rest.
    fn max_log_level(&self) -> LogLevel;

    /// Records a log event in the host's log, tagged with the plugin.
    fn log(&self, record: LogRecord);

    /// The plugin's configuration (the app config's value under the plugin
    /// id) as JSON text; `null` when there is none.
    fn config(&self) -> RString;

    /// Runs `hook` once the plugin and all its modules have initialized.
    fn add_startup_hook(&self, hook: HookBox);

    /// Runs `hook` when the host shuts down, before the library is stopped.
    fn add_shutdown_hook(&self, hook: HookBox);

    /// Offers a service this feature declared it provides, at the version
    /// it declared.
    fn provide_service(
        &self,
        id: RString,
        version: RString,
        object: ServiceObject,
    ) -> RResult<(), PluginError>;

    /// Serves the plugin's routes under `/api/<pluginId>` once the plugin
    /// has started. `open_paths` lists path prefixes (below the mount point)
    /// that need no credential. Only plugins serve routes, once each.
    fn serve_http(
        &self,
        handler: crate::http::HttpHandlerBox,
        open_paths: RVec<RString>,
    ) -> RResult<(), PluginError>;

    /// Gets a service this feature declared it depends on. The host checks
    /// the provider's version against `requirement` and the layout of the
    /// provided type against `expected` before handing it over.
    fn service(
        &self,
        id: RString,
        requirement: RString,
        expected: LayoutRef,
    ) -> RResult<ServiceObject, PluginError>;

    /// Where each value of the plugin's configuration (as [`HostApi::config`]
    /// returns it now) came from, so that plugin code can name the file and
    /// line of a bad value; empty when the host knows no origins.
    fn config_origins(&self) -> RVec<ConfigOrigin>;

    /// Calls `subscriber` with the plugin's new configuration each time the
    /// configuration changes while the host runs, passes every check, and
    /// alters the plugin's slice.
    fn on_config_change(&self, subscriber: ConfigSubscriberBox);

    /// Reads `key` from the plugin's own cache namespace, unless it expired.
    fn cache_get(&self, key: RString) -> ROption<RVec<u8>>;

    /// Stores `value` under `key` in the plugin's cache namespace for
    /// `ttl_ms` milliseconds.
    fn cache_set(&self, key: RString, value: RVec<u8>, ttl_ms: u64);

    /// Removes `key` from the plugin's cache namespace.
    fn cache_delete(&self, key: RString);

    /// The base URL at which plugin `plugin_id`'s routes are reached
    /// (`http://host:port/api/<pluginId>` unless configured otherwise).
    fn discovery_url(&self, plugin_id: RString) -> RString;

    /// Runs `task` on `schedule` until the plugin shuts down. Registering
    /// the same task id again replaces it.
    fn schedule(&self, schedule: TaskSchedule, task: TaskBox) -> RResult<(), PluginError>;

    /// Where the plugin keeps its database: its own SQLite file, or its own
    /// schema in a shared PostgreSQL database.
    fn database(&self) -> RResult<DatabaseSettings, PluginError>;

    /// What this host runs, as JSON: `{"plugins": [{"id", "version",
    /// "modules": [...]}]}`.
    fn instance(&self) -> RString;

    /// Every contribution to multiton service `id` (perhaps none), each
    /// checked like [`HostApi::service`].
    fn service_contributions(
        &self,
        id: RString,
        requirement: RString,
        expected: LayoutRef,
    ) -> RResult<RVec<ServiceObject>, PluginError>;

    /// Runs `hook` at a moment of the whole host's life rather than the
    /// plugin's: once every plugin has started, when shutdown begins (before
    /// any plugin stops), or after every plugin stopped.
    fn add_root_hook(&self, moment: RootMoment, hook: HookBox);

    /// Offers a plugin-scoped service this feature declared: `factory` makes
    /// one instance for each plugin that asks, when it first asks. `layout`
    /// is the layout of what the factory makes.
    fn provide_service_factory(
        &self,
        id: RString,
        version: RString,
        layout: LayoutRef,
        factory: ServiceFactoryBox,
    ) -> RResult<(), PluginError>;

    /// Registers `object` into extension point `extension_point`, which this
    /// module declared it uses. Accepted only while the module initializes:
    /// the extension point is frozen once its plugin's modules have run.
    fn register_extension(
        &self,
        extension_point: RString,
        object: ServiceObject,
    ) -> RResult<(), PluginError>;

    /// Every registration modules made into extension point
    /// `extension_point`, which this feature provides, in the order the
    /// modules initialized; each checked against the layout `expected`.
    #[sabi(last_prefix_field)]
    fn extension_registrations(
        &self,
        extension_point: RString,
        expected: LayoutRef,
    ) -> RResult<RVec<Extension>, PluginError>;
}

/// One registration into an extension point, with the module that made it.
#[repr(C)]
#[derive(StableAbi, Clone)]
pub struct Extension {
    /// The id of the module that registered it.
    pub module_id: RString,
    /// What the module registered.
    pub object: ServiceObject,
}

/// The id of the host's cache service ([`CacheService`]).
pub const CACHE_SERVICE: &str = "core.cache";

/// The id of the host's discovery service ([`DiscoveryService`]).
pub const DISCOVERY_SERVICE: &str = "core.discovery";

/// The id of the host's database service ([`DatabaseService`]).
pub const DATABASE_SERVICE: &str = "core.database";

/// The version at which the host provides each of its services, and at
/// which a plugin replaces or wraps one.
pub const HOST_SERVICE_VERSION: &str = "1.0.0";

/// The id of the host's logging service ([`LoggerService`]).
pub const LOGGER_SERVICE: &str = "core.logger";

/// The host's services a plugin may replace (provide in the host's place)
/// or wrap (provide around the host's or the replacement): the plugins that
/// declare a dependency on one get what the plugin provides. The others are
/// the host's own state (configuration, lifecycle, metadata, scheduling),
/// which only the host can keep.
pub const REPLACEABLE_SERVICES: [&str; 4] = [
    CACHE_SERVICE,
    DATABASE_SERVICE,
    DISCOVERY_SERVICE,
    LOGGER_SERVICE,
];

/// A cache a plugin provides in place of the host's (service
/// [`CACHE_SERVICE`]). Each caller's entries live in a namespace of their
/// own, the caller's plugin id.
#[sabi_trait]
pub trait CacheService: Send + Sync {
    /// The bytes under `key` in `namespace`, unless absent or expired.
    fn get(&self, namespace: RString, key: RString) -> RResult<ROption<RVec<u8>>, PluginError>;

    /// Stores `value` under `key` in `namespace` for `ttl_ms` milliseconds.
    fn set(
        &self,
        namespace: RString,
        key: RString,
        value: RVec<u8>,
        ttl_ms: u64,
    ) -> RResult<(), PluginError>;

    /// Removes `key` from `namespace`.
    #[sabi(last_prefix_field)]
    fn delete(&self, namespace: RString, key: RString) -> RResult<(), PluginError>;
}

/// A cache as it crosses the boundary.
pub type CacheServiceBox = CacheService_TO<'static, RBox<()>>;

/// Where plugins' routes are reached ([`DISCOVERY_SERVICE`]), as a plugin
/// provides it in the host's place or around it.
#[sabi_trait]
pub trait DiscoveryService: Send + Sync {
    /// The base URL of plugin `plugin_id`'s routes, such as
    /// `http://127.0.0.1:7007/api/catalog`.
    #[sabi(last_prefix_field)]
    fn base_url(&self, plugin_id: RString) -> RResult<RString, PluginError>;
}

/// A discovery service as it crosses the boundary.
pub type DiscoveryServiceBox = DiscoveryService_TO<'static, RBox<()>>;

/// Where each plugin keeps its database ([`DATABASE_SERVICE`]), as a plugin
/// provides it in the host's place or around it.
#[sabi_trait]
pub trait DatabaseService: Send + Sync {
    /// The database of plugin `plugin_id`, the caller: plugins share one
    /// address space and are trusted, so the id says who asks, it does not
    /// prove it.
    #[sabi(last_prefix_field)]
    fn database(&self, plugin_id: RString) -> RResult<DatabaseSettings, PluginError>;
}

/// A database service as it crosses the boundary.
pub type DatabaseServiceBox = DatabaseService_TO<'static, RBox<()>>;

/// Where plugins' log events go ([`LOGGER_SERVICE`]), as a plugin provides
/// it in the host's place or around it. The host calls it with every event
/// of a plugin that declared a dependency on it.
#[sabi_trait]
pub trait LoggerService: Send + Sync {
    /// Records `record`, an event of plugin `plugin_id` (of its module
    /// `module_id`, empty for the plugin itself).
    #[sabi(last_prefix_field)]
    fn log(
        &self,
        plugin_id: RString,
        module_id: RString,
        record: LogRecord,
    ) -> RResult<(), PluginError>;
}

/// A logging service as it crosses the boundary.
pub type LoggerServiceBox = LoggerService_TO<'static, RBox<()>>;

/// Makes one instance of a plugin-scoped service for each consumer.
#[sabi_trait]
pub trait ServiceFactory: Send + Sync {
    /// Makes the instance for plugin `consumer`.
    #[sabi(last_prefix_field)]
    fn create(&self, consumer: RString) -> RResult<ServiceObject, PluginError>;
}

/// A service factory owned by the host.
pub type ServiceFactoryBox = ServiceFactory_TO<'static, RBox<()>>;

/// A moment of the whole host's life.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootMoment {
    /// Every plugin has started; readiness turns green after these hooks.
    Startup,
    /// Shutdown began: readiness fails, no plugin has stopped yet.
    BeforeShutdown,
    /// Every plugin has stopped.
    Shutdown,
}

/// Where one value of a plugin's configuration came from.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct ConfigOrigin {
    /// The key relative to the plugin's slice, such as `refresh.interval` or
    /// `targets[1].url`; empty for the slice itself.
    pub key: RString,
    /// The file and line (`app-config.yaml:12`) or the environment variable.
    pub origin: RString,
    /// Whether the value must never be shown in messages.
    pub secret: bool,
}

/// Plugin code the host calls each time the plugin's configuration changes.
#[sabi_trait]
pub trait ConfigSubscriber: Send + Sync {
    /// Runs with the new configuration (JSON text, as [`HostApi::config`])
    /// and its origins.
    #[sabi(last_prefix_field)]
    fn changed(
        &self,
        config: RString,
        origins: RVec<ConfigOrigin>,
    ) -> FfiFuture<RResult<(), PluginError>>;
}

/// A configuration subscriber owned by the host.
pub type ConfigSubscriberBox = ConfigSubscriber_TO<'static, RBox<()>>;

/// The layout of a `StableAbi` type, as abi_stable describes it.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy)]
pub struct LayoutRef(
    /// The layout.
    #[sabi(unsafe_opaque_field)]
    pub &'static TypeLayout,
);

/// A service instance as it crosses the boundary: a shared value whose type
/// is erased, with that type's layout so the receiver can check it first.
#[repr(C)]
#[derive(StableAbi, Clone)]
pub struct ServiceObject {
    /// The layout of the value's type.
    pub layout: LayoutRef,
    /// The value; only the side that knows its type may look inside.
    pub value: RArc<()>,
}

impl ServiceObject {
    /// Erases `value`'s type for the trip across the boundary, keeping its
    /// layout with it; the receiver turns it back into a `T` only after
    /// checking that layout against `T`'s.
    pub fn new<T>(value: T) -> Self
    where
        T: StableAbi + Send + Sync + 'static,
    {
        // SAFETY: only the pointee's type is forgotten, not its size or
        // drop: `RArc` keeps the original type's destructor in its vtable.
        // The layout travels alongside, so a receiver can check it before
        // treating the value as a `T` again.
        let value: RArc<()> = unsafe { RArc::new(value).transmute_element::<()>() };
        Self {
            layout: LayoutRef(T::LAYOUT),
            value,
        }
    }

    /// The value as a `T`, when its layout is compatible with `T`'s.
    pub fn downcast<T>(&self) -> Option<RArc<T>>
    where
        T: StableAbi + Send + Sync + 'static,
    {
        abi_stable::abi_stability::abi_checking::check_layout_compatibility(
            T::LAYOUT,
            self.layout.0,
        )
        .ok()?;
        // SAFETY: abi_stable found the value's layout compatible with `T`'s.
        Some(unsafe { self.value.clone().transmute_element::<T>() })
    }
}

/// A host handle owned by plugin code.
pub type HostBox = HostApi_TO<'static, RArc<()>>;

/// A plugin's database, as the host assigned it.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct DatabaseSettings {
    /// `sqlite` or `postgres`.
    pub client: RString,
    /// For `sqlite`, the file's path (its directory exists); for `postgres`,
    /// the connection URL.
    pub connection: RString,
    /// For `postgres`, the schema that is the plugin's alone; empty for
    /// `sqlite`.
    pub schema: RString,
}

/// When a scheduled task runs.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct TaskSchedule {
    /// The task's id, unique within its plugin.
    pub id: RString,
    /// Run every this many milliseconds; 0 when `cron` is given.
    pub every_ms: u64,
    /// A cron pattern (`*/5 * * * *`, seconds optional), evaluated in UTC;
    /// empty when `every_ms` is given.
    pub cron: RString,
    /// Wait this long before the first run of an interval task.
    pub initial_delay_ms: u64,
    /// Cut a run off after this long; 0 for the host's hook timeout.
    pub timeout_ms: u64,
}

/// A scheduled task's body: plugin code the host runs at each due time.
#[sabi_trait]
pub trait Task: Send + Sync {
    /// Runs the task once.
    #[sabi(last_prefix_field)]
    fn run(&self) -> FfiFuture<RResult<(), PluginError>>;
}

/// A scheduled task owned by the host.
pub type TaskBox = Task_TO<'static, RBox<()>>;

/// A lifecycle hook: a piece of plugin code the host runs later, once.
#[sabi_trait]
pub trait Hook: Send {
    /// Runs the hook.
    #[sabi(last_prefix_field)]
    fn run(&mut self) -> FfiFuture<abi_stable::std_types::RResult<(), PluginError>>;
}

/// A hook owned by the host.
pub type HookBox = Hook_TO<'static, RBox<()>>;
