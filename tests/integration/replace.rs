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
    DiscoveryService, DiscoveryServiceBox, LogRecord, LoggerService, LoggerServiceBox,
};
use greenroom_host::{StartError, initialize::FeatureStatus, services::DatabaseClient};
use greenroom_sdk::{Error, ErrorCode, PluginError, PluginRegistrar, Service, contained};
use greenroom_test_kit::{TestBackend, TestError};

use crate::artifacts::{fixture, plugin, runtime, scratch};

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

/// Calls a metering cache passed on: (operation, namespace, key).
type Calls = Mutex<Vec<(String, String, String)>>;

/// A cache wrapped around another, recording calls and keeping nothing.
struct Metered {
    inner: Service<CacheServiceBox>,
    calls: &'static Calls,
}

impl Metered {
    fn record(&self, operation: &str, namespace: &RString, key: &RString) {
        let call = (
            operation.to_string(),
            namespace.to_string(),
            key.to_string(),
        );
        lock(self.calls).push(call);
    }
}

#[contained]
impl CacheService for Metered {
    fn get(&self, namespace: RString, key: RString) -> RResult<ROption<RVec<u8>>, PluginError> {
        self.record("get", &namespace, &key);
        self.inner.get(namespace, key)
    }

    fn set(
        &self,
        namespace: RString,
        key: RString,
        value: RVec<u8>,
        ttl_ms: u64,
    ) -> RResult<(), PluginError> {
        self.record("set", &namespace, &key);
        self.inner.set(namespace, key, value, ttl_ms)
    }

    fn delete(&self, namespace: RString, key: RString) -> RResult<(), PluginError> {
        self.record("delete", &namespace, &key);
        self.inner.delete(namespace, key)
    }
}

/// Registers a wrapper of `core.cache` recording into `calls`.
fn wrap_cache_recording(plugin: &mut PluginRegistrar, calls: &'static Calls) {
    plugin
        .wraps_service("core.cache", "1.0.0")
        .init(move |context| async move {
            let inner = context.service::<CacheServiceBox>("core.cache", "^1")?;
            let metered = CacheServiceBox::from_value(Metered { inner, calls }, TD_Opaque);
            context.provide("core.cache", "1.0.0", metered)
        });
}

static METERED: Calls = Mutex::new(Vec::new());

fn register_metered_cache(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    wrap_cache_recording(plugin, &METERED);
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
            .add_static(
                "declared",
                greenroom_sdk::root_module! {
                    plugins: { "declared-user" => register_declared_cache_user },
                },
            )
            .add_static(
                "undeclared",
                greenroom_sdk::root_module! {
                    plugins: { "undeclared-user" => register_undeclared_cache_user },
                },
            )
            .add_static(
                "metered",
                greenroom_sdk::root_module! {
                    plugins: { "metered-cache" => register_metered_cache },
                },
            )
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
            .add_static(
                "declared",
                greenroom_sdk::root_module! {
                    plugins: { "declared-user" => register_declared_discovery_user },
                },
            )
            .add_static(
                "undeclared",
                greenroom_sdk::root_module! {
                    plugins: { "undeclared-user" => register_undeclared_discovery_user },
                },
            )
            .add_static(
                "wrapper",
                greenroom_sdk::root_module! {
                    plugins: { "search-elsewhere" => register_search_elsewhere },
                },
            )
            .add_static(
                "gateway",
                greenroom_sdk::root_module! {
                    plugins: { "gateway" => register_gateway },
                },
            )
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
            .add_static(
                "user",
                greenroom_sdk::root_module! {
                    plugins: { "database-user" => register_database_user },
                },
            )
            .add_static(
                "audited",
                greenroom_sdk::root_module! {
                    plugins: { "audited-database" => register_audited_database },
                },
            )
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
            .add_static(
                "wrapper",
                greenroom_sdk::root_module! {
                    plugins: { "scheduler-wrapper" => register_scheduler_wrapper },
                },
            )
            .start()
            .await;

        let error = started
            .err()
            .expect("resolution refuses the wrapper")
            .to_string();
        assert!(
            error.contains(
                "plugin `scheduler-wrapper` provides service `core.scheduler`, which the host \
                 provides itself and keeps; of the host's services only core.cache, \
                 core.database, core.discovery, core.logger may be replaced or wrapped"
            ),
            "{error}"
        );
    });
}

/// A discovery wrapper that asks for what it wraps on every call, after it
/// provided itself.
struct AsksEachTime(greenroom_sdk::Context);

#[contained]
impl DiscoveryService for AsksEachTime {
    fn base_url(&self, plugin_id: RString) -> RResult<RString, PluginError> {
        match self
            .0
            .service::<DiscoveryServiceBox>("core.discovery", "^1")
        {
            Ok(inner) => inner.base_url(plugin_id),
            Err(error) => RResult::RErr(PluginError::new(ErrorCode::FAILED, error.to_string())),
        }
    }
}

fn register_asks_each_time(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .wraps_service("core.discovery", "1.0.0")
        .init(|context| async move {
            let wrapper = DiscoveryServiceBox::from_value(AsksEachTime(context.clone()), TD_Opaque);
            context.provide("core.discovery", "1.0.0", wrapper)
        });
    Ok(())
}

