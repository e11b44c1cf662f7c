//! Services between plugins: a typed handle crosses from provider to
//! consumer only after the host checked the version and the layout.

use greenroom_host::{Backend, StartError, initialize::FeatureStatus};

use crate::artifacts::{fixture, scratch};

fn backend(test: &str, fixtures: &[&str]) -> Backend {
    let mut backend = Backend::new().no_plugins_dir().private_dir(scratch(test));
    for name in fixtures {
        backend = backend.file(fixture(name));
    }
    backend
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime starts")
}

#[test]
fn a_consumer_calls_the_service_its_provider_offered() {
    let loaded = backend("service-ok", &["counter-provider", "counter-consumer"])
        .load()
        .expect("the libraries load");

    let running = runtime()
        .block_on(loaded.start())
        .expect("both plugins start");

    let report = running.report();
    assert_eq!(
        report.plugin("counter").unwrap().status,
        FeatureStatus::Started
    );
    let user = report.plugin("counter-user").unwrap();
    assert_eq!(
        (user.status, user.error.as_deref()),
        (FeatureStatus::Started, None)
    );
    assert_eq!(runtime().block_on(running.stop()), Vec::<String>::new());
}

#[test]
fn a_consumer_built_against_another_layout_gets_no_handle() {
    let loaded = backend(
        "service-layout",
        &["counter-provider", "counter-consumer-next"],
    )
    .load()
    .expect("the libraries load");

    let Err(StartError::Aborted { report, .. }) = runtime().block_on(loaded.start()) else {
        panic!("the start must abort on the consumer's failure");
    };

    assert_eq!(
        report.plugin("counter").unwrap().status,
        FeatureStatus::Started
    );
    let user = report.plugin("counter-user-next").unwrap();
    assert_eq!(user.status, FeatureStatus::Failed);
    let error = user.error.as_deref().unwrap();
    let lines: Vec<&str> = error.lines().collect();
    assert_eq!(
        lines[..2],
        [
            "plugin `counter-user-next` and plugin `counter` were built against \
             different versions of service `counter.api`'s interface; rebuild one of them",
            "layout error: mismatched package: expected `greenroom-fixture-counter-interface-next`, \
             found `greenroom-fixture-counter-interface`",
        ]
    );
}

#[test]
fn a_consumer_without_a_provider_is_refused_before_anything_starts() {
    let loaded = backend("service-missing", &["counter-consumer"])
        .load()
        .expect("the library loads");

    let problems: Vec<String> = loaded
        .resolution()
        .expect_err("nothing provides the service")
        .iter()
        .map(ToString::to_string)
        .collect();

    assert_eq!(
        problems,
        [
            "plugin `counter-user` needs service `counter.api` ^1, which nothing installed \
          provides; install what provides it, or declare the dependency optional"
        ]
    );
}
