//! The test kit: a host in process with plugin files and linked-in mocks,
//! its startup report and its captured logs.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use abi_stable::{sabi_trait::TD_Opaque, std_types::RString};
use greenroom_fixture_counter_interface::{Counter, CounterBox, SERVICE_ID, VERSION};
use greenroom_host::initialize::FeatureStatus;
use greenroom_sdk::{Error, PluginRegistrar, ServiceScope};
use greenroom_test_kit::TestBackend;

use crate::artifacts::{fixture, runtime};

/// A counter that says it is a mock.
struct MockCounter(AtomicU64);

impl Counter for MockCounter {
    fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn provider(&self) -> RString {
        "the mock counter".into()
    }
}

fn register_mock(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .provides_service(SERVICE_ID, VERSION, ServiceScope::Root)
        .init(|context| async move {
            let counter = CounterBox::from_value(MockCounter(AtomicU64::new(0)), TD_Opaque);
            context.provide(SERVICE_ID, VERSION, counter)
        });
    Ok(())
}

#[test]
fn a_linked_in_mock_provides_the_service_a_plugin_file_consumes() {
    runtime().block_on(async {
        let mock = greenroom_sdk::root_module! { plugins: { "mock-counter" => register_mock } };
        let backend = TestBackend::builder()
            .add_static("mock", mock)
            .file(fixture("counter-consumer"))
            .start()
            .await
            .expect("the backend starts");

        let user = backend
            .report()
            .plugin("counter-user")
            .expect("counter-user is reported");
        assert_eq!(user.status, FeatureStatus::Started);
        let counted: Vec<_> = backend
            .logs()
            .into_iter()
            .filter(|event| event.plugin_id.as_deref() == Some("counter-user"))
            .map(|event| (event.message, event.fields))
            .filter(|(message, _)| message.starts_with("counted"))
            .collect();
        assert_eq!(counted.len(), 1, "{counted:?}");
        assert_eq!(counted[0].0, "counted [1, 2, 3]");
        assert!(
            counted[0]
                .1
                .contains(&"fields=provider=the mock counter".to_string()),
            "{:?}",
            counted[0].1
        );
        assert_eq!(backend.stop().await, Vec::<String>::new());
    });
}

#[test]
fn logs_of_two_backends_are_kept_apart() {
    runtime().block_on(async {
        let first = TestBackend::builder()
            .file(fixture("counter-provider"))
            .file(fixture("counter-consumer"))
            .start()
            .await
            .expect("the first backend starts");
        let second = TestBackend::builder()
            .file(fixture("web"))
            .start()
            .await
            .expect("the second backend starts");

        let plugins = |backend: &TestBackend| {
            let mut ids: Vec<String> = backend
                .logs()
                .into_iter()
                .filter_map(|event| event.plugin_id)
                .collect();
            ids.sort();
            ids.dedup();
            ids
        };
        assert_eq!(plugins(&first), ["counter-user"]);
        assert!(plugins(&second).is_empty(), "{:?}", plugins(&second));
        assert!(
            second
                .logs()
                .iter()
                .any(|event| event.message == "plugin `web` started")
        );
        first.stop().await;
        second.stop().await;
    });
}

#[test]
fn requests_go_through_the_host_in_process() {
    runtime().block_on(async {
        let backend = TestBackend::builder()
            .file(fixture("web"))
            .start()
            .await
            .expect("the backend starts");

        let response = backend.get("/api/web/status/204", None).await;
        assert_eq!(response.status, 204);
        let refused = backend.get("/api/web/status/204", Some("")).await;
        assert_eq!(refused.status, 401);
        assert_eq!(refused.json()["error"]["name"], "AuthenticationError");
        backend.stop().await;
    });
}

