//! Panics in a plugin that already started: in a scheduled task or a
//! startup hook the plugin is marked failed and the others go on.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use greenroom_host::{initialize::FeatureStatus, resolve::Node};
use greenroom_sdk::{Error, PluginRegistrar};
use greenroom_test_kit::TestBackend;

use crate::artifacts::runtime;

/// How many times the panicking task ran.
static TICKS: AtomicUsize = AtomicUsize::new(0);

fn register_ticker(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin.init(|context| async move {
        context.schedule_every("tick", Duration::from_millis(10), || async {
            TICKS.fetch_add(1, Ordering::SeqCst);
            panic!("the tick found its state broken");
        })
    });
    Ok(())
}

fn register_bystander(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin.init(|_| async { Ok(()) });
    Ok(())
}

#[test]
fn a_panicking_scheduled_task_marks_its_plugin_failed_and_stops_its_tasks() {
    runtime().block_on(async {
        let backend = TestBackend::builder()
            .add_static(
                "ticker",
                greenroom_sdk::root_module! { plugins: { "ticker" => register_ticker } },
            )
            .add_static(
                "bystander",
                greenroom_sdk::root_module! { plugins: { "bystander" => register_bystander } },
            )
            .start()
            .await
            .expect("the backend starts");
        assert_eq!(
            backend.get("/api/ticker/", None).await.status,
            404,
            "no routes yet"
        );

        let mut answered = backend.get("/api/ticker/", None).await;
        for _ in 0..500 {
            if answered.status == 503 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            answered = backend.get("/api/ticker/", None).await;
        }
        assert_eq!(answered.status, 503, "{}", answered.text());
        assert_eq!(
            answered.json()["error"]["message"],
            "plugin `ticker` failed while running: its scheduled task `tick` panicked: the tick \
             found its state broken"
        );
        // Its tasks stopped: ten more periods pass without another run.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(TICKS.load(Ordering::SeqCst), 1);

        let readiness = backend.get("/.backstage/health/v1/readiness", None).await;
        assert_eq!(readiness.status, 200, "the host still serves the others");
        assert_eq!(
            readiness.json()["plugins"],
            serde_json::json!({ "bystander": "started", "ticker": "failed" })
        );
        let instance = backend.get("/.greenroom/v1/instance", None).await;
        assert_eq!(
            instance.json()["plugins"]["ticker"],
            serde_json::json!({
                "status": "failed",
                "error": "failed while running: its scheduled task `tick` panicked: the tick \
                          found its state broken"
            })
        );
        assert_eq!(
            instance.json()["plugins"]["bystander"],
            serde_json::json!({ "status": "started" })
        );
        let marked = backend
            .logs()
            .into_iter()
            .filter(|event| {
                event
                    .message
                    .starts_with("plugin `ticker` is marked failed")
            })
            .count();
        assert_eq!(marked, 1);
        assert_eq!(backend.stop().await, Vec::<String>::new());
    });
}

fn register_fragile(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .provides_service("fragile.api", "1.0.0", greenroom_sdk::ServiceScope::Root)
        .init(|context| async move {
            context.on_startup(|| async { panic!("the startup hook lost its connection") });
            context.provide(
                "fragile.api",
                "1.0.0",
                abi_stable::std_types::RString::from("x"),
            )
        });
    Ok(())
}

fn register_fragile_user(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .depends_on_service("fragile.api", "^1")
        .init(|_| async { Ok(()) });
    Ok(())
}

#[test]
fn a_panicking_startup_hook_fails_its_plugin_and_skips_its_dependents() {
    runtime().block_on(async {
        let backend = TestBackend::builder()
            .add_static(
                "fragile",
                greenroom_sdk::root_module! {
                    plugins: { "fragile" => register_fragile },
                },
            )
            .add_static(
                "user",
                greenroom_sdk::root_module! {
                    plugins: { "fragile-user" => register_fragile_user },
                },
            )
            .add_static(
                "bystander",
                greenroom_sdk::root_module! {
                    plugins: { "bystander" => register_bystander },
                },
            )
            .failure_policy(Arc::new(|node: &Node| {
                node.plugin_id().as_str() != "bystander"
            }))
            .start()
            .await
            .expect("the policy lets them fail");

        let report = backend.report();
        let fragile = report.plugin("fragile").expect("it is reported");
        assert_eq!(fragile.status, FeatureStatus::Failed);
        assert_eq!(
            fragile.error.as_deref(),
            Some("a startup hook panicked: the startup hook lost its connection")
        );
        let user = report.plugin("fragile-user").expect("it is reported");
        assert_eq!(user.status, FeatureStatus::Skipped);
        let bystander = report.plugin("bystander").expect("it is reported");
        assert_eq!(bystander.status, FeatureStatus::Started);
        let answered = backend.get("/api/fragile/", None).await;
        assert_eq!(
            answered.json()["error"]["message"],
            "plugin `fragile` failed to start: a startup hook panicked: the startup hook lost \
             its connection"
        );
        assert_eq!(backend.stop().await, Vec::<String>::new());
    });
}

fn register_quiet(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin.init(|_| async {
        tracing::info!("quiet started");
        Ok(())
    });
    Ok(())
}

// The SDK linked into a host that installed no subscriber is the host's
// subscriber too: the host's event for a forwarded one used to come back to
// the forwarder until the stack overflowed.
#[test]
fn an_embedded_host_without_a_subscriber_restarts_a_linked_in_plugin() {
    runtime().block_on(async {
        let mut running = greenroom_host::Backend::new()
            .no_plugins_dir()
            .private_dir(crate::artifacts::scratch("panics-quiet"))
            .add_static(
                "quiet",
                greenroom_sdk::root_module! { plugins: { "quiet" => register_quiet } },
            )
            .load()
            .expect("it loads")
            .start()
            .await
            .expect("it starts");

        let restarted = running.restart_plugin("quiet").await.expect("it restarts");

        assert_eq!(
            restarted.status,
            FeatureStatus::Started,
            "{:?}",
            restarted.error
        );
        assert_eq!(running.stop().await, Vec::<String>::new());
    });
}

fn register_hasty(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin.init(|context| async move {
        context.schedule_every("early", Duration::from_millis(5), || async {
            panic!("the early task found nothing to work on");
        })?;
        // Still initializing when the task first runs.
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok(())
    });
    Ok(())
}

#[test]
fn a_task_that_panics_while_its_plugin_initializes_fails_the_initialization() {
    runtime().block_on(async {
        let backend = TestBackend::builder()
            .add_static(
                "hasty",
                greenroom_sdk::root_module! { plugins: { "hasty" => register_hasty } },
            )
            .failure_policy(Arc::new(|_: &Node| true))
            .start()
            .await
            .expect("the policy lets it fail");

        let hasty = backend.report().plugin("hasty").expect("it is reported");
        assert_eq!(hasty.status, FeatureStatus::Failed);
        assert_eq!(
            hasty.error.as_deref(),
            Some(
                "its scheduled task `early` panicked: the early task found nothing to work on, \
                 during its initialization"
            )
        );
        let answered = backend.get("/api/hasty/", None).await;
        assert_eq!(answered.status, 503);
        assert_eq!(backend.stop().await, Vec::<String>::new());
    });
}
