//! The configuration as `greenroom start`, `check` and `graph` use it: the
//! plugins directory, which plugins load, the failure policy, and every
//! plugin's slice checked against its schema before anything starts.

use greenroom_host::{Backend, StartError, config::ConfigLoader};
use serde_json::Value;

use super::{assert_exit, greenroom_in, plugins_dir_with, stderr, stdout, write};
use crate::artifacts::{Specimen, fixture, http_get_as, scratch, write_specimens};

/// The startup report `start --once` printed.
pub(super) fn startup(output: &std::process::Output) -> Value {
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "start --once prints JSON ({error}):\n{}\nstderr:\n{}",
            stdout(output),
            stderr(output)
        )
    });
    summary["startup"].clone()
}

#[test]
fn an_excluded_library_is_left_out_before_any_of_its_code_runs() {
    let dir = scratch("config-start-excluded");
    let plugins = plugins_dir_with(&dir, &["register-panics", "minimal"]);
    write(
        &dir,
        "app-config.yaml",
        "backend:\n  plugins:\n    exclude:\n      - panics\n",
    );

    let check = greenroom_in(&dir, &["check"], &[]);
    let start = greenroom_in(&dir, &["start", "--once"], &[("RUST_LOG", "info")]);

    assert_exit(&check, 0);
    let excluded = format!(
        "excluded {plugins}/libgreenroom_fixture_register_panics.so: plugin `panics` is excluded \
         by `panics` in backend.plugins.exclude[0] (app-config.yaml:4); remove that entry to load \
         it\n"
    );
    assert!(stdout(&check).contains(&excluded), "{}", stdout(&check));
    assert_exit(&start, 0);
    assert!(
        stderr(&start).contains(excluded.trim_end()),
        "{}",
        stderr(&start)
    );
    for output in [&check, &start] {
        assert!(
            !stderr(output).contains("always panics"),
            "{}",
            stderr(output)
        );
        assert!(
            !stdout(output).contains("always panics"),
            "{}",
            stdout(output)
        );
    }
    let report = startup(&start);
    let plugin_ids: Vec<&str> = report["plugins"]
        .as_array()
        .expect("a list of plugins")
        .iter()
        .filter_map(|plugin| plugin["plugin_id"].as_str())
        .collect();
    assert_eq!(plugin_ids, ["minimal"]);
}

#[test]
fn a_module_library_follows_the_selection_of_its_plugin() {
    let dir = scratch("config-start-mixed");
    let files = write_specimens(&dir, &[Specimen::Module("specimen-0001", "addition-0001")]);
    write(
        &dir,
        "app-config.yaml",
        "backend:\n  plugins:\n    include: [specimen-0002]\n",
    );

    let output = greenroom_in(&dir, &["check", "--plugins", dir.as_str()], &[]);

    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains(&format!(
            "excluded {}: plugin `specimen-0001` matches no entry of backend.plugins.include \
             (app-config.yaml:3); add it there to load it",
            files[0]
        )),
        "{}",
        stdout(&output)
    );
}

#[test]
fn the_plugins_directory_comes_from_the_configuration_unless_given() {
    let dir = scratch("config-start-dir");
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::copy(fixture("minimal"), elsewhere.join("libminimal.so")).unwrap();
    write(
        &dir,
        "app-config.yaml",
        "backend:\n  plugins:\n    dir: elsewhere\n",
    );
    std::fs::create_dir_all(dir.join("empty")).unwrap();

    let configured = greenroom_in(&dir, &["check"], &[]);
    let given = greenroom_in(&dir, &["check", "--plugins", "empty"], &[]);

    assert_exit(&configured, 0);
    assert!(
        stdout(&configured).starts_with(&format!("ok      {elsewhere}/libminimal.so\n")),
        "{}",
        stdout(&configured)
    );
    assert_exit(&given, 0);
    assert!(!stdout(&given).contains("libminimal"), "{}", stdout(&given));
}