#[test]
fn a_plugin_initializes_again_and_again_inside_its_loaded_library() {
    runtime().block_on(async {
        let mut backend = TestBackend::builder()
            .file(fixture("web"))
            .file(fixture("counter-provider"))
            .file(fixture("counter-consumer"))
            .start()
            .await
            .expect("the backend starts");

        for _ in 0..20 {
            let web = backend.restart_plugin("web").await.expect("web restarts");
            assert_eq!((web.status, web.error), (FeatureStatus::Started, None));
            assert_eq!(backend.get("/api/web/status/204", None).await.status, 204);
        }
        for plugin in ["counter", "counter-user"] {
            let result = backend
                .restart_plugin(plugin)
                .await
                .expect("the plugin restarts");
            assert_eq!(
                (result.status, result.error),
                (FeatureStatus::Started, None)
            );
        }
        let counted = backend
            .logs()
            .into_iter()
            .filter(|event| event.message == "counted [1, 2, 3]")
            .count();
        assert_eq!(counted, 2, "the consumer counted once per initialization");
        assert_eq!(
            backend.restart_plugin("nobody").await.unwrap_err(),
            "plugin `nobody` is not running here"
        );
        assert_eq!(backend.stop().await, Vec::<String>::new());
    });
}

fn register_first_part(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .contributes_to_service("greeting.parts", "1.0.0")
        .init(|context| async move {
            context.provide("greeting.parts", "1.0.0", RString::from("hello"))
        });
    Ok(())
}

fn register_second_part(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .contributes_to_service("greeting.parts", "1.0.0")
        .init(|context| async move {
            context.provide("greeting.parts", "1.0.0", RString::from("world"))
        });
    Ok(())
}

fn register_greeter(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .depends_on_service("greeting.parts", "^1")
        .init(|context| async move {
            let parts = context.service_contributions::<RString>("greeting.parts", "^1")?;
            let mut words: Vec<String> = parts.iter().map(|part| part.to_string()).collect();
            words.sort();
            tracing::info!("greeting: {}", words.join(" "));
            Ok(())
        });
    Ok(())
}

#[test]
fn a_consumer_of_a_multiton_service_gets_every_contribution() {
    runtime().block_on(async {
        let backend = TestBackend::builder()
            .add_static(
                "first",
                greenroom_sdk::root_module! { plugins: { "first-part" => register_first_part } },
            )
            .add_static(
                "second",
                greenroom_sdk::root_module! { plugins: { "second-part" => register_second_part } },
            )
            .add_static(
                "greeter",
                greenroom_sdk::root_module! { plugins: { "greeter" => register_greeter } },
            )
            .start()
            .await
            .expect("the backend starts");

        let greetings: Vec<String> = backend
            .logs()
            .into_iter()
            .filter(|event| event.message.starts_with("greeting:"))
            .map(|event| event.message)
            .collect();
        assert_eq!(greetings, ["greeting: hello world"]);
        backend.stop().await;
    });
}

fn register_lifecycle_witness(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin.init(|context| async move {
        context.on_root_startup(|| async {
            tracing::info!("moment: root startup");
            Ok(())
        });
        context.on_before_shutdown(|| async {
            tracing::info!("moment: before shutdown");
            Ok(())
        });
        context.on_shutdown(|| async {
            tracing::info!("moment: plugin shutdown");
            Ok(())
        });
        context.on_root_shutdown(|| async {
            tracing::info!("moment: root shutdown");
            Ok(())
        });
        Ok(())
    });
    Ok(())
}

#[test]
fn root_lifecycle_hooks_run_around_every_plugin() {
    runtime().block_on(async {
        let witness =
            greenroom_sdk::root_module! { plugins: { "witness" => register_lifecycle_witness } };
        let backend = TestBackend::builder()
            .add_static("witness", witness)
            .file(fixture("web"))
            .start()
            .await
            .expect("the backend starts");
        let logs = backend.logs();
        let started = logs
            .iter()
            .position(|event| event.message == "plugin `web` started");
        let root_startup = logs
            .iter()
            .position(|event| event.message == "moment: root startup");
        assert!(started < root_startup && root_startup.is_some(), "{logs:?}");

        let captured = backend.capture();
        assert_eq!(backend.stop().await, Vec::<String>::new());
        let moments: Vec<String> = captured
            .events()
            .into_iter()
            .filter_map(|event| event.message.strip_prefix("moment: ").map(str::to_string))
            .collect();
        assert_eq!(
            moments,
            [
                "root startup",
                "before shutdown",
                "plugin shutdown",
                "root shutdown"
            ]
        );
    });
}

fn register_original_text(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .provides_service("greeting.text", "1.0.0", ServiceScope::Root)
        .init(|context| async move {
            context.provide("greeting.text", "1.0.0", RString::from("hello"))
        });
    Ok(())
}

