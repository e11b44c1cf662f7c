//! The host as one plugin or module sees it: the [`HostApi`] given to its
//! initialization.

mod provisions;

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, Ordering},
};

use abi_stable::{
    abi_stability::abi_checking::check_layout_compatibility,
    sabi_trait::TD_Opaque,
    std_types::{RArc, ROption, RResult, RString, RVec},
};
use greenroom_contract::{
    ConfigOrigin, ConfigSubscriberBox, DatabaseSettings, ErrorCode, Extension, HookBox, HostApi,
    HostApi_TO, HostBox, LOGGER_SERVICE, LayoutRef, LogLevel, LogRecord, LoggerServiceBox,
    PluginError, RootMoment, ServiceFactoryBox, ServiceObject, TaskBox, TaskSchedule,
    http::HttpHandlerBox,
};
use semver::VersionReq;
use tracing::level_filters::LevelFilter;

use super::plugin_config::{PluginConfigs, to_abi};
use crate::{
    register::{DependencyKind, FeatureSet},
    resolve::Node,
    serve::Routes,
    services::Staging,
};
pub(crate) use provisions::Services;
use provisions::{Made, Provided, Registration};

/// Services shared between every feature's host handle.
pub(crate) type SharedServices = Arc<Mutex<Services>>;

/// The lifecycle hooks one plugin (and its modules) registered.
#[derive(Default)]
pub(crate) struct Hooks {
    pub(crate) startup: Vec<HookBox>,
    pub(crate) shutdown: Vec<HookBox>,
}

/// Hooks shared between a plugin's host handles and the initializer.
pub(crate) type SharedHooks = Arc<Mutex<Hooks>>;

/// What the host knows of the feature a handle is for.
pub(crate) struct Feature {
    /// The plugin or module.
    pub(crate) node: Node,
    /// What it declared at registration.
    pub(crate) declared: FeatureSet,
    /// Every plugin's configuration, read afresh on each call so that a
    /// change is seen at once.
    pub(crate) config: Arc<PluginConfigs>,
    /// The plugin's span, which its log records are emitted in.
    pub(crate) span: tracing::Span,
    /// Whether its initialization is still running; a module registers
    /// into extension points only then.
    pub(crate) initializing: Arc<AtomicBool>,
}

/// What the host shares with every feature's handle.
#[derive(Clone, Default)]
pub(crate) struct Shared {
    pub(crate) services: SharedServices,
    pub(crate) routes: Arc<Routes>,
    pub(crate) core: super::CoreServices,
    /// What the host runs, as JSON.
    pub(crate) instance: Arc<String>,
    /// Hooks for moments of the whole host's life.
    pub(crate) root_hooks: Arc<Mutex<RootHooks>>,
    /// Where a new generation's scheduled tasks wait for its swap; `None`
    /// while initializing the running generation.
    pub(crate) staging: Option<Staging>,
}

/// Hooks plugins registered for moments of the whole host's life.
#[derive(Default)]
pub(crate) struct RootHooks {
    pub(crate) startup: Vec<HookBox>,
    pub(crate) before_shutdown: Vec<HookBox>,
    pub(crate) shutdown: Vec<HookBox>,
}

#[derive(Clone)]
struct FeatureHost {
    feature: Arc<Feature>,
    hooks: SharedHooks,
    shared: Shared,
}

/// Makes the host handle for one plugin or module.
pub(crate) fn host_for(feature: Feature, hooks: SharedHooks, shared: Shared) -> HostBox {
    let host = FeatureHost {
        feature: Arc::new(feature),
        hooks,
        shared,
    };
    HostApi_TO::from_ptr(RArc::new(host), TD_Opaque)
}

impl HostApi for FeatureHost {
    fn plugin_id(&self) -> RString {
        self.feature.node.plugin_id().as_str().into()
    }

    fn module_id(&self) -> RString {
        match &self.feature.node {
            Node::Plugin(_) => RString::new(),
            Node::Module(_, module) => module.as_str().into(),
        }
    }

    fn max_log_level(&self) -> LogLevel {
        match LevelFilter::current() {
            LevelFilter::OFF => LogLevel::Off,
            LevelFilter::ERROR => LogLevel::Error,
            LevelFilter::WARN => LogLevel::Warn,
            LevelFilter::INFO => LogLevel::Info,
            LevelFilter::DEBUG => LogLevel::Debug,
            _ => LogLevel::Trace,
        }
    }

