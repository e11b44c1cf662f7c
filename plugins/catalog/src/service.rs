//! The catalog as others call it: the connection each entity provider
//! applies its entities through, and the `catalog.entities` service other
//! plugins read.

use std::sync::Arc;

use greenroom_catalog_api::{Catalog, Connection, ConnectionBox, Contribution, FullMutation};
use greenroom_catalog_model::{EntityFilter, EntityRef, RefDefaults};
use greenroom_sdk::{
    ErrorCode, PluginError, Service,
    abi_stable::{
        sabi_trait::TD_Opaque,
        std_types::{ROption, RResult, RString, RVec},
    },
    contained,
};

use crate::State;

/// An entity provider some module registered.
pub(crate) struct Provider {
    /// The module that registered it.
    pub(crate) module_id: String,
    /// The registration (always [`Contribution::Provider`]).
    pub(crate) contribution: Service<Contribution>,
}

impl Provider {
    fn name(&self) -> String {
        match &*self.contribution {
            Contribution::Provider(provider) => {
                format!(
                    "entity provider {} of module {}",
                    name_of(provider.name()),
                    self.module_id
                )
            }
            Contribution::Processor(_) => format!("module {}", self.module_id),
        }
    }
}

/// Hands each provider its connection; each reads its source and applies
/// what it read.
pub(crate) fn connect(providers: &[Provider], state: &Arc<State>) {
    for (position, provider) in providers.iter().enumerate() {
        let Contribution::Provider(inner) = &*provider.contribution else {
            continue;
        };
        let connection = ConnectionBox::from_ptr(
            greenroom_sdk::abi_stable::std_types::RArc::new(ProviderConnection {
                state: state.clone(),
                position,
            }),
            TD_Opaque,
        );
        if let RResult::RErr(error) = inner.connect(connection) {
            tracing::error!("{} could not connect: {}", provider.name(), error.message);
        }
    }
}

/// Asks every provider to read its source again.
pub(crate) fn refresh(providers: &[Provider]) {
    for provider in providers {
        let Contribution::Provider(inner) = &*provider.contribution else {
            continue;
        };
        if let RResult::RErr(error) = inner.refresh() {
            tracing::error!("{} could not refresh: {}", provider.name(), error.message);
        }
    }
}

/// What one provider applies its entities through.
#[derive(Clone)]
struct ProviderConnection {
    state: Arc<State>,
    position: usize,
}

#[contained]
impl Connection for ProviderConnection {
    fn apply_full(&self, mutation: FullMutation) -> RResult<(), PluginError> {
        let mut engine = self
            .state
            .engine
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        engine.apply(self.position, mutation, &self.state.served);
        RResult::ROk(())
    }
}

/// The `catalog.entities` service.
pub(crate) struct CatalogService {
    state: Arc<State>,
}

impl CatalogService {
    /// The service reading `state`.
    pub(crate) fn new(state: Arc<State>) -> Self {
        Self { state }
    }

    fn entity_by_ref(&self, entity_ref: &str) -> Result<ROption<RString>, String> {
        let defaults = RefDefaults {
            kind: Some("component"),
            namespace: "default",
        };
        let entity_ref =
            EntityRef::parse(entity_ref, defaults).map_err(|error| error.to_string())?;
        let snapshot = self.state.snapshot();
        Ok(snapshot
            .by_ref(&entity_ref)
            .map(|served| RString::from(served.entity.to_string()))
            .into())
    }

    fn entities_matching(&self, filters: &[RString]) -> Result<RVec<RString>, String> {
        let filters: Vec<&str> = filters.iter().map(RString::as_str).collect();
        let filter = EntityFilter::parse(&filters).map_err(|error| error.to_string())?;
        let snapshot = self.state.snapshot();
        Ok(snapshot
            .matching(&filter)
            .into_iter()
            .map(|served| RString::from(served.entity.to_string()))
            .collect())
    }
}

#[contained]
impl Catalog for CatalogService {
    fn entity(&self, entity_ref: RString) -> RResult<ROption<RString>, PluginError> {
        self.entity_by_ref(&entity_ref).map_err(failed).into()
    }

    fn entities(&self, filters: RVec<RString>) -> RResult<RVec<RString>, PluginError> {
        self.entities_matching(&filters).map_err(failed).into()
    }

    fn generation(&self) -> RResult<u64, PluginError> {
        RResult::ROk(self.state.snapshot().generation)
    }
}

/// A failure of the catalog's own, for its caller.
fn failed(message: String) -> PluginError {
    PluginError::new(ErrorCode::FAILED, message)
}

/// A contribution's name, or why it has none.
pub(crate) fn name_of(name: RResult<RString, PluginError>) -> String {
    match name {
        RResult::ROk(name) => name.into_string(),
        RResult::RErr(error) => format!("(unnamed: {})", error.message),
    }
}