fn register_loud_text(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .wraps_service("greeting.text", "1.0.0")
        .init(|context| async move {
            let original = context.service::<RString>("greeting.text", "^1")?;
            let loud = format!("{}!", original.to_uppercase());
            context.provide("greeting.text", "1.0.0", RString::from(loud))
        });
    Ok(())
}

fn register_text_reader(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .depends_on_service("greeting.text", "^1")
        .init(|context| async move {
            let text = context.service::<RString>("greeting.text", "^1")?;
            tracing::info!("text: {}", *text);
            Ok(())
        });
    Ok(())
}

#[test]
fn a_wrapper_sits_between_a_service_and_its_consumers() {
    runtime().block_on(async {
        // The consumer is added first: the order comes from the dependencies.
        let backend = TestBackend::builder()
            .add_static(
                "reader",
                greenroom_sdk::root_module! {
                    plugins: { "text-reader" => register_text_reader },
                },
            )
            .add_static(
                "loud",
                greenroom_sdk::root_module! {
                    plugins: { "loud-text" => register_loud_text },
                },
            )
            .add_static(
                "original",
                greenroom_sdk::root_module! {
                    plugins: { "original-text" => register_original_text },
                },
            )
            .start()
            .await
            .expect("the backend starts");

        let texts: Vec<String> = backend
            .logs()
            .into_iter()
            .filter_map(|event| event.message.strip_prefix("text: ").map(str::to_string))
            .collect();
        assert_eq!(texts, ["HELLO!"]);
        backend.stop().await;
    });
}

fn register_named_greeting(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .provides_service("greeting.named", "1.0.0", ServiceScope::Plugin)
        .init(|context| async move {
            context.provide_factory("greeting.named", "1.0.0", |consumer| {
                tracing::info!("made for {consumer}");
                RString::from(format!("hello, {consumer}"))
            })
        });
    Ok(())
}

fn register_named_reader(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .depends_on_service("greeting.named", "^1")
        .init(|context| async move {
            let first = context.service::<RString>("greeting.named", "^1")?;
            let again = context.service::<RString>("greeting.named", "^1")?;
            assert!(std::ptr::eq(&*first, &*again), "one instance per plugin");
            tracing::info!("named: {}", *first);
            Ok(())
        });
    Ok(())
}

#[test]
fn a_plugin_scoped_service_makes_one_instance_per_consumer_when_asked() {
    runtime().block_on(async {
        let backend = TestBackend::builder()
            .add_static(
                "named",
                greenroom_sdk::root_module! {
                    plugins: { "named-greeting" => register_named_greeting },
                },
            )
            .add_static(
                "ann",
                greenroom_sdk::root_module! {
                    plugins: { "ann" => register_named_reader },
                },
            )
            .add_static(
                "bob",
                greenroom_sdk::root_module! {
                    plugins: { "bob" => register_named_reader },
                },
            )
            .start()
            .await
            .expect("the backend starts");

        let mut made: Vec<String> = Vec::new();
        let mut read: Vec<String> = Vec::new();
        for event in backend.logs() {
            if let Some(consumer) = event.message.strip_prefix("made for ") {
                made.push(consumer.to_string());
            } else if let Some(text) = event.message.strip_prefix("named: ") {
                read.push(text.to_string());
            }
        }
        made.sort();
        read.sort();
        assert_eq!(made, ["ann", "bob"]);
        assert_eq!(read, ["hello, ann", "hello, bob"]);
        assert_eq!(backend.stop().await, Vec::<String>::new());
    });
}

/// The interface of a service whose method may panic, so it answers with an
/// `RResult`.
#[allow(
    non_local_definitions,
    unsafe_code,
    reason = "abi_stable's sabi_trait expands to unsafe impl blocks inside constants"
)]
mod parser {
    use abi_stable::std_types::{RBox, RResult, RString};
    use greenroom_sdk::{PluginError, async_ffi::FfiFuture};

    #[abi_stable::sabi_trait]
    pub(super) trait Parser: Send + Sync {
        fn parse(&self, text: RString) -> RResult<u32, PluginError>;

        fn parse_later(&self, text: RString) -> FfiFuture<RResult<u32, PluginError>>;

        /// Panics with a payload that is not text and panics again when
        /// dropped.
        fn explode(&self) -> RResult<u32, PluginError>;

        /// Rethrows a panic past the panic hook, as `resume_unwind` does.
        #[sabi(last_prefix_field)]
        fn rethrow(&self) -> FfiFuture<RResult<u32, PluginError>>;
    }

