//! Host services replaced and wrapped by plugins: the plugins that declare
//! a dependency get what the plugin graph provides, the others keep the
//! host's handle.

use std::{sync::Mutex, time::Duration};

use abi_stable::{
    sabi_trait::TD_Opaque,
    std_types::{ROption, RResult, RString, RVec},
};
use greenroom_contract::{
    CacheService, CacheServiceBox, DatabaseService, DatabaseServiceBox, DatabaseSettings,
    DiscoveryService, DiscoveryServiceBox,
};
use greenroom_host::{initialize::FeatureStatus, services::DatabaseClient};
use greenroom_sdk::{Error, ErrorCode, PluginError, PluginRegistrar, Service, contained};
use greenroom_test_kit::TestBackend;

use crate::artifacts::scratch;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime starts")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The messages logged with `prefix`, without it, in order.
fn logged(backend: &TestBackend, prefix: &str) -> Vec<String> {
    backend
        .logs()
        .into_iter()
        .filter_map(|event| event.message.strip_prefix(prefix).map(str::to_string))
        .collect()
}

/// Every call the metering cache passed on: (operation, namespace, key).
static METERED: Mutex<Vec<(String, String, String)>> = Mutex::new(Vec::new());

/// A cache wrapped around another, counting calls and keeping nothing.
struct Metered(Service<CacheServiceBox>);

impl Metered {
    fn record(operation: &str, namespace: &RString, key: &RString) {
        let call = (
            operation.to_string(),
            namespace.to_string(),
            key.to_string(),
        );
        lock(&METERED).push(call);
    }
}

#[contained]
impl CacheService for Metered {
    fn get(&self, namespace: RString, key: RString) -> RResult<ROption<RVec<u8>>, PluginError> {
        Self::record("get", &namespace, &key);
        self.0.get(namespace, key)
    }

    fn set(
        &self,
        namespace: RString,
        key: RString,
        value: RVec<u8>,
        ttl_ms: u64,
    ) -> RResult<(), PluginError> {
        Self::record("set", &namespace, &key);
        self.0.set(namespace, key, value, ttl_ms)
    }

    fn delete(&self, namespace: RString, key: RString) -> RResult<(), PluginError> {
        Self::record("delete", &namespace, &key);
        self.0.delete(namespace, key)
    }
}

fn register_metered_cache(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .wraps_service("core.cache", "1.0.0")
        .init(|context| async move {
            let inner = context.service::<CacheServiceBox>("core.cache", "^1")?;
            let metered = CacheServiceBox::from_value(Metered(inner), TD_Opaque);
            context.provide("core.cache", "1.0.0", metered)
        });
    Ok(())
}

/// Stores a value and reads it back: the init fails unless it comes back.
async fn round_trip(context: greenroom_sdk::Context) -> Result<(), Error> {
    let cache = context.cache();
    cache.set("greeting", b"hello", Duration::from_secs(60));
    match cache.get("greeting") {
        Some(value) if value == b"hello" => Ok(()),
        other => Err(Error::msg(format!("the cache gave back {other:?}"))),
    }
}

fn register_declared_cache_user(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .depends_on_service("core.cache", "^1")
        .init(round_trip);
    Ok(())
}

fn register_undeclared_cache_user(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin.init(round_trip);
    Ok(())
}

#[test]
fn a_wrapper_around_the_hosts_cache_sees_the_calls_of_the_plugins_that_depend_on_it() {
    runtime().block_on(async {
        let backend = TestBackend::builder()
            .add_static("declared", greenroom_sdk::root_module! { plugins: { "declared-user" => register_declared_cache_user } })
            .add_static("undeclared", greenroom_sdk::root_module! { plugins: { "undeclared-user" => register_undeclared_cache_user } })
            .add_static("metered", greenroom_sdk::root_module! { plugins: { "metered-cache" => register_metered_cache } })
            .start()
            .await
            .expect("the backend starts");

        for plugin in ["declared-user", "undeclared-user"] {
            let result = backend.report().plugin(plugin).expect("it is reported");
            assert_eq!(result.status, FeatureStatus::Started, "{:?}", result.error);
        }
        // The wrapper keeps nothing: the value came back from the host's
        // cache behind it.
        let call = |operation: &str| {
            (
                operation.to_string(),
                "declared-user".to_string(),
                "greeting".to_string(),
            )
        };
        assert_eq!(*lock(&METERED), [call("set"), call("get")]);
        assert_eq!(backend.stop().await, Vec::<String>::new());
    });
}

