//! Initialization and shutdown over real plugin files, through
//! `greenroom start --once`: plugins start in parallel and in dependency
//! order, a failure stays with the plugin or module that failed, and hooks
//! that fail or hang are reported and cut off.

use std::process::Output;

use serde_json::{Value, json};

use crate::{
    artifacts::{Specimen, fixture, renumbered, run_greenroom_with, scratch, write_specimens},
    bad_files::{assert_exit, stdout},
};

use Specimen::{Module, Plugin};

/// Runs `greenroom start --once` with `args` over copies of `specimens`,
/// with `GREENROOM_SPECIMEN` set to `spec` and `RUST_LOG` to `log`.
fn start_once(test: &str, specimens: &[Specimen], spec: &str, log: &str, args: &[&str]) -> Output {
    let dir = scratch(test);
    write_specimens(&dir, specimens);
    let mut all_args = vec!["start", "--once", "--plugins", dir.as_str()];
    all_args.extend(args);
    run_greenroom_with(
        &all_args,
        &[("GREENROOM_SPECIMEN", spec), ("RUST_LOG", log)],
    )
}

/// The summary `start --once` printed, without anything measured in time.
fn summary(output: &Output) -> Value {
    let mut summary: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "start --once prints JSON ({error}):\n{}\nstderr:\n{}",
            stdout(output),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    drop_durations(&mut summary);
    summary
}

/// Removes every `duration_ms` field, at any depth.
fn drop_durations(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            fields.remove("duration_ms");
            fields.values_mut().for_each(drop_durations);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_durations),
        _ => {}
    }
}

/// The report entry of a plugin that started, with `modules`.
fn started(plugin_id: &str, modules: Value) -> Value {
    json!({
        "plugin_id": plugin_id,
        "status": "started",
        "error": null,
        "failure_allowed": false,
        "modules": modules,
    })
}

/// The report entry of a plugin that failed with `error`.
fn failed(plugin_id: &str, error: &str) -> Value {
    json!({
        "plugin_id": plugin_id,
        "status": "failed",
        "error": error,
        "failure_allowed": false,
        "modules": [],
    })
}

/// The report entry of a plugin skipped because `dependency` did not start.
fn skipped(plugin_id: &str, dependency: &str) -> Value {
    json!({
        "plugin_id": plugin_id,
        "status": "skipped",
        "error": format!(
            "not initialized: it depends on plugin `{dependency}`, which did not start"
        ),
        "failure_allowed": false,
        "modules": [],
    })
}

/// The report entry of a module, failed with `error` or started.
fn module(module_id: &str, error: Option<&str>) -> Value {
    json!({
        "module_id": module_id,
        "status": if error.is_some() { "failed" } else { "started" },
        "error": error,
        "failure_allowed": false,
    })
}

/// The features that logged "specimen initializing", in the order they did.
fn initializing_order(output: &Output) -> Vec<String> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    stderr
        .lines()
        .filter(|line| line.contains("specimen initializing"))
        .map(|line| {
            let (_, fields) = line
                .split_once("fields=\"feature=")
                .unwrap_or_else(|| panic!("a feature field in: {line}"));
            fields.split('"').next().unwrap_or_default().to_string()
        })
        .collect()
}

/// A plugin that initializes a chain after it and one apart from it.
const CHAIN_WITH_BYSTANDER: [Specimen; 4] = [
    Plugin("specimen-0001"),
    Plugin("specimen-0002"),
    Plugin("specimen-0003"),
    Plugin("specimen-0004"),
];

#[test]
fn two_plugins_whose_initializations_wait_for_each_other_both_start_and_stop_every_thread() {
    let dir = scratch("rendezvous");
    let marks = scratch("rendezvous-marks");
    for number in ["0001", "0002"] {
        renumbered(
            &fixture("rendezvous"),
            &[("rendezvous-0000", &format!("rendezvous-{number}"))],
            &dir.join(format!("rendezvous-{number}.so")),
        );
    }

    let output = run_greenroom_with(
        &["start", "--once", "--plugins", dir.as_str()],
        &[("GREENROOM_RENDEZVOUS_DIR", marks.as_str())],
    );

    assert_exit(&output, 0);
    let summary = summary(&output);
    assert_eq!(
        summary["startup"],
        json!({
            "ok": true,
            "plugins": [
                started("rendezvous-0001", json!([])),
                started("rendezvous-0002", json!([])),
            ],
        })
    );
    assert_eq!(summary["stop_failures"], json!([]));
    assert_eq!(
        summary["threads_after_stop"], summary["threads_before_load"],
        "every thread the plugins started is gone after stop"
    );
}

#[test]
fn a_plugin_whose_init_panics_fails_with_the_message_and_its_dependents_are_skipped() {
    let spec = "\
        specimen-0001 needs plugin specimen-0002 ^1\n\
        specimen-0002 init panic\n\
        specimen-0004 needs plugin specimen-0001 ^1\n";

    let output = start_once("init-panic", &CHAIN_WITH_BYSTANDER, spec, "warn", &[]);

    assert_exit(&output, 1);
    let summary = summary(&output);
    assert_eq!(
        summary["startup"],
        json!({
            "ok": false,
            "plugins": [
                skipped("specimen-0001", "specimen-0002"),
                failed("specimen-0002", "panicked: specimen-0002 was told to panic"),
                started("specimen-0003", json!([])),
                skipped("specimen-0004", "specimen-0001"),
            ],
        })
    );
    assert_eq!(summary["stop_failures"], json!([]));
}