    pub(super) type ParserBox = Parser_TO<'static, RBox<()>>;
}

use abi_stable::std_types::RResult;
use greenroom_sdk::{
    PluginError,
    async_ffi::{FfiFuture, FutureExt as _},
};
use parser::{Parser, Parser_TO, ParserBox};

struct Strict;

#[greenroom_sdk::contained]
impl Parser for Strict {
    fn parse(&self, text: RString) -> RResult<u32, PluginError> {
        RResult::ROk(text.parse::<u32>().expect("the text is a number"))
    }

    fn parse_later(&self, text: RString) -> FfiFuture<RResult<u32, PluginError>> {
        async move {
            tokio::task::yield_now().await;
            RResult::ROk(text.parse::<u32>().expect("the text is a number, later"))
        }
        .into_ffi()
    }

    fn explode(&self) -> RResult<u32, PluginError> {
        std::panic::panic_any(Bomb)
    }

    fn rethrow(&self) -> FfiFuture<RResult<u32, PluginError>> {
        async { std::panic::resume_unwind(Box::new("rethrown past the hook")) }.into_ffi()
    }
}

/// A panic payload whose destructor panics too.
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("the payload's destructor panicked");
    }
}

fn register_parser(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .provides_service("text.parser", "1.0.0", ServiceScope::Root)
        .init(|context| async move {
            let parser: ParserBox = Parser_TO::from_value(Strict, TD_Opaque);
            context.provide("text.parser", "1.0.0", parser)
        });
    Ok(())
}

fn register_parsing(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .depends_on_service("text.parser", "^1")
        .init(|context| async move {
            let parser = context.service::<ParserBox>("text.parser", "^1")?;
            for text in ["42", "forty-two"] {
                match parser.parse(text.into()).into_result() {
                    Ok(number) => tracing::info!("parsed: {number}"),
                    Err(error) => tracing::info!("refused: {}", error.message),
                }
                match parser.parse_later(text.into()).await.into_result() {
                    Ok(number) => tracing::info!("parsed: {number}"),
                    Err(error) => tracing::info!("refused: {}", error.message),
                }
            }
            // After the panics above, neither lends its message to these.
            let exploded = parser
                .explode()
                .into_result()
                .map_err(|error| error.message);
            tracing::info!("refused: {:?}", exploded);
            let rethrown = parser
                .rethrow()
                .await
                .into_result()
                .map_err(|error| error.message);
            tracing::info!("refused: {:?}", rethrown);
            Ok(())
        });
    Ok(())
}

#[test]
fn a_service_method_that_panics_under_contained_answers_its_caller_an_error() {
    runtime().block_on(async {
        let backend = TestBackend::builder()
            .add_static(
                "parser",
                greenroom_sdk::root_module! { plugins: { "parser" => register_parser } },
            )
            .add_static(
                "parsing",
                greenroom_sdk::root_module! { plugins: { "parsing" => register_parsing } },
            )
            .start()
            .await
            .expect("the backend starts");

        let outcomes: Vec<String> = backend
            .logs()
            .into_iter()
            .map(|event| event.message)
            .filter(|message| message.starts_with("parsed:") || message.starts_with("refused:"))
            .collect();
        assert_eq!(
            outcomes,
            [
                "parsed: 42",
                "parsed: 42",
                "refused: `Parser::parse` panicked: the text is a number: \
                 ParseIntError { kind: InvalidDigit }",
                "refused: `Parser::parse_later` panicked: the text is a number, later: \
                 ParseIntError { kind: InvalidDigit }",
                "refused: Err(\"`Parser::explode` panicked: a panic with a non-string payload\")",
                "refused: Err(\"`Parser::rethrow` panicked: a panic in a future whose message \
                 never reached the panic hook\")",
            ]
        );
        assert_eq!(backend.stop().await, Vec::<String>::new());
    });
}

/// What the replacement cache of the next test saw: (namespace, key) of
/// each `set`, and the entries.
static REPLACED_CACHE: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

/// A cache kept by a plugin in place of the host's.
struct MapCache(std::sync::Mutex<std::collections::HashMap<(String, String), Vec<u8>>>);