/// Discovery through a gateway, which knows every plugin but `broken`.
struct Gateway;

#[contained]
impl DiscoveryService for Gateway {
    fn base_url(&self, plugin_id: RString) -> RResult<RString, PluginError> {
        if plugin_id == "broken" {
            let message = "the gateway has no route for plugin `broken`";
            return RResult::RErr(PluginError::new(ErrorCode::FAILED, message));
        }
        RResult::ROk(format!("https://gateway.invalid/{plugin_id}").into())
    }
}

fn register_gateway(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .provides_service("core.discovery", "1.0.0", greenroom_sdk::ServiceScope::Root)
        .init(|context| async move {
            let gateway = DiscoveryServiceBox::from_value(Gateway, TD_Opaque);
            context.provide("core.discovery", "1.0.0", gateway)
        });
    Ok(())
}

/// Discovery that sends `search` elsewhere and asks the wrapped service
/// for the rest.
struct SearchElsewhere(Service<DiscoveryServiceBox>);

#[contained]
impl DiscoveryService for SearchElsewhere {
    fn base_url(&self, plugin_id: RString) -> RResult<RString, PluginError> {
        match plugin_id.as_str() {
            "search" => RResult::ROk("http://search.invalid/api/search".into()),
            _ => self.0.base_url(plugin_id),
        }
    }
}

fn register_search_elsewhere(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .wraps_service("core.discovery", "1.0.0")
        .init(|context| async move {
            let inner = context.service::<DiscoveryServiceBox>("core.discovery", "^1")?;
            let wrapper = DiscoveryServiceBox::from_value(SearchElsewhere(inner), TD_Opaque);
            context.provide("core.discovery", "1.0.0", wrapper)
        });
    Ok(())
}

/// Logs where `catalog`, `search` and `broken` are, as `prefix` sees them.
async fn log_urls(context: greenroom_sdk::Context, prefix: &str) -> Result<(), Error> {
    for plugin_id in ["catalog", "search"] {
        tracing::info!("{prefix} {plugin_id}: {}", context.discovery_url(plugin_id));
    }
    match context.try_discovery_url("broken") {
        Ok(url) => tracing::info!("{prefix} broken: {url}"),
        Err(error) => tracing::info!("{prefix} broken failed: {error}"),
    }
    tracing::info!(
        "{prefix} broken, anyway: {}",
        context.discovery_url("broken")
    );
    Ok(())
}

fn register_declared_discovery_user(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .depends_on_service("core.discovery", "^1")
        .init(|context| log_urls(context, "declared"));
    Ok(())
}

fn register_undeclared_discovery_user(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin.init(|context| log_urls(context, "undeclared"));
    Ok(())
}