#[test]
fn a_wrapper_asking_after_it_provided_gets_what_it_wraps_not_itself() {
    runtime().block_on(async {
        let backend = TestBackend::builder()
            .add_static(
                "wrapper",
                greenroom_sdk::root_module! {
                    plugins: { "asks-each-time" => register_asks_each_time },
                },
            )
            .add_static(
                "user",
                greenroom_sdk::root_module! {
                    plugins: { "declared-user" => register_declared_discovery_user },
                },
            )
            .start()
            .await
            .expect("the backend starts");

        let declared = logged(&backend, "declared ");
        assert_eq!(declared[0], "catalog: http://127.0.0.1:7007/api/catalog");
        assert_eq!(backend.stop().await, Vec::<String>::new());
    });
}

static RESTARTED_WRAPPER: Calls = Mutex::new(Vec::new());

fn register_restarted_wrapper(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    wrap_cache_recording(plugin, &RESTARTED_WRAPPER);
    Ok(())
}

#[test]
fn a_restarted_wrapper_takes_its_own_place_instead_of_wrapping_itself() {
    runtime().block_on(async {
        let mut backend = TestBackend::builder()
            .add_static(
                "wrapper",
                greenroom_sdk::root_module! {
                    plugins: { "wrapper" => register_restarted_wrapper },
                },
            )
            .add_static(
                "user",
                greenroom_sdk::root_module! {
                    plugins: { "declared-user" => register_declared_cache_user },
                },
            )
            .start()
            .await
            .expect("the backend starts");
        for plugin in ["wrapper", "wrapper", "declared-user"] {
            let restarted = backend.restart_plugin(plugin).await.expect("it restarts");
            assert_eq!(
                restarted.status,
                FeatureStatus::Started,
                "{:?}",
                restarted.error
            );
        }

        // The user's round trip at the start and after its restart, each
        // through one layer.
        let operations: Vec<String> = lock(&RESTARTED_WRAPPER)
            .iter()
            .map(|(operation, ..)| operation.clone())
            .collect();
        assert_eq!(operations, ["set", "get", "set", "get"]);
        assert_eq!(backend.stop().await, Vec::<String>::new());
    });
}

/// Why the start of `builder` was aborted, by plugin: each one's error.
async fn aborted(builder: greenroom_test_kit::TestBackendBuilder) -> Vec<(String, String)> {
    match builder.start().await {
        Err(TestError::Start(StartError::Aborted { report, .. })) => report
            .plugins
            .iter()
            .filter_map(|result| {
                let error = result.error.clone()?;
                Some((result.plugin_id.to_string(), error))
            })
            .collect(),
        Err(other) => panic!("the start failed otherwise: {other}"),
        Ok(_) => panic!("the start must be aborted"),
    }
}

fn register_replacing_cache_never_provided(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .provides_service("core.cache", "1.0.0", greenroom_sdk::ServiceScope::Root)
        .init(|_| async { Ok(()) });
    Ok(())
}

fn register_wrapping_database_never_provided(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .wraps_service("core.database", "1.0.0")
        .init(|_| async { Ok(()) });
    Ok(())
}

#[test]
fn a_replacement_or_wrapper_that_provides_nothing_fails_instead_of_being_bypassed() {
    runtime().block_on(async {
        let builder = TestBackend::builder()
            .add_static(
                "cache",
                greenroom_sdk::root_module! {
                    plugins: { "forgetful-cache" => register_replacing_cache_never_provided },
                },
            )
            .add_static(
                "database",
                greenroom_sdk::root_module! {
                    plugins: { "forgetful-database" => register_wrapping_database_never_provided },
                },
            );

        assert_eq!(
            aborted(builder).await,
            [
                (
                    "forgetful-cache".to_string(),
                    "plugin `forgetful-cache` declared that it provides service `core.cache` but \
                     did not provide it during initialization; call \
                     context.provide(\"core.cache\", \"1.0.0\", ..) in its init"
                        .to_string()
                ),
                (
                    "forgetful-database".to_string(),
                    "plugin `forgetful-database` declared that it wraps service `core.database` \
                     but did not provide it during initialization; call \
                     context.provide(\"core.database\", \"1.0.0\", ..) in its init"
                        .to_string()
                ),
            ]
        );
    });
}

fn register_cache_at_two(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin.provides_service("core.cache", "2.0.0", greenroom_sdk::ServiceScope::Root);
    Ok(())
}

#[test]
fn a_replacement_at_another_major_version_than_the_hosts_is_refused() {
    runtime().block_on(async {
        let started = TestBackend::builder()
            .add_static(
                "cache",
                greenroom_sdk::root_module! { plugins: { "cache-two" => register_cache_at_two } },
            )
            .start()
            .await;

        let error = started.err().expect("resolution refuses it").to_string();
        assert!(
            error.contains(
                "plugin `cache-two` provides service `core.cache` at 2.0.0, but the host's \
                 interface for it is 1.0.0; declare it at 1.x, the version of the \
                 greenroom_contract type it provides"
            ),
            "{error}"
        );
    });
}