#[test]
fn a_plugin_whose_init_fails_is_reported_failed_and_an_independent_plugin_still_starts() {
    let spec = "\
        specimen-0001 needs plugin specimen-0002 ^1\n\
        specimen-0002 init fail\n";

    let output = start_once("init-fail", &CHAIN_WITH_BYSTANDER[..3], spec, "warn", &[]);

    assert_exit(&output, 1);
    assert_eq!(
        summary(&output)["startup"],
        json!({
            "ok": false,
            "plugins": [
                skipped("specimen-0001", "specimen-0002"),
                failed("specimen-0002", "specimen-0002 was told to fail"),
                started("specimen-0003", json!([])),
            ],
        })
    );
}

#[test]
fn an_init_that_never_finishes_is_cut_off_at_the_timeout_and_its_future_dropped() {
    let spec = "\
        specimen-0001 needs plugin specimen-0002 ^1\n\
        specimen-0002 init hang\n";

    let output = start_once(
        "init-hang",
        &CHAIN_WITH_BYSTANDER[..3],
        spec,
        "warn",
        &["--init-timeout", "1"],
    );

    assert_exit(&output, 1);
    assert_eq!(
        summary(&output)["startup"],
        json!({
            "ok": false,
            "plugins": [
                skipped("specimen-0001", "specimen-0002"),
                failed(
                    "specimen-0002",
                    "initialization did not finish within 1 s and was cut off"
                ),
                started("specimen-0003", json!([])),
            ],
        })
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let dropped: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("specimen init future dropped"))
        .collect();
    assert_eq!(dropped.len(), 1, "one drop logged in:\n{stderr}");
    assert!(
        dropped[0].contains("fields=\"feature=specimen-0002\""),
        "{}",
        dropped[0]
    );
}

#[test]
fn a_failing_module_is_reported_on_the_module_and_its_plugin_still_starts() {
    let specimens = [
        Plugin("specimen-0001"),
        Module("specimen-0001", "addition-0001"),
        Module("specimen-0001", "addition-0002"),
    ];
    let spec = "specimen-0001/addition-0001 init fail\n";

    let output = start_once("module-fail", &specimens, spec, "warn", &[]);

    assert_exit(&output, 1);
    assert_eq!(
        summary(&output)["startup"],
        json!({
            "ok": false,
            "plugins": [started(
                "specimen-0001",
                json!([
                    module(
                        "addition-0001",
                        Some("specimen-0001/addition-0001 was told to fail")
                    ),
                    module("addition-0002", None),
                ])
            )],
        })
    );
}

#[test]
fn a_failing_shutdown_hook_is_a_stop_failure() {
    let spec = "specimen-0001 shutdown fail\n";

    let output = start_once(
        "shutdown-fail",
        &CHAIN_WITH_BYSTANDER[..2],
        spec,
        "warn",
        &[],
    );

    assert_exit(&output, 1);
    let summary = summary(&output);
    assert_eq!(
        summary["startup"],
        json!({
            "ok": true,
            "plugins": [
                started("specimen-0001", json!([])),
                started("specimen-0002", json!([])),
            ],
        })
    );
    assert_eq!(
        summary["stop_failures"],
        json!(["plugin `specimen-0001`: shutdown hook: this specimen's shutdown hook fails"])
    );
}

#[test]
fn a_hanging_shutdown_hook_is_cut_off_and_dependents_stop_first() {
    let spec = "\
        specimen-0002 needs plugin specimen-0001 ^1\n\
        specimen-0001 shutdown fail\n\
        specimen-0002 shutdown hang\n";

    let output = start_once(
        "shutdown-hang",
        &CHAIN_WITH_BYSTANDER[..2],
        spec,
        "warn",
        &["--hook-timeout", "1"],
    );

    assert_exit(&output, 1);
    assert_eq!(
        summary(&output)["stop_failures"],
        json!([
            "plugin `specimen-0002`: shutdown hook: did not finish within 1 s and was cut off",
            "plugin `specimen-0001`: shutdown hook: this specimen's shutdown hook fails",
        ])
    );
}

// An aborted start shuts down what did start; what fails then must reach
// the summary like any other stop failure, not only the log.
#[test]
fn a_shutdown_hook_failing_while_an_aborted_start_is_undone_is_a_stop_failure() {
    let spec = "\
        specimen-0001 shutdown fail\n\
        specimen-0002 init fail\n";

    let output = start_once(
        "abort-shutdown-fail",
        &CHAIN_WITH_BYSTANDER[..2],
        spec,
        "warn",
        &[],
    );

    assert_exit(&output, 1);
    let summary = summary(&output);
    assert_eq!(
        summary["startup"]["plugins"],
        json!([
            started("specimen-0001", json!([])),
            failed("specimen-0002", "specimen-0002 was told to fail"),
        ])
    );
    assert_eq!(
        summary["stop_failures"],
        json!(["plugin `specimen-0001`: shutdown hook: this specimen's shutdown hook fails"])
    );
}