#[test]
fn policy_continue_lets_a_failing_plugin_fail_without_aborting() {
    let dir = scratch("config-start-continue");
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    write_specimens(
        &plugins,
        &[
            Specimen::Plugin("specimen-0001"),
            Specimen::Plugin("specimen-0002"),
        ],
    );
    let env = [("GREENROOM_SPECIMEN", "specimen-0001 init fail")];

    let aborted = greenroom_in(&dir, &["start", "--once"], &env);
    write(
        &dir,
        "app-config.yaml",
        "backend:\n  startup:\n    plugins:\n      specimen-0001:\n        \
         onPluginBootFailure: continue\n",
    );
    let continued = greenroom_in(&dir, &["start", "--once"], &env);

    assert_exit(&aborted, 1);
    assert_exit(&continued, 0);
    let report = startup(&continued);
    assert_eq!(report["ok"], true);
    let plugins = report["plugins"].as_array().expect("a list of plugins");
    assert_eq!(plugins[0]["plugin_id"], "specimen-0001");
    assert_eq!(plugins[0]["status"], "failed");
    assert_eq!(plugins[0]["failure_allowed"], true);
    assert_eq!(plugins[1]["status"], "started");
}

#[test]
fn a_schema_error_in_a_plugin_slice_stops_the_start_naming_file_line_key_and_rule() {
    let dir = scratch("config-start-schema");
    plugins_dir_with(&dir, &["configured"]);
    write(
        &dir,
        "app-config.yaml",
        "configured:\n  token: t\n  refresh:\n    interval: soon\n  mode: quick\n",
    );
    let expected = [
        "app-config.yaml:4: configured.refresh.interval: expected number, found string \"soon\"",
        "app-config.yaml:5: configured.mode: expected one of [\"fast\",\"slow\"], found string \
         \"quick\"",
    ];

    let start = greenroom_in(&dir, &["start", "--once"], &[]);
    let check = greenroom_in(&dir, &["check"], &[]);

    assert_exit(&start, 1);
    let summary: serde_json::Value =
        serde_json::from_str(&stdout(&start)).expect("start --once prints JSON");
    assert_eq!(summary["startup"], serde_json::Value::Null);
    assert_eq!(
        summary["problems"],
        serde_json::json!([format!(
            "the configuration is invalid:\n  {}\n  {}",
            expected[0], expected[1]
        )])
    );
    assert!(
        stderr(&start).contains(&format!(
            "the configuration is invalid:\n  {}\n  {}",
            expected[0], expected[1]
        )),
        "{}",
        stderr(&start)
    );
    assert!(!stderr(&start).contains("started"), "{}", stderr(&start));
    assert_exit(&check, 1);
    for line in expected {
        assert!(
            stdout(&check).contains(&format!("error: {line}\n")),
            "{}",
            stdout(&check)
        );
    }
}

#[test]
fn strict_turns_unknown_keys_into_errors_that_stop_the_start() {
    let dir = scratch("config-start-strict");
    plugins_dir_with(&dir, &["configured"]);
    write(
        &dir,
        "app-config.yaml",
        "configured:\n  token: t\n  tokn: typo\n",
    );
    let unknown = "app-config.yaml:3: configured.tokn: unknown key: the schema does not declare \
                   it; check the spelling";

    let lax = greenroom_in(&dir, &["start", "--once"], &[]);
    let strict = greenroom_in(&dir, &["start", "--once", "--strict"], &[]);

    assert_exit(&lax, 0);
    assert!(stderr(&lax).contains(unknown), "{}", stderr(&lax));
    assert_exit(&strict, 1);
    assert!(
        stderr(&strict).contains(&format!("the configuration is invalid:\n  {unknown}")),
        "{}",
        stderr(&strict)
    );
}

#[test]
fn a_bad_host_setting_stops_the_start_with_its_file_and_line() {
    let dir = scratch("config-start-host");
    write(
        &dir,
        "app-config.yaml",
        "backend:\n  startup:\n    initTimeout: soon\n  resolve:\n    orphanModules: maybe\n",
    );

    let output = greenroom_in(&dir, &["start", "--once"], &[]);

    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        "error: app-config.yaml:3: backend.startup.initTimeout: expected duration such as 30, \
         30s, 500ms or 2m, found string \"soon\"\n\
         error: app-config.yaml:5: backend.resolve.orphanModules: expected `warn` or `error`, \
         found string \"maybe\"\n"
    );
}

