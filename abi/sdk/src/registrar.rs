//! Builders that plugin and module registration functions fill in.

use crate::{Error, context::Context, init::InitFn};
use abi_stable::std_types::{RString, RVec};
use greenroom_contract::{
    Dependency, DependencyKind, ExtensionPointDescriptor, ModuleDescriptor, PluginDescriptor,
    ServiceDescriptor, ServiceScope,
};

/// What plugins and modules have in common: dependencies and provisions.
#[derive(Default)]
struct Features {
    dependencies: Vec<Dependency>,
    extension_points: Vec<ExtensionPointDescriptor>,
    services: Vec<ServiceDescriptor>,
}

impl Features {
    fn depend(&mut self, kind: DependencyKind, id: &str, version_req: &str, optional: bool) {
        self.dependencies.push(Dependency {
            kind,
            id: id.into(),
            version_req: version_req.into(),
            optional,
        });
    }

    fn extension_point(&mut self, id: &str, version: &str) {
        self.extension_points.push(ExtensionPointDescriptor {
            id: id.into(),
            version: version.into(),
        });
    }

    fn service(&mut self, id: &str, version: &str, scope: ServiceScope, multiton: bool) {
        self.services.push(ServiceDescriptor {
            id: id.into(),
            version: version.into(),
            scope,
            multiton,
            wraps: false,
        });
    }

    fn wrapper(&mut self, id: &str, version: &str) {
        let major = version.split('.').next().unwrap_or("0");
        self.depend(DependencyKind::Service, id, &format!("^{major}"), false);
        self.services.push(ServiceDescriptor {
            id: id.into(),
            version: version.into(),
            scope: ServiceScope::Root,
            multiton: false,
            wraps: true,
        });
    }
}

/// Describes one plugin: its version, what it needs and what it provides.
pub struct PluginRegistrar {
    id: String,
    version: String,
    config_schema: String,
    features: Features,
    pub(crate) init: Option<InitFn>,
}

impl PluginRegistrar {
    /// A registrar for the plugin `id` at `version`; [`export!`](crate::export)
    /// makes one for each plugin it names.
    pub fn new(id: &str, version: &str) -> Self {
        Self {
            id: id.to_string(),
            version: version.to_string(),
            config_schema: String::new(),
            features: Features::default(),
            init: None,
        }
    }

    /// Sets what runs when the plugin initializes: after everything it
    /// depends on, and after all its modules. It may run again in the same
    /// loaded library after a shutdown, so keep per-run state in it, not in
    /// statics.
    pub fn init<F, Fut>(&mut self, init: F) -> &mut Self
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.init = Some(crate::init::boxed(init));
        self
    }

    /// Sets the JSON Schema of the plugin's configuration, the value under
    /// the plugin's id in the app config. The host checks every plugin's
    /// configuration against its schema before anything starts.
    ///
    /// ```
    /// # let mut plugin = greenroom_sdk::PluginRegistrar::new("hello", "1.0.0");
    /// plugin.config_schema(r#"{"type": "object", "properties": {"greeting": {"type": "string"}}}"#);
    /// ```
    pub fn config_schema(&mut self, schema: &str) -> &mut Self {
        self.config_schema = schema.to_string();
        self
    }

    /// Sets the plugin's version; it defaults to the crate's Cargo version.
    pub fn version(&mut self, version: &str) -> &mut Self {
        self.version = version.to_string();
        self
    }

    /// Declares that the plugin initializes after another plugin.
    pub fn depends_on_plugin(&mut self, id: &str, version_req: &str) -> &mut Self {
        self.features
            .depend(DependencyKind::Plugin, id, version_req, false);
        self
    }

    pub(crate) fn into_descriptor(self) -> (PluginDescriptor, Option<InitFn>) {
        let descriptor = PluginDescriptor {
            id: self.id.into(),
            version: self.version.into(),
            dependencies: RVec::from(self.features.dependencies),
            extension_points: RVec::from(self.features.extension_points),
            services: RVec::from(self.features.services),
            config_schema: self.config_schema.into(),
        };
        (descriptor, self.init)
    }
}

/// Declarations plugins and modules share: services they need and provide,
/// extension points they offer.
macro_rules! shared_declarations {
    ($registrar:ty, $what:literal, $offered_to:literal) => {
        impl $registrar {
            #[doc = concat!("Declares that the ", $what, " needs a service matching `version_req`.")]
            pub fn depends_on_service(&mut self, id: &str, version_req: &str) -> &mut Self {
                self.features.depend(DependencyKind::Service, id, version_req, false);
                self
            }

            #[doc = concat!("Declares that the ", $what, " uses a service if one matching is present.")]
            pub fn optionally_depends_on_service(&mut self, id: &str, version_req: &str) -> &mut Self {
                self.features.depend(DependencyKind::Service, id, version_req, true);
                self
            }

            #[doc = concat!("Declares an extension point ", $offered_to, " can use.")]
            pub fn provides_extension_point(&mut self, id: &str, version: &str) -> &mut Self {
                self.features.extension_point(id, version);
                self
            }

            #[doc = concat!("Declares a service the ", $what, " provides (its only implementation).")]
            pub fn provides_service(&mut self, id: &str, version: &str, scope: ServiceScope) -> &mut Self {
                self.features.service(id, version, scope, false);
                self
            }

            /// Declares a contribution to a service that many may provide;
            /// its consumers receive every contribution.
            pub fn contributes_to_service(&mut self, id: &str, version: &str) -> &mut Self {
                self.features.service(id, version, ServiceScope::Root, true);
                self
            }

            /// Declares a wrapper around a service another plugin provides,
            /// at the same major `version`: initialization gets the wrapped
            /// implementation with `Context::service` and provides the
            /// wrapper, which everyone initialized after it gets instead.
            pub fn wraps_service(&mut self, id: &str, version: &str) -> &mut Self {
                self.features.wrapper(id, version);
                self
            }
        }
    };
}

shared_declarations!(PluginRegistrar, "plugin", "the plugin's modules");
shared_declarations!(ModuleRegistrar, "module", "the other modules of the plugin");

/// Describes one module: what it needs and what it provides.
pub struct ModuleRegistrar {
    plugin_id: String,
    module_id: String,
    features: Features,
    pub(crate) init: Option<InitFn>,
}

impl ModuleRegistrar {
    pub(crate) fn new(plugin_id: &str, module_id: &str) -> Self {
        Self {
            plugin_id: plugin_id.to_string(),
            module_id: module_id.to_string(),
            features: Features::default(),
            init: None,
        }
    }

    /// Sets what runs when the module initializes: before its plugin, and
    /// before any module that provides an extension point it uses.
    pub fn init<F, Fut>(&mut self, init: F) -> &mut Self
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.init = Some(crate::init::boxed(init));
        self
    }

    /// Declares that the module registers into an extension point of its
    /// plugin (or of another module of that plugin).
    pub fn depends_on_extension_point(&mut self, id: &str, version_req: &str) -> &mut Self {
        self.features
            .depend(DependencyKind::ExtensionPoint, id, version_req, false);
        self
    }

    pub(crate) fn into_descriptor(self) -> (ModuleDescriptor, Option<InitFn>) {
        let descriptor = ModuleDescriptor {
            plugin_id: RString::from(self.plugin_id),
            module_id: RString::from(self.module_id),
            dependencies: RVec::from(self.features.dependencies),
            extension_points: RVec::from(self.features.extension_points),
            services: RVec::from(self.features.services),
        };
        (descriptor, self.init)
    }
}