/// The log lines a specimen wrote when it read an extension point.
fn specimen_reads(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter_map(|line| {
            let (_, read) = line.split_once("specimen read [")?;
            Some(read.split_once(']')?.0.to_string())
        })
        .collect()
}

#[test]
fn modules_register_into_their_plugins_extension_point_which_freezes_after_init() {
    let specimens = [
        Plugin("specimen-0001"),
        Module("specimen-0001", "addition-0001"),
        Module("specimen-0001", "addition-0002"),
    ];
    let spec = "\
        specimen-0001 provides extension-point specimen.points 1.0.0\n\
        specimen-0001 reads specimen.points\n\
        specimen-0001/addition-0001 needs extension-point specimen.points ^1\n\
        specimen-0001/addition-0001 registers specimen.points first\n\
        specimen-0001/addition-0001 registers specimen.points second\n\
        specimen-0001/addition-0002 needs extension-point specimen.points ^1\n\
        specimen-0001/addition-0002 registers specimen.points third\n\
        specimen-0001/addition-0002 registers-late specimen.points too-late\n";

    let output = start_once("extension-registrations", &specimens, spec, "info", &[]);

    assert_exit(&output, 0);
    let reads = specimen_reads(&output);
    let [read] = reads.as_slice() else {
        panic!("one read, not {reads:?}");
    };
    // Modules run in parallel: the order between them is the order they
    // finished, and each module's own registrations keep theirs.
    let mut words: Vec<&str> = read.split(' ').collect();
    assert!(
        read.contains("addition-0001=first addition-0001=second"),
        "{read}"
    );
    words.sort_unstable();
    assert_eq!(
        words,
        [
            "addition-0001=first",
            "addition-0001=second",
            "addition-0002=third"
        ]
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "module `specimen-0001/addition-0002` registers into extension point \
             `specimen.points` after its initialization; extension points are frozen once a \
             plugin's modules have run, so register during init"
        ),
        "{stderr}"
    );
}

#[test]
fn extension_points_refuse_undeclared_use_and_another_layout() {
    let specimens = [
        Plugin("specimen-0001"),
        Module("specimen-0001", "addition-0001"),
        Plugin("specimen-0002"),
        Module("specimen-0002", "addition-0002"),
    ];
    let spec = "\
        specimen-0001 provides extension-point specimen.points 1.0.0\n\
        specimen-0001 reads-numbers specimen.points\n\
        specimen-0001/addition-0001 needs extension-point specimen.points ^1\n\
        specimen-0001/addition-0001 registers specimen.points word\n\
        specimen-0002 reads specimen.points\n\
        specimen-0002/addition-0002 registers specimen.points word\n";

    let output = start_once("extension-refusals", &specimens, spec, "info", &[]);

    assert_exit(&output, 1);
    let summary = summary(&output);
    let layout_error = "plugin `specimen-0001` and module `specimen-0001/addition-0001` were \
        built against different versions of extension point `specimen.points`'s interface; \
        rebuild one of them\nlayout error: mismatched type: expected `u64`, found `RString`\n\
        the full report (38 lines) is logged at debug level (RUST_LOG=greenroom_host=debug)";
    let mut first = failed("specimen-0001", layout_error);
    first["modules"] = json!([module("addition-0001", None)]);
    let mut second = failed(
        "specimen-0002",
        "plugin `specimen-0002` reads extension point `specimen.points` without providing it; \
         declare it at registration with provides_extension_point",
    );
    second["modules"] = json!([module(
        "addition-0002",
        Some(
            "module `specimen-0002/addition-0002` registers into extension point \
             `specimen.points` without declaring it; declare it at registration with \
             depends_on_extension_point"
        )
    )]);
    assert_eq!(
        summary["startup"],
        json!({"ok": false, "plugins": [first, second]})
    );
}

#[test]
fn a_chain_initializes_in_dependency_order_with_modules_before_their_plugin() {
    let specimens = [
        Plugin("specimen-0001"),
        Plugin("specimen-0002"),
        Plugin("specimen-0003"),
        Module("specimen-0002", "addition-0001"),
        Module("specimen-0002", "addition-0002"),
    ];
    let spec = "\
        specimen-0001 needs plugin specimen-0002 ^1\n\
        specimen-0002 needs plugin specimen-0003 ^1\n\
        specimen-0002 provides extension-point specimen.points 1.0.0\n\
        specimen-0002/addition-0001 provides extension-point specimen.more 1.0.0\n\
        specimen-0002/addition-0002 needs extension-point specimen.more ^1\n";

    let output = start_once("init-order", &specimens, spec, "info", &[]);

    assert_exit(&output, 0);
    assert_eq!(
        initializing_order(&output),
        [
            "specimen-0003",
            "specimen-0002/addition-0002",
            "specimen-0002/addition-0001",
            "specimen-0002",
            "specimen-0001",
        ]
    );
}