/// Secrets brought in from the environment, each also a wrong value so that
/// some problem is about it.
const SECRET_ENV: [(&str, &str); 2] = [
    ("TOKEN_VALUE", "token-SECRET-1"),
    ("INTERVAL_VALUE", "interval-SECRET-2"),
];

fn assert_no_secret(what: &str, text: &str) {
    for (_, secret) in SECRET_ENV {
        assert!(!text.contains(secret), "{what} shows {secret}:\n{text}");
    }
}

#[test]
fn a_secret_from_the_environment_never_shows_in_output_errors_or_the_instance_endpoint() {
    let dir = scratch("config-start-secret");
    plugins_dir_with(&dir, &["configured"]);
    write(
        &dir,
        "good.yaml",
        "configured:\n  token: ${TOKEN_VALUE}\nbackend:\n  auth:\n    externalAccess:\n      - \
         type: static\n        options:\n          token: reader-token\n          subject: reader\n",
    );
    write(
        &dir,
        "bad.yaml",
        "configured:\n  token: ${TOKEN_VALUE}\n  refresh:\n    interval: ${INTERVAL_VALUE}\n",
    );
    let mut env = SECRET_ENV.to_vec();
    env.push(("RUST_LOG", "trace"));

    let good = greenroom_in(&dir, &["start", "--once", "--config", "good.yaml"], &env);
    let bad = greenroom_in(&dir, &["start", "--once", "--config", "bad.yaml"], &env);
    let check = greenroom_in(&dir, &["check", "--config", "bad.yaml"], &env);

    assert_exit(&good, 0);
    assert_exit(&bad, 1);
    assert_exit(&check, 1);
    for output in [&good, &bad, &check] {
        assert_no_secret("stdout", &stdout(output));
        assert_no_secret("stderr", &stderr(output));
    }
    assert!(
        stderr(&bad).contains(
            "bad.yaml:4: configured.refresh.interval: expected number, found string <secret>"
        ),
        "{}",
        stderr(&bad)
    );

    let loader = ConfigLoader::new().env(SECRET_ENV);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let start = |file: &str| {
        let config = loader.clone().file(dir.join(file)).load().unwrap();
        let backend = Backend::from_config(config)
            .unwrap()
            .plugins_dir(dir.join("plugins"))
            .private_dir(dir.clone())
            .listen(([127, 0, 0, 1], 0).into());
        runtime.block_on(backend.load().unwrap().start())
    };
    let Err(error) = start("bad.yaml") else {
        panic!("a bad configuration does not start");
    };
    assert!(matches!(error, StartError::Config(_)), "{error}");
    assert_no_secret("the start error", &error.to_string());
    let running = start("good.yaml").unwrap_or_else(|error| panic!("{error}"));
    let address = running.http_address().expect("the host listens");
    let (status, instance) = http_get_as(address, "/.greenroom/v1/instance", Some("reader-token"));
    assert_eq!(status, 200, "{instance}");
    assert!(instance.contains("\"configured\""), "{instance}");
    assert_no_secret("the instance endpoint", &instance);
    runtime.block_on(running.stop());
}

#[test]
fn a_taken_address_stops_the_start_before_any_library_is_opened() {
    let dir = scratch("taken-address");
    let plugins = plugins_dir_with(&dir, &["constructor-crash"]);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let address = taken.local_addr().expect("an address");

    let output = greenroom_in(
        &dir,
        &[
            "start",
            "--plugins",
            plugins.as_str(),
            "--listen",
            &address.to_string(),
        ],
        &[],
    );

    // The library's constructor crashes the process that opens it; the
    // start ends with the reason instead.
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains(&format!(
            "cannot listen on {address}: Address already in use (os error 98); choose another \
             address with --listen or backend.listen.port"
        )),
        "{}",
        stderr(&output)
    );
}