#[test]
fn discovery_replaced_and_wrapped_answers_the_plugins_that_depend_on_it() {
    runtime().block_on(async {
        let backend = TestBackend::builder()
            .add_static("declared", greenroom_sdk::root_module! { plugins: { "declared-user" => register_declared_discovery_user } })
            .add_static("undeclared", greenroom_sdk::root_module! { plugins: { "undeclared-user" => register_undeclared_discovery_user } })
            .add_static("wrapper", greenroom_sdk::root_module! { plugins: { "search-elsewhere" => register_search_elsewhere } })
            .add_static("gateway", greenroom_sdk::root_module! { plugins: { "gateway" => register_gateway } })
            .discovery_endpoint("catalog", "http://catalog.invalid/api/catalog")
            .start()
            .await
            .expect("the backend starts");

        let host = |plugin: &str| format!("http://127.0.0.1:7007/api/{plugin}");
        assert_eq!(
            logged(&backend, "declared "),
            [
                "catalog: https://gateway.invalid/catalog".to_string(),
                "search: http://search.invalid/api/search".to_string(),
                "broken failed: discovery failed for plugin `broken`: the gateway has no route \
                 for plugin `broken`"
                    .to_string(),
                format!("broken, anyway: {}", host("broken")),
            ]
        );
        assert_eq!(
            logged(&backend, "undeclared "),
            [
                "catalog: http://catalog.invalid/api/catalog".to_string(),
                format!("search: {}", host("search")),
                format!("broken: {}", host("broken")),
                format!("broken, anyway: {}", host("broken")),
            ]
        );
        assert_eq!(
            logged(&backend, "discovery failed for plugin `broken`: "),
            [
                "the gateway has no route for plugin `broken`; using the host's own URL for \
                 plugin `broken`"
            ]
        );
        assert_eq!(backend.stop().await, Vec::<String>::new());
    });
}

/// Every plugin the audited database service was asked for.
static AUDITED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The host's database service, with a record of who asked.
struct Audited(Service<DatabaseServiceBox>);

#[contained]
impl DatabaseService for Audited {
    fn database(&self, plugin_id: RString) -> RResult<DatabaseSettings, PluginError> {
        lock(&AUDITED).push(plugin_id.to_string());
        self.0.database(plugin_id)
    }
}

fn register_audited_database(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .wraps_service("core.database", "1.0.0")
        .init(|context| async move {
            let inner = context.service::<DatabaseServiceBox>("core.database", "^1")?;
            let audited = DatabaseServiceBox::from_value(Audited(inner), TD_Opaque);
            context.provide("core.database", "1.0.0", audited)
        });
    Ok(())
}

fn register_database_user(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .depends_on_service("core.database", "^1")
        .init(|context| async move {
            let database = context.database()?;
            tracing::info!("database: {} {}", database.client, database.connection);
            Ok(())
        });
    Ok(())
}

#[test]
fn a_wrapper_around_the_hosts_database_service_passes_on_what_the_host_assigns() {
    let data = scratch("replace-database");
    runtime().block_on(async {
        let backend = TestBackend::builder()
            .add_static("user", greenroom_sdk::root_module! { plugins: { "database-user" => register_database_user } })
            .add_static("audited", greenroom_sdk::root_module! { plugins: { "audited-database" => register_audited_database } })
            .database(DatabaseClient::Sqlite {
                directory: data.clone(),
            })
            .start()
            .await
            .expect("the backend starts");

        let file = std::path::absolute(data.join("database-user/database.sqlite"))
            .expect("the path is absolute");
        assert_eq!(
            logged(&backend, "database: "),
            [format!("sqlite {}", file.display())]
        );
        assert_eq!(*lock(&AUDITED), ["database-user"]);
        assert!(
            data.join("database-user").is_dir(),
            "the host made the plugin's directory"
        );
        assert_eq!(backend.stop().await, Vec::<String>::new());
    });
}

fn register_scheduler_wrapper(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin.wraps_service("core.scheduler", "1.0.0");
    Ok(())
}

#[test]
fn wrapping_a_host_service_the_host_keeps_is_refused_before_anything_runs() {
    runtime().block_on(async {
        let started = TestBackend::builder()
            .add_static("wrapper", greenroom_sdk::root_module! { plugins: { "scheduler-wrapper" => register_scheduler_wrapper } })
            .start()
            .await;

        let error = started.err().expect("resolution refuses the wrapper").to_string();
        assert!(
            error.contains(
                "plugin `scheduler-wrapper` provides service `core.scheduler`, which the host \
                 provides itself and keeps; of the host's services only core.cache, \
                 core.database, core.discovery may be replaced or wrapped"
            ),
            "{error}"
        );
    });
}
