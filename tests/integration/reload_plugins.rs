//! Development mode's drop-in: plugin files replaced while the host runs
//! load as a new generation beside the old one, which finishes what it
//! answers; a broken file leaves the old generation serving.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{body::Body, http::Request};
use camino::{Utf8Path, Utf8PathBuf};
use greenroom_host::{
    Backend, FileChange, RunningBackend,
    serve::{AuthPolicy, HttpOptions},
};
use tower::ServiceExt as _;

use crate::artifacts::{fixture, renumbered, scratch};

const DEADLINE: Duration = Duration::from_secs(30);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime starts")
}

/// A plugins directory holding a copy of each fixture, named after it.
fn plugins_dir(test: &str, fixtures: &[&str]) -> Utf8PathBuf {
    let dir = scratch(test).join("plugins");
    std::fs::create_dir_all(&dir).expect("scratch directories can be created");
    for name in fixtures {
        std::fs::copy(fixture(name), dir.join(format!("{name}.so"))).expect("fixtures copy");
    }
    dir
}

async fn start(test: &str, dir: &Utf8Path) -> RunningBackend {
    let drain = HttpOptions::default().drain_timeout;
    start_following(test, dir, Backend::new(), drain).await
}

/// Starts `backend` following the plugins in `dir`, its routes open to every
/// caller, and an old generation drained for at most `drain`.
async fn start_following(
    test: &str,
    dir: &Utf8Path,
    backend: Backend,
    drain: Duration,
) -> RunningBackend {
    let options = HttpOptions {
        auth: AuthPolicy {
            open: true,
            tokens: Vec::new(),
        },
        drain_timeout: drain,
        ..HttpOptions::default()
    };
    backend
        .plugins_dir(dir)
        .private_dir(scratch(&format!("{test}-private")))
        .http_options(options)
        .watch_plugins(true)
        .load()
        .expect("the plugins load")
        .start()
        .await
        .expect("the plugins start")
}

/// Writes `bytes` next to `dest` and renames it over `dest`.
fn replace(dest: &Utf8Path, source: &Utf8Path) {
    let temporary = dest.with_file_name(".incoming.tmp");
    std::fs::copy(source, &temporary).expect("the new file is written");
    std::fs::rename(&temporary, dest).expect("the new file is renamed over the old");
}