    fn log(&self, record: LogRecord) {
        let (plugin_id, module_id) = (self.plugin_id(), self.module_id());
        self.feature.span.in_scope(|| match self.logger() {
            Some((logger, provider)) => {
                let logged = IN_LOGGER.with(|inside| {
                    inside.set(true);
                    let logged = logger.log(plugin_id.clone(), module_id.clone(), record.clone());
                    inside.set(false);
                    logged
                });
                if let RResult::RErr(error) = logged {
                    emit(plugin_id.as_str(), module_id.as_str(), &record);
                    self.logger_failed(&provider, &error);
                }
            }
            None => emit(plugin_id.as_str(), module_id.as_str(), &record),
        });
    }

    fn config(&self) -> RString {
        let plugin_id = self.feature.node.plugin_id();
        self.feature
            .config
            .slice(plugin_id.as_str())
            .value
            .to_string()
            .into()
    }

    fn add_startup_hook(&self, hook: HookBox) {
        self.lock().startup.push(hook);
    }

    fn add_shutdown_hook(&self, hook: HookBox) {
        self.lock().shutdown.push(hook);
    }

    fn provide_service(
        &self,
        id: RString,
        version: RString,
        object: ServiceObject,
    ) -> RResult<(), PluginError> {
        self.provide(id.as_str(), version.as_str(), object)
            .map_err(refusal)
            .into()
    }

    fn serve_http(
        &self,
        handler: HttpHandlerBox,
        open_paths: RVec<RString>,
    ) -> RResult<(), PluginError> {
        let open_paths = open_paths.into_iter().map(RString::into_string).collect();
        let outcome = match &self.feature.node {
            Node::Plugin(id) => self.shared.routes.stage(id.as_str(), handler, open_paths),
            Node::Module(..) => Err(format!(
                "{} cannot serve HTTP routes; only plugins can",
                self.feature.node
            )),
        };
        outcome.map_err(refusal).into()
    }

    fn service(
        &self,
        id: RString,
        requirement: RString,
        expected: LayoutRef,
    ) -> RResult<ServiceObject, PluginError> {
        if let Some(error) = self.undeclared(id.as_str()) {
            return RResult::RErr(error);
        }
        self.get(id.as_str(), requirement.as_str(), expected)
            .map_err(refusal)
            .into()
    }

    fn config_origins(&self) -> RVec<ConfigOrigin> {
        let plugin_id = self.feature.node.plugin_id();
        to_abi(&self.feature.config.slice(plugin_id.as_str()).origins)
    }

    fn on_config_change(&self, subscriber: ConfigSubscriberBox) {
        let feature = &self.feature;
        feature
            .config
            .subscribe(feature.node.clone(), subscriber, feature.span.clone());
    }

    fn cache_get(&self, key: RString) -> ROption<RVec<u8>> {
        let core = &self.shared.core;
        core.cache
            .get(
                self.feature.node.plugin_id().as_str(),
                &key,
                core.clock.now(),
            )
            .map(RVec::from)
            .into()
    }

    fn cache_set(&self, key: RString, value: RVec<u8>, ttl_ms: u64) {
        let core = &self.shared.core;
        let ttl = std::time::Duration::from_millis(ttl_ms);
        let plugin_id = self.feature.node.plugin_id().as_str();
        core.cache
            .set(plugin_id, &key, value.into_vec(), core.clock.now(), ttl);
    }

    fn cache_delete(&self, key: RString) {
        self.shared
            .core
            .cache
            .delete(self.feature.node.plugin_id().as_str(), &key);
    }

    fn discovery_url(&self, plugin_id: RString) -> RString {
        self.shared.core.discovery.url(&plugin_id).into()
    }

    fn service_contributions(
        &self,
        id: RString,
        requirement: RString,
        expected: LayoutRef,
    ) -> RResult<RVec<ServiceObject>, PluginError> {
        if let Some(error) = self.undeclared(id.as_str()) {
            return RResult::RErr(error);
        }
        self.get_all(id.as_str(), requirement.as_str(), expected)
            .map(RVec::from)
            .map_err(refusal)
            .into()
    }

    fn add_root_hook(&self, moment: RootMoment, hook: HookBox) {
        let mut hooks = self
            .shared
            .root_hooks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match moment {
            RootMoment::Startup => hooks.startup.push(hook),
            RootMoment::BeforeShutdown => hooks.before_shutdown.push(hook),
            RootMoment::Shutdown => hooks.shutdown.push(hook),
        }
    }