fn register_cache_of_text(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .provides_service("core.cache", "1.0.0", greenroom_sdk::ServiceScope::Root)
        .init(|context| async move {
            context.provide("core.cache", "1.0.0", RString::from("not a cache"))
        });
    Ok(())
}

#[test]
fn a_replacement_of_another_type_than_the_hosts_interface_fails_when_it_provides() {
    runtime().block_on(async {
        let builder = TestBackend::builder().add_static(
            "cache",
            greenroom_sdk::root_module! { plugins: { "text-cache" => register_cache_of_text } },
        );

        let failures = aborted(builder).await;
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(
            failures[0].1.starts_with(
                "plugin `text-cache` provides service `core.cache` as a type other than the \
                 host's interface for it; provide a greenroom_contract::CacheServiceBox built \
                 against this greenroom-contract"
            ),
            "{failures:?}"
        );
    });
}

/// A logger around another that marks each event before passing it on.
struct Marking(Service<LoggerServiceBox>);

#[contained]
impl LoggerService for Marking {
    fn log(
        &self,
        plugin_id: RString,
        module_id: RString,
        mut record: LogRecord,
    ) -> RResult<(), PluginError> {
        record.message = format!("{} [marked]", record.message).into();
        self.0.log(plugin_id, module_id, record)
    }
}

fn register_marking_logger(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .wraps_service("core.logger", "1.0.0")
        .init(|context| async move {
            let inner = context.service::<LoggerServiceBox>("core.logger", "^1")?;
            let marking = LoggerServiceBox::from_value(Marking(inner), TD_Opaque);
            context.provide("core.logger", "1.0.0", marking)
        });
    Ok(())
}

// Events of linked-in plugins never cross the boundary (they share the
// host's tracing), so the plugins whose events are followed are files:
// `hello` declares a dependency on core.logger, `counter-user` does not.
#[test]
fn a_logger_wrapper_sees_the_events_of_the_plugins_that_depend_on_it() {
    runtime().block_on(async {
        let backend = TestBackend::builder()
            .file(plugin("hello"))
            .file(fixture("counter-provider"))
            .file(fixture("counter-consumer"))
            .add_static(
                "marking",
                greenroom_sdk::root_module! {
                    plugins: { "marking-logger" => register_marking_logger },
                },
            )
            .start()
            .await
            .expect("the backend starts");

        let events: Vec<(Option<String>, String)> = backend
            .logs()
            .into_iter()
            .filter(|event| event.target == "greenroom::plugin")
            .map(|event| (event.plugin_id, event.message))
            .collect();
        let of = |plugin_id: &str| -> Vec<String> {
            events
                .iter()
                .filter(|(id, _)| id.as_deref() == Some(plugin_id))
                .map(|(_, message)| message.clone())
                .collect()
        };
        assert_eq!(of("hello"), ["plugin hello initialized [marked]"]);
        let counted = of("counter-user");
        assert!(
            counted.len() == 1
                && counted[0].starts_with("counted ")
                && !counted[0].contains("[marked]"),
            "{counted:?}"
        );
        assert_eq!(backend.stop().await, Vec::<String>::new());
    });
}

/// A logger whose sink is gone.
struct Broken;

#[contained]
impl LoggerService for Broken {
    fn log(
        &self,
        _plugin_id: RString,
        _module_id: RString,
        _record: LogRecord,
    ) -> RResult<(), PluginError> {
        panic!("the log sink is gone")
    }
}

fn register_broken_logger(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .provides_service("core.logger", "1.0.0", greenroom_sdk::ServiceScope::Root)
        .init(|context| async move {
            let broken = LoggerServiceBox::from_value(Broken, TD_Opaque);
            context.provide("core.logger", "1.0.0", broken)
        });
    Ok(())
}

#[test]
fn a_logger_that_panics_is_bypassed_and_no_event_is_lost() {
    runtime().block_on(async {
        let backend = TestBackend::builder()
            .file(plugin("hello"))
            .add_static(
                "broken",
                greenroom_sdk::root_module! {
                    plugins: { "broken-logger" => register_broken_logger },
                },
            )
            .start()
            .await
            .expect("the backend starts");
        let captured = backend.capture();
        assert_eq!(backend.stop().await, Vec::<String>::new());

        // Both of hello's events (at start and at stop) reach the host's
        // log; the logger is called for the first only.
        let messages: Vec<String> = captured
            .events()
            .into_iter()
            .map(|event| event.message)
            .collect();
        let count = |text: &str| {
            messages
                .iter()
                .filter(|message| message.contains(text))
                .count()
        };
        assert_eq!(count("plugin hello initialized"), 1, "{messages:#?}");
        assert_eq!(count("hello says goodbye"), 1, "{messages:#?}");
        assert_eq!(
            count(
                "plugin `broken-logger`, which provides core.logger, panicked: \
                 `LoggerService::log` panicked: the log sink is gone; plugins' events go to the \
                 host's log until it is reloaded"
            ),
            1,
            "{messages:#?}"
        );
    });
}
