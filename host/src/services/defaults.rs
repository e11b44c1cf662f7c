//! The host's own implementations of the services a plugin may replace or
//! wrap, as service objects: what a wrapper wraps, and what a plugin that
//! declared a dependency on one gets when no plugin replaced it.

use std::{sync::Arc, time::Duration};

use abi_stable::{
    StableAbi as _,
    sabi_trait::TD_Opaque,
    std_types::{ROption, RResult, RString, RVec},
};
use greenroom_contract::{
    CACHE_SERVICE, CacheService, CacheService_TO, CacheServiceBox, DATABASE_SERVICE,
    DISCOVERY_SERVICE, DatabaseService, DatabaseService_TO, DatabaseServiceBox, DatabaseSettings,
    DiscoveryService, DiscoveryService_TO, DiscoveryServiceBox, ErrorCode, LOGGER_SERVICE,
    LayoutRef, LogRecord, LoggerService, LoggerService_TO, LoggerServiceBox, PluginError,
    ServiceObject,
};

use super::Assigned;
use crate::{initialize::CoreServices, register::PluginId};

/// The host's implementation of replaceable service `id`, or `None` when
/// the host has none a plugin may take the place of.
pub(crate) fn host_default(core: &CoreServices, id: &str) -> Option<ServiceObject> {
    let core = Arc::new(core.clone());
    match id {
        CACHE_SERVICE => {
            let cache: CacheServiceBox = CacheService_TO::from_value(HostCache(core), TD_Opaque);
            Some(ServiceObject::new(cache))
        }
        DISCOVERY_SERVICE => {
            let discovery: DiscoveryServiceBox =
                DiscoveryService_TO::from_value(HostDiscovery(core), TD_Opaque);
            Some(ServiceObject::new(discovery))
        }
        DATABASE_SERVICE => {
            let database: DatabaseServiceBox =
                DatabaseService_TO::from_value(HostDatabase(core), TD_Opaque);
            Some(ServiceObject::new(database))
        }
        LOGGER_SERVICE => {
            let logger: LoggerServiceBox = LoggerService_TO::from_value(HostLogger, TD_Opaque);
            Some(ServiceObject::new(logger))
        }
        _ => None,
    }
}

/// The layout a plugin's replacement or wrapper of host service `id` must
/// have, or `None` for a service no plugin may take the place of.
pub(crate) fn host_interface(id: &str) -> Option<LayoutRef> {
    match id {
        CACHE_SERVICE => Some(LayoutRef(CacheServiceBox::LAYOUT)),
        DISCOVERY_SERVICE => Some(LayoutRef(DiscoveryServiceBox::LAYOUT)),
        DATABASE_SERVICE => Some(LayoutRef(DatabaseServiceBox::LAYOUT)),
        LOGGER_SERVICE => Some(LayoutRef(LoggerServiceBox::LAYOUT)),
        _ => None,
    }
}

/// The contract's name for the interface of host service `id`.
pub(crate) fn host_interface_name(id: &str) -> &'static str {
    match id {
        CACHE_SERVICE => "CacheServiceBox",
        DISCOVERY_SERVICE => "DiscoveryServiceBox",
        DATABASE_SERVICE => "DatabaseServiceBox",
        LOGGER_SERVICE => "LoggerServiceBox",
        _ => "(none)",
    }
}

struct HostCache(Arc<CoreServices>);

impl CacheService for HostCache {
    fn get(&self, namespace: RString, key: RString) -> RResult<ROption<RVec<u8>>, PluginError> {
        let core = &self.0;
        let value = core.cache.get(&namespace, &key, core.clock.now());
        RResult::ROk(value.map(RVec::from).into())
    }

    fn set(
        &self,
        namespace: RString,
        key: RString,
        value: RVec<u8>,
        ttl_ms: u64,
    ) -> RResult<(), PluginError> {
        let core = &self.0;
        let ttl = Duration::from_millis(ttl_ms);
        core.cache
            .set(&namespace, &key, value.into_vec(), core.clock.now(), ttl);
        RResult::ROk(())
    }

    fn delete(&self, namespace: RString, key: RString) -> RResult<(), PluginError> {
        self.0.cache.delete(&namespace, &key);
        RResult::ROk(())
    }
}

struct HostDiscovery(Arc<CoreServices>);

impl DiscoveryService for HostDiscovery {
    fn base_url(&self, plugin_id: RString) -> RResult<RString, PluginError> {
        RResult::ROk(self.0.discovery.url(&plugin_id).into())
    }
}

/// The host's log: events go into its tracing, in the span current where
/// the logging plugin's event came from.
struct HostLogger;

impl LoggerService for HostLogger {
    fn log(
        &self,
        plugin_id: RString,
        module_id: RString,
        record: LogRecord,
    ) -> RResult<(), PluginError> {
        crate::initialize::emit(&plugin_id, &module_id, &record);
        RResult::ROk(())
    }
}

struct HostDatabase(Arc<CoreServices>);

impl DatabaseService for HostDatabase {
    fn database(&self, plugin_id: RString) -> RResult<DatabaseSettings, PluginError> {
        // The id names a directory or a schema: only a valid plugin id may.
        let assigned = PluginId::parse("plugin id", &plugin_id)
            .map_err(|error| error.to_string())
            .and_then(|plugin_id| self.0.database.assign(plugin_id.as_str()));
        match assigned {
            Ok(assigned) => RResult::ROk(settings(assigned)),
            Err(message) => RResult::RErr(PluginError::new(ErrorCode::FAILED, message)),
        }
    }
}

/// A database the host assigned, as it crosses the boundary.
pub(crate) fn settings(assigned: Assigned) -> DatabaseSettings {
    DatabaseSettings {
        client: assigned.client.into(),
        connection: assigned.connection.into(),
        schema: assigned.schema.into(),
    }
}