    fn provide_service_factory(
        &self,
        id: RString,
        version: RString,
        layout: LayoutRef,
        factory: ServiceFactoryBox,
    ) -> RResult<(), PluginError> {
        let made = Made::PerPlugin {
            factory: Arc::new(factory),
            made: Arc::default(),
        };
        self.provide_made(id.as_str(), version.as_str(), layout, made)
            .map_err(refusal)
            .into()
    }

    fn register_extension(
        &self,
        extension_point: RString,
        object: ServiceObject,
    ) -> RResult<(), PluginError> {
        self.register(extension_point.as_str(), object)
            .map_err(refusal)
            .into()
    }

    fn extension_registrations(
        &self,
        extension_point: RString,
        expected: LayoutRef,
    ) -> RResult<RVec<Extension>, PluginError> {
        self.registrations(extension_point.as_str(), expected)
            .map(RVec::from)
            .map_err(refusal)
            .into()
    }

    fn instance(&self) -> RString {
        self.shared.instance.as_str().into()
    }

    fn database(&self) -> RResult<DatabaseSettings, PluginError> {
        let plugin_id = self.feature.node.plugin_id().as_str();
        self.shared
            .core
            .database
            .assign(plugin_id)
            .map(crate::services::settings)
            .map_err(refusal)
            .into()
    }

    fn schedule(&self, schedule: TaskSchedule, task: TaskBox) -> RResult<(), PluginError> {
        let plugin_id = self.feature.node.plugin_id().as_str();
        let span = self.feature.span.clone();
        self.shared
            .core
            .scheduler
            .add(plugin_id, &schedule, task, span, self.shared.staging)
            .map_err(refusal)
            .into()
    }
}

fn refusal(message: String) -> PluginError {
    PluginError::new(ErrorCode::FAILED, message)
}