async fn get(router: &axum::Router, path: &str) -> (u16, Option<u64>, String) {
    let request = Request::get(path).body(Body::empty()).expect("a request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let generation = response
        .headers()
        .get("x-greenroom-generation")
        .and_then(|value| value.to_str().ok()?.parse().ok());
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("the body is read");
    (
        status,
        generation,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

async fn instance(router: &axum::Router) -> serde_json::Value {
    let (_, _, body) = get(router, "/.greenroom/v1/instance").await;
    serde_json::from_str(&body).expect("the instance is JSON")
}

#[test]
fn a_request_in_flight_finishes_on_the_old_generation_after_the_new_one_answered() {
    let dir = plugins_dir("reload-in-flight", &["web"]);
    let next = renumbered(
        &fixture("web"),
        &[("pong", "gnop")],
        &scratch("reload-in-flight-next").join("web.so"),
    );
    runtime().block_on(async {
        let mut running = start("reload-in-flight", &dir).await;
        let router = running.router();
        let sequence = Arc::new(AtomicU64::new(0));

        let held = tokio::spawn({
            let (router, sequence) = (router.clone(), sequence.clone());
            async move {
                let answer = get(&router, "/api/web/sleep?ms=1500").await;
                (answer, sequence.fetch_add(1, Ordering::SeqCst))
            }
        });
        tokio::task::yield_now().await;
        let stop = Arc::new(AtomicBool::new(false));
        let load = tokio::spawn({
            let (router, sequence, stop) = (router.clone(), sequence.clone(), stop.clone());
            async move {
                let (mut failed, mut first_new) = (Vec::new(), None);
                while !stop.load(Ordering::SeqCst) {
                    let (status, generation, body) = get(&router, "/api/web/open/ping").await;
                    if status != 200 {
                        failed.push((status, body));
                    } else if generation == Some(2) && first_new.is_none() {
                        assert_eq!(body, "gnop");
                        first_new = Some(sequence.fetch_add(1, Ordering::SeqCst));
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                (failed, first_new)
            }
        });

        replace(&dir.join("web.so"), &next);
        let started = Instant::now();
        let outcome = loop {
            assert!(
                started.elapsed() < DEADLINE,
                "the replacement was never noticed"
            );
            let outcomes = running
                .follow_plugin_files()
                .await
                .expect("the directory is followed");
            if let Some(outcome) = outcomes.into_iter().find(|outcome| outcome.is_ok()) {
                break outcome;
            }
        };
        assert_eq!(outcome, Ok(FileChange::Reloaded(vec!["web".to_string()])));

        let ((status, generation, body), held_done) = held.await.expect("the held request ends");
        stop.store(true, Ordering::SeqCst);
        let (failed, first_new) = load.await.expect("the load ends");
        assert_eq!(
            (status, generation, body.as_str()),
            (200, Some(1), "slept 1500 ms")
        );
        assert_eq!(failed, Vec::<(u16, String)>::new());
        let first_new = first_new.expect("the new generation answered");
        assert!(
            first_new < held_done,
            "generation 2 answered before the held request ended"
        );
        assert_eq!(get(&router, "/api/web/open/ping").await.1, Some(2));
        let instance = instance(&router).await;
        assert_eq!(instance["generations"]["web"], 2);
        assert_eq!(instance["libraries_loaded"], 2);
        assert_eq!(running.stop().await, Vec::<String>::new());
    });
}

#[test]
fn a_reloaded_provider_gives_its_restarted_dependent_the_new_service() {
    let dir = plugins_dir("reload-provider", &["counter-provider", "counter-consumer"]);
    let next = renumbered(
        &fixture("counter-provider"),
        &[("the counter plugin", "the counter PLUGIN")],
        &scratch("reload-provider-next").join("counter-provider.so"),
    );
    runtime().block_on(async {
        let mut running = start("reload-provider", &dir).await;
        replace(&dir.join("counter-provider.so"), &next);

        let outcome = running
            .apply_file_change(&dir.join("counter-provider.so"))
            .await;

        // The consumer counts 1, 2, 3 only with a fresh counter: the new
        // provider's, not the old one it counted to 3 with.
        let restarted = vec!["counter".to_string(), "counter-user".to_string()];
        assert_eq!(outcome, Ok(FileChange::Reloaded(restarted)));
        let user = running.report().plugin("counter-user").unwrap();
        assert_eq!(user.error, None);
        let instance = instance(&running.router()).await;
        assert_eq!(instance["generations"]["counter"], 2);
        assert_eq!(instance["generations"]["counter-user"], 2);
        assert_eq!(running.stop().await, Vec::<String>::new());
    });
}

#[test]
fn a_broken_or_foreign_file_leaves_the_old_generation_serving() {
    let dir = plugins_dir("reload-broken", &["web"]);
    let bytes = std::fs::read(fixture("web")).expect("the fixture is readable");
    let truncated = scratch("reload-broken-next").join("web.so");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("scratch files can be written");
    runtime().block_on(async {
        let mut running = start("reload-broken", &dir).await;
        let router = running.router();
        let web = dir.join("web.so");

        replace(&web, &truncated);
        let truncated_outcome = running.apply_file_change(&web).await;
        replace(&web, &fixture("counter-provider"));
        let foreign_outcome = running.apply_file_change(&web).await;

        assert!(truncated_outcome.is_err(), "{truncated_outcome:?}");
        let foreign = foreign_outcome.expect_err("a file with other plugin ids is refused");
        assert!(
            foreign
                .reason
                .contains("provides plugins [counter] but the running one [web]"),
            "{foreign}"
        );
        assert_eq!(
            get(&router, "/api/web/open/ping").await,
            (200, Some(1), "pong".into())
        );
        let instance = instance(&router).await;
        assert_eq!(instance["generations"]["web"], 1);
        assert_eq!(
            instance["refused_changes"][web.as_str()],
            foreign.reason.as_str()
        );
        assert_eq!(running.stop().await, Vec::<String>::new());
    });
}

#[test]
fn a_file_copied_over_in_place_is_only_a_replacement() {
    let dir = plugins_dir("reload-in-place", &["web"]);
    let next = renumbered(
        &fixture("web"),
        &[("pong", "gnop")],
        &scratch("reload-in-place-next").join("web.so"),
    );
    runtime().block_on(async {
        let mut running = start("reload-in-place", &dir).await;
        let router = running.router();
        let web = dir.join("web.so");
        let bytes = std::fs::read(&next).expect("the copy is readable");

        // Half written, as a copy in progress looks, then complete.
        std::fs::write(&web, &bytes[..bytes.len() / 3]).expect("the file is overwritten");
        let partial = running.apply_file_change(&web).await;
        let old_answer = get(&router, "/api/web/open/ping").await;
        std::fs::write(&web, &bytes).expect("the file is overwritten");
        let complete = running.apply_file_change(&web).await;

        assert!(partial.is_err(), "{partial:?}");
        assert_eq!(old_answer, (200, Some(1), "pong".into()));
        assert_eq!(complete, Ok(FileChange::Reloaded(vec!["web".to_string()])));
        assert_eq!(
            get(&router, "/api/web/open/ping").await,
            (200, Some(2), "gnop".into())
        );
        assert_eq!(running.stop().await, Vec::<String>::new());
    });
}

#[test]
fn removing_a_module_s_file_restarts_its_plugin_without_it() {
    let dir = plugins_dir("reload-module-removed", &["specimen", "specimen-module"]);
    runtime().block_on(async {
        let mut running = start("reload-module-removed", &dir).await;
        let modules = |running: &RunningBackend| -> Vec<String> {
            let plugin = running.report().plugin("specimen-0000").unwrap();
            plugin
                .modules
                .iter()
                .map(|m| m.module_id.to_string())
                .collect()
        };
        assert_eq!(modules(&running), ["addition-0000"]);

        let module_file = dir.join("specimen-module.so");
        std::fs::remove_file(&module_file).expect("the module's file is removed");
        let outcome = running.apply_file_change(&module_file).await;

        assert_eq!(outcome, Ok(FileChange::Stopped(Vec::new())));
        assert_eq!(modules(&running), Vec::<String>::new());
        let instance = instance(&running.router()).await;
        assert_eq!(instance["generations"]["specimen-0000"], 2);
        assert_eq!(running.stop().await, Vec::<String>::new());
    });
}

#[test]
fn a_replaced_handler_no_request_holds_is_not_waited_for() {
    let dir = plugins_dir("reload-repeated", &["web"]);
    let bytes = std::fs::read(fixture("web")).expect("the fixture is readable");
    runtime().block_on(async {
        // A drain that waited for a handler nothing holds would outlast the
        // deadline below.
        let drain = Duration::from_secs(3600);
        let mut running = start_following("reload-repeated", &dir, Backend::new(), drain).await;
        let web = dir.join("web.so");
        for round in 2..=4_u64 {
            // A trailer makes each copy's content, and so its digest, new.
            let mut copy = bytes.clone();
            copy.extend_from_slice(format!("round {round}").as_bytes());
            std::fs::write(&web, &copy).expect("the file is overwritten");
            let outcome = tokio::time::timeout(DEADLINE, running.apply_file_change(&web))
                .await
                .unwrap_or_else(|_| panic!("reload {round} still drained after {DEADLINE:?}"));
            assert_eq!(outcome, Ok(FileChange::Reloaded(vec!["web".to_string()])));
            assert_eq!(
                get(&running.router(), "/api/web/open/ping").await,
                (200, Some(round), "pong".into())
            );
        }
        let memory = &instance(&running.router()).await["memory"];
        assert_eq!(memory["libraries_retired"], 3);
        assert!(memory["resident_bytes"].as_u64() > Some(0), "{memory}");
        assert!(
            memory["growth_per_retired_library_bytes"].is_u64(),
            "{memory}"
        );
        assert_eq!(running.stop().await, Vec::<String>::new());
    });
}

#[test]
fn a_new_file_whose_schema_the_running_configuration_breaks_is_refused() {
    let dir = plugins_dir("reload-schema", &["configured"]);
    // The new build requires `mode`, which the configuration does not set.
    let next = renumbered(
        &fixture("configured"),
        &[(r#"["token"]"#, r#"["mode" ]"#)],
        &scratch("reload-schema-next").join("configured.so"),
    );
    let config_file = scratch("reload-schema").join("app-config.yaml");
    std::fs::write(&config_file, "configured:\n  token: t\n").expect("the config is written");
    let config = greenroom_host::config::ConfigLoader::new()
        .file(&config_file)
        .load()
        .expect("the configuration loads");
    runtime().block_on(async {
        let backend = Backend::from_config(config).expect("the host settings are valid");
        let drain = HttpOptions::default().drain_timeout;
        let mut running = start_following("reload-schema", &dir, backend, drain).await;
        let file = dir.join("configured.so");
        replace(&file, &next);

        let refused = running
            .apply_file_change(&file)
            .await
            .expect_err("the new schema does not fit");

        assert!(
            refused
                .reason
                .starts_with("the running configuration does not fit the new file's schema: ")
                && refused.reason.contains("mode"),
            "{refused}"
        );
        let (status, generation, _) = get(&running.router(), "/api/configured/config").await;
        assert_eq!((status, generation), (200, Some(1)));
        assert_eq!(running.stop().await, Vec::<String>::new());
    });
}

/// A `greenroom` child process, killed when the test ends however it ends.
struct Host(std::process::Child);

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn reloading_a_plugin_starts_its_module_and_its_dependent_again() {
    use crate::artifacts::{Specimen, greenroom, write_specimens};

    let dir = scratch("reload-module-dependent");
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).expect("scratch directories can be created");
    let files = write_specimens(
        &plugins,
        &[
            Specimen::Plugin("specimen-0001"),
            Specimen::Module("specimen-0001", "addition-0001"),
            Specimen::Plugin("specimen-0002"),
        ],
    );
    let log = dir.join("stderr.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let _host = Host(
        std::process::Command::new(greenroom())
            .args(["start", "--dev", "--plugins", plugins.as_str()])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .current_dir(&dir)
            .env(
                "GREENROOM_SPECIMEN",
                "specimen-0002 needs plugin specimen-0001 ^1",
            )
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).expect("the log file is created"))
            .spawn()
            .expect("greenroom starts"),
    );
    let stderr = || std::fs::read_to_string(&log).unwrap_or_default();
    let wait_for = |what: &str, found: &dyn Fn(&str) -> bool| {
        let started = Instant::now();
        while !found(&stderr()) {
            assert!(started.elapsed() < DEADLINE, "{what}:\n{}", stderr());
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for("the host watching its plugins", &|log| {
        log.contains("watching the plugins directory")
    });

    let mut next = std::fs::read(&files[0]).expect("the plugin's file is readable");
    next.extend_from_slice(b"a new build");
    let temporary = plugins.join(".next.tmp");
    std::fs::write(&temporary, next).expect("the new build is written");
    std::fs::rename(&temporary, &files[0]).expect("the new build is renamed over the old");

    wait_for("the new generation serving", &|log| {
        log.contains("new generation serving")
    });
    let log = stderr();
    let initialized = |feature: &str| {
        log.lines()
            .filter(|line| line.contains("specimen initializing") && line.contains(feature))
            .count()
    };
    assert_eq!(initialized("specimen-0001/addition-0001"), 2, "{log}");
    assert_eq!(initialized("feature=specimen-0002"), 2, "{log}");
    let serving = log
        .lines()
        .find(|line| line.contains("new generation serving"))
        .expect("the line was waited for");
    assert!(
        serving.contains("specimen-0001, specimen-0002"),
        "{serving}"
    );
}
