//! What features provided to each other during initialization: services
//! (with the wrapper chains around them) and extension point registrations.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use greenroom_contract::{LayoutRef, ServiceFactoryBox, ServiceObject};
use semver::Version;

use crate::{register::FeatureSet, resolve::Node};

/// A service some feature provided during its initialization.
#[derive(Clone)]
pub(super) struct Provided {
    pub(super) version: Version,
    pub(super) layout: LayoutRef,
    pub(super) made: Made,
    pub(super) provider: Node,
    /// For a wrapper, what it wraps: the provision it took the place of,
    /// `None` for a host service no plugin replaced.
    pub(super) wrapped: Option<Option<Box<Provided>>>,
}

impl Provided {
    /// What `node` gets: a wrapper gets what it wraps, not itself.
    pub(super) fn seen_by(self, node: &Node) -> Option<Provided> {
        match self.wrapped {
            Some(inner) if self.provider == *node => inner.map(|inner| *inner),
            _ => Some(self),
        }
    }

    /// Whether `node` provided this, or what it wraps.
    fn involves(&self, node: &Node) -> bool {
        self.provider == *node
            || self
                .wrapped
                .as_ref()
                .and_then(Option::as_ref)
                .is_some_and(|inner| inner.involves(node))
    }

    /// This provision without what `gone` provided: a wrapper that goes
    /// leaves what it wrapped in its place.
    fn without(mut self, gone: &[String]) -> Option<Provided> {
        let is_gone = gone
            .iter()
            .any(|id| self.provider.plugin_id().as_str() == id);
        let wrapped = self
            .wrapped
            .take()
            .map(|inner| inner.and_then(|inner| inner.without(gone)).map(Box::new));
        match (is_gone, wrapped) {
            (true, Some(inner)) => inner.map(|inner| *inner),
            (true, None) => None,
            (false, wrapped) => Some(Provided { wrapped, ..self }),
        }
    }
}

/// How a provided service is handed out.
#[derive(Clone)]
pub(super) enum Made {
    /// One instance for everyone.
    Once(ServiceObject),
    /// One instance for each consuming plugin, made when it first asks.
    PerPlugin {
        factory: Arc<ServiceFactoryBox>,
        made: Arc<Mutex<BTreeMap<String, ServiceObject>>>,
    },
}

/// The services provided so far, by id.
#[derive(Clone, Default)]
pub(crate) struct Services {
    /// A singleton's one provision, or every contribution to a multiton.
    pub(super) provided: BTreeMap<String, Vec<Provided>>,
    /// What modules registered into each extension point, by its id.
    pub(super) extensions: BTreeMap<String, Vec<Registration>>,
    /// Whether the logger plugins provide panicked: events then go to the
    /// host's log until a logger is provided again.
    pub(super) logger_panicked: bool,
}

/// A value a module registered into an extension point.
#[derive(Clone)]
pub(super) struct Registration {
    pub(super) module: Node,
    pub(super) object: ServiceObject,
}

impl Services {
    /// Forgets the services the plugins in `plugin_ids` (or their modules)
    /// provided.
    pub(crate) fn forget(&mut self, plugin_ids: &[String]) {
        for provisions in self.provided.values_mut() {
            *provisions = std::mem::take(provisions)
                .into_iter()
                .filter_map(|provided| provided.without(plugin_ids))
                .collect();
        }
        self.provided.retain(|_, provisions| !provisions.is_empty());
        for plugin_id in plugin_ids {
            self.forget_extensions(plugin_id);
        }
    }

    /// The single services `node` declared it provides or wraps but has not
    /// provided.
    pub(crate) fn unprovided<'a>(
        &self,
        node: &Node,
        declared: &'a FeatureSet,
    ) -> Vec<&'a crate::register::Service> {
        declared
            .services
            .iter()
            .filter(|service| !service.multiton)
            .filter(|service| {
                !self
                    .provided
                    .get(service.id.as_str())
                    .is_some_and(|provisions| provisions.iter().any(|p| p.involves(node)))
            })
            .collect()
    }

    /// Forgets what the modules of plugin `plugin_id` registered into
    /// extension points, before they initialize again.
    pub(crate) fn forget_extensions(&mut self, plugin_id: &str) {
        for registrations in self.extensions.values_mut() {
            registrations
                .retain(|registration| registration.module.plugin_id().as_str() != plugin_id);
        }
        self.extensions
            .retain(|_, registrations| !registrations.is_empty());
    }
}