thread_local! {
    /// Whether this thread is inside a plugin's logger, whose own events
    /// go straight to the host's log rather than round again.
    static IN_LOGGER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl FeatureHost {
    /// The logger a plugin provides, in the host's place or around it, for
    /// this feature's events: only when it declared a dependency on
    /// `core.logger`.
    fn logger(&self) -> Option<(RArc<LoggerServiceBox>, Node)> {
        if IN_LOGGER.with(std::cell::Cell::get) || !self.declares(LOGGER_SERVICE) {
            return None;
        }
        let provided = {
            let services = self
                .shared
                .services
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if services.logger_panicked {
                return None;
            }
            services
                .provided
                .get(LOGGER_SERVICE)?
                .first()?
                .clone()
                .seen_by(&self.feature.node)?
        };
        let object = self.instance_of(LOGGER_SERVICE, provided.made).ok()?;
        Some((object.downcast::<LoggerServiceBox>()?, provided.provider))
    }

    /// Reports a logger's failure to record an event (which went to the
    /// host's log instead). After a panic the logger is not called again
    /// until one is provided anew, as when its plugin is reloaded.
    fn logger_failed(&self, provider: &Node, error: &PluginError) {
        let reason = crate::boundary::describe(error);
        if error.code != ErrorCode::PANICKED {
            tracing::warn!(
                "{provider}, which provides core.logger, failed to record an event, which went \
                 to the host's log: {reason}"
            );
            return;
        }
        let mut services = self
            .shared
            .services
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !std::mem::replace(&mut services.logger_panicked, true) {
            tracing::error!(
                "{provider}, which provides core.logger, {reason}; plugins' events go to the \
                 host's log until it is reloaded"
            );
        }
    }

    fn provide(&self, id: &str, version: &str, object: ServiceObject) -> Result<(), String> {
        let layout = object.layout;
        self.provide_made(id, version, layout, Made::Once(object))
    }

    fn provide_made(
        &self,
        id: &str,
        version: &str,
        layout: LayoutRef,
        made: Made,
    ) -> Result<(), String> {
        let node = &self.feature.node;
        let declared = self
            .feature
            .declared
            .services
            .iter()
            .find(|service| service.id.as_str() == id)
            .ok_or_else(|| {
                format!(
                    "{node} provides service `{id}` without declaring it; declare it at \
                     registration with provides_service"
                )
            })?;
        if declared.version.to_string() != version {
            return Err(format!(
                "{node} provides service `{id}` at version {version} but declared {}",
                declared.version
            ));
        }
        if let Some(expected) = crate::services::host_interface(id) {
            check_layout_compatibility(expected.0, layout.0).map_err(|errors| {
                format!(
                    "{node} provides service `{id}` as a type other than the host's interface \
                     for it; provide a greenroom_contract::{} built against this \
                     greenroom-contract\n{}",
                    crate::services::host_interface_name(id),
                    crate::load::summarize(&errors.to_string())
                )
            })?;
        }
        let mut provided = Provided {
            version: declared.version.clone(),
            layout,
            made,
            provider: node.clone(),
            wrapped: None,
        };
        let mut services = self
            .shared
            .services
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if id == LOGGER_SERVICE {
            services.logger_panicked = false;
        }
        let provisions = services.provided.entry(id.to_string()).or_default();
        if declared.multiton {
            provisions.retain(|other| other.provider != *node);
            provisions.push(provided);
        } else if declared.wraps {
            // A wrapper sits on what was there; provided again (as when it
            // restarts), it takes the place of its own earlier instance.
            let current = provisions.pop();
            provided.wrapped = Some(
                current
                    .and_then(|current| current.seen_by(node))
                    .map(Box::new),
            );
            *provisions = vec![provided];
        } else {
            // An implementation provided again (as when it restarts) goes
            // under the wrapper on top, or takes the place of what was there.
            match provisions.first_mut() {
                Some(top) if top.wrapped.is_some() && top.provider != *node => {
                    top.wrapped = Some(Some(Box::new(provided)));
                }
                _ => *provisions = vec![provided],
            }
        }
        Ok(())
    }

    /// Why the feature may not have service `id`: it did not declare the
    /// dependency.
    fn undeclared(&self, id: &str) -> Option<PluginError> {
        (!self.declares(id)).then(|| {
            let message = format!(
                "{} asks for service `{id}` without declaring the dependency; declare it at \
                 registration with depends_on_service",
                self.feature.node
            );
            PluginError::new(ErrorCode::UNDECLARED, message)
        })
    }

    /// Whether the feature declared a dependency on service `id`.
    fn declares(&self, id: &str) -> bool {
        self.feature
            .declared
            .dependencies
            .iter()
            .any(|dependency| dependency.kind == DependencyKind::Service && dependency.id == id)
    }

    /// Every provision of service `id` the feature may have: the one of a
    /// singleton, or every contribution to a multiton (perhaps none). For a
    /// host service no plugin replaced, the host's own.
    fn get_all(
        &self,
        id: &str,
        requirement: &str,
        expected: LayoutRef,
    ) -> Result<Vec<ServiceObject>, String> {
        let node = &self.feature.node;
        let requirement = VersionReq::parse(requirement)
            .map_err(|error| format!("`{requirement}` is not a version requirement: {error}"))?;
        // Cloned out of the lock: making a plugin-scoped instance calls
        // into the provider.
        let provisions: Vec<Provided> = self
            .shared
            .services
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .provided
            .get(id)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|provided| provided.seen_by(node))
            .collect::<Vec<_>>();
        if provisions.is_empty()
            && let Some(object) = crate::services::host_default(&self.shared.core, id)
        {
            return self.check_host_default(id, &requirement, expected, object);
        }
        provisions
            .into_iter()
            .map(|provided| {
                if !requirement.matches(&provided.version) {
                    return Err(format!(
                        "{node} needs service `{id}` {requirement}, but {} provides version {}",
                        provided.provider, provided.version
                    ));
                }
                check_layout_compatibility(expected.0, provided.layout.0).map_err(|errors| {
                    format!(
                        "{node} and {} were built against different versions of service \
                             `{id}`'s interface; rebuild one of them\n{}",
                        provided.provider,
                        crate::load::summarize(&errors.to_string())
                    )
                })?;
                self.instance_of(id, provided.made)
            })
            .collect()
    }

    /// The host's own implementation of service `id`, checked like a
    /// plugin's.
    fn check_host_default(
        &self,
        id: &str,
        requirement: &VersionReq,
        expected: LayoutRef,
        object: ServiceObject,
    ) -> Result<Vec<ServiceObject>, String> {
        let node = &self.feature.node;
        let version = crate::backend::host_service_version();
        if !requirement.matches(&version) {
            return Err(format!(
                "{node} needs service `{id}` {requirement}, but the host provides version \
                 {version}"
            ));
        }
        check_layout_compatibility(expected.0, object.layout.0).map_err(|errors| {
            format!(
                "{node} was built against another version of the host service `{id}`'s \
                 interface than the host; rebuild it against this greenroom-contract\n{}",
                crate::load::summarize(&errors.to_string())
            )
        })?;
        Ok(vec![object])
    }

    /// The instance of a checked provision this feature's plugin gets.
    fn instance_of(&self, id: &str, made: Made) -> Result<ServiceObject, String> {
        match made {
            Made::Once(object) => Ok(object),
            Made::PerPlugin { factory, made } => {
                let consumer = self.feature.node.plugin_id().to_string();
                let mut made = made.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if let Some(object) = made.get(&consumer) {
                    return Ok(object.clone());
                }
                let object = factory
                    .create(consumer.as_str().into())
                    .into_result()
                    .map_err(|error| {
                        format!(
                            "service `{id}` could not be made for plugin `{consumer}`: {}",
                            crate::boundary::describe(&error)
                        )
                    })?;
                made.insert(consumer, object.clone());
                Ok(object)
            }
        }
    }

    /// The one provision of singleton service `id`.
    fn get(
        &self,
        id: &str,
        requirement: &str,
        expected: LayoutRef,
    ) -> Result<ServiceObject, String> {
        let mut all = self.get_all(id, requirement, expected)?;
        match all.len() {
            1 => Ok(all.remove(0)),
            0 => Err(format!(
                "service `{id}` has not been provided: its provider did not offer it during \
                 initialization"
            )),
            count => Err(format!(
                "service `{id}` has {count} contributions; ask for all of them with \
                 service_contributions"
            )),
        }
    }

    fn register(&self, point: &str, object: ServiceObject) -> Result<(), String> {
        let node = &self.feature.node;
        let Node::Module(..) = node else {
            return Err(format!(
                "{node} registers into extension point `{point}`, but only modules can"
            ));
        };
        let declared = self.feature.declared.dependencies.iter().any(|dependency| {
            dependency.kind == DependencyKind::ExtensionPoint && dependency.id == point
        });
        if !declared {
            return Err(format!(
                "{node} registers into extension point `{point}` without declaring it; declare \
                 it at registration with depends_on_extension_point"
            ));
        }
        if !self.feature.initializing.load(Ordering::SeqCst) {
            return Err(format!(
                "{node} registers into extension point `{point}` after its initialization; \
                 extension points are frozen once a plugin's modules have run, so register \
                 during init"
            ));
        }
        let registration = Registration {
            module: node.clone(),
            object,
        };
        lock(&self.shared.services)
            .extensions
            .entry(point.to_string())
            .or_default()
            .push(registration);
        Ok(())
    }

    /// Every registration into extension point `point`, which this feature
    /// must provide, checked against `expected`.
    fn registrations(&self, point: &str, expected: LayoutRef) -> Result<Vec<Extension>, String> {
        let node = &self.feature.node;
        let provides = self
            .feature
            .declared
            .extension_points
            .iter()
            .any(|provided| provided.id.as_str() == point);
        if !provides {
            return Err(format!(
                "{node} reads extension point `{point}` without providing it; declare it at \
                 registration with provides_extension_point"
            ));
        }
        let registrations = lock(&self.shared.services)
            .extensions
            .get(point)
            .cloned()
            .unwrap_or_default();
        registrations
            .into_iter()
            .map(|registration| {
                check_layout_compatibility(expected.0, registration.object.layout.0).map_err(
                    |errors| {
                        format!(
                            "{node} and {} were built against different versions of extension \
                             point `{point}`'s interface; rebuild one of them\n{}",
                            registration.module,
                            crate::load::summarize(&errors.to_string())
                        )
                    },
                )?;
                let module_id = match &registration.module {
                    Node::Module(_, module) => module.as_str().into(),
                    Node::Plugin(plugin) => plugin.as_str().into(),
                };
                Ok(Extension {
                    module_id,
                    object: registration.object,
                })
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Hooks> {
        self.hooks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Re-emits a plugin's log record as a host event tagged with the plugin.
pub(crate) fn emit(plugin_id: &str, module_id: &str, record: &LogRecord) {
    let fields: Vec<String> = record
        .fields
        .iter()
        .map(|pair| format!("{}={}", pair.0, pair.1))
        .collect();
    let fields = fields.join(" ");
    let target = record.target.as_str();
    let message = record.message.as_str();
    macro_rules! event {
        ($level:expr) => {
            tracing::event!(
                target: "greenroom::plugin",
                $level,
                plugin_id,
                module_id,
                plugin_target = target,
                fields = fields.as_str(),
                "{message}"
            )
        };
    }
    match record.level {
        LogLevel::Off => {}
        LogLevel::Error => event!(tracing::Level::ERROR),
        LogLevel::Warn => event!(tracing::Level::WARN),
        LogLevel::Info => event!(tracing::Level::INFO),
        LogLevel::Debug => event!(tracing::Level::DEBUG),
        LogLevel::Trace => event!(tracing::Level::TRACE),
    }
}