impl greenroom_contract::CacheService for MapCache {
    fn get(
        &self,
        namespace: RString,
        key: RString,
    ) -> abi_stable::std_types::RResult<
        abi_stable::std_types::ROption<abi_stable::std_types::RVec<u8>>,
        greenroom_sdk::PluginError,
    > {
        greenroom_sdk::contain(|| {
            let entries = self.0.lock().unwrap_or_else(|p| p.into_inner());
            entries
                .get(&(namespace.into_string(), key.into_string()))
                .map(|value| value.clone().into())
                .into()
        })
    }

    fn set(
        &self,
        namespace: RString,
        key: RString,
        value: abi_stable::std_types::RVec<u8>,
        _ttl_ms: u64,
    ) -> abi_stable::std_types::RResult<(), greenroom_sdk::PluginError> {
        greenroom_sdk::contain(|| {
            let entry = (namespace.into_string(), key.into_string());
            REPLACED_CACHE
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(entry.clone());
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(entry, value.into_vec());
        })
    }

    fn delete(
        &self,
        namespace: RString,
        key: RString,
    ) -> abi_stable::std_types::RResult<(), greenroom_sdk::PluginError> {
        greenroom_sdk::contain(|| {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&(namespace.into_string(), key.into_string()));
        })
    }
}

fn register_map_cache(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .provides_service("core.cache", "1.0.0", ServiceScope::Root)
        .init(|context| async move {
            let cache = greenroom_contract::CacheServiceBox::from_value(
                MapCache(std::sync::Mutex::default()),
                TD_Opaque,
            );
            context.provide("core.cache", "1.0.0", cache)
        });
    Ok(())
}

fn register_cache_user(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .depends_on_service("core.cache", "^1")
        .init(|context| async move {
            let cache = context.cache();
            cache.set("greeting", b"hello", Duration::from_secs(60));
            match cache.get("greeting") {
                Some(value) if value == b"hello" => Ok(()),
                other => Err(Error::msg(format!("the cache gave back {other:?}"))),
            }
        });
    Ok(())
}

#[test]
fn a_plugin_replaces_the_hosts_cache_for_the_plugins_that_depend_on_it() {
    runtime().block_on(async {
        let replacement = greenroom_sdk::root_module! {
            plugins: { "map-cache" => register_map_cache }
        };
        let user = greenroom_sdk::root_module! { plugins: { "cache-user" => register_cache_user } };
        let backend = TestBackend::builder()
            .add_static("map-cache", replacement)
            .add_static("cache-user", user)
            .start()
            .await
            .expect("the backend starts");

        let started = backend
            .report()
            .plugin("cache-user")
            .expect("cache-user is reported");
        assert_eq!(
            started.status,
            FeatureStatus::Started,
            "{:?}",
            started.error
        );
        assert_eq!(
            *REPLACED_CACHE.lock().unwrap_or_else(|p| p.into_inner()),
            [("cache-user".to_string(), "greeting".to_string())]
        );
        assert_eq!(backend.stop().await, Vec::<String>::new());
    });
}

/// How many registrations the `points` plugin read each time it started.
static POINTS_READ: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());

fn register_points(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .provides_extension_point("points.words", "1.0.0")
        .init(|context| async move {
            let read = context.extensions::<RString>("points.words")?.len();
            POINTS_READ
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(read);
            Ok(())
        });
    Ok(())
}

fn register_adder(module: &mut greenroom_sdk::ModuleRegistrar) -> Result<(), Error> {
    module
        .depends_on_extension_point("points.words", "^1")
        .init(|context| async move {
            context.register_extension("points.words", RString::from("word"))
        });
    Ok(())
}

#[test]
fn a_restarted_plugin_reads_its_modules_registrations_once_not_again_and_again() {
    runtime().block_on(async {
        let library = greenroom_sdk::root_module! {
            plugins: { "points" => register_points },
            modules: { ("points", "adder") => register_adder },
        };
        let mut backend = TestBackend::builder()
            .add_static("points", library)
            .start()
            .await
            .expect("the backend starts");

        for _ in 0..2 {
            let restarted = backend.restart_plugin("points").await.expect("it restarts");
            assert_eq!(
                restarted.status,
                FeatureStatus::Started,
                "{:?}",
                restarted.error
            );
        }

        assert_eq!(
            *POINTS_READ.lock().unwrap_or_else(|p| p.into_inner()),
            [1, 1, 1]
        );
        assert_eq!(backend.stop().await, Vec::<String>::new());
    });
}
