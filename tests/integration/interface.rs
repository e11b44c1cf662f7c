//! Plugins that are well-formed files but speak another interface, or fail
//! while registering, and what `inspect --json` reports about plugins.

use camino::Utf8Path;
use greenroom_contract::INTERFACE_VERSION;
use greenroom_host::{
    check::{self, CheckOptions, InterfaceRevision},
    load::{self, LoadError, PrivateDir},
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    artifacts::{fixture, run_greenroom, scratch},
    bad_files::{
        assert_exit, assert_refused, check_refusing, copy_fixture, dir_with_good_plugin,
        status_line,
    },
};

/// The most lines a layout refusal may add after its first line.
const LAYOUT_SUMMARY_MAX_LINES: usize = 5;

/// Runs `greenroom inspect --json` over `paths` and parses the array.
fn inspect_json(paths: &[&Utf8Path], code: i32) -> Vec<Value> {
    let mut args = vec!["inspect", "--json"];
    args.extend(paths.iter().map(|path| path.as_str()));
    let output = run_greenroom(&args);
    assert_exit(&output, code);
    let reports: Value = serde_json::from_slice(&output.stdout).expect("inspect prints JSON");
    reports.as_array().expect("inspect prints an array").clone()
}

/// The SHA-256 of the file at `path`, in lowercase hex.
fn sha256_of(path: &Utf8Path) -> String {
    let bytes = std::fs::read(path).expect("the file is readable");
    check::hex(&Sha256::digest(bytes))
}

#[test]
fn a_plugin_built_against_a_newer_minor_interface_is_refused() {
    let (dir, good) = dir_with_good_plugin("newer-minor");
    let newer = copy_fixture("newer-minor", &dir, "newer.so");

    let table = check_refusing(&dir, &good);

    assert_refused(
        &table,
        &newer,
        &format!(
            "plugin `from-the-future` (library `greenroom-fixture-newer-minor`) was built \
             against interface 1.2.0, newer than this host's {INTERFACE_VERSION}; upgrade \
             greenroom, or rebuild the plugin with a greenroom-sdk for interface \
             {INTERFACE_VERSION}"
        ),
    );
}

#[test]
fn a_plugin_built_against_another_major_interface_is_refused() {
    let (dir, good) = dir_with_good_plugin("other-major");
    let other = copy_fixture("other-major", &dir, "other.so");

    let table = check_refusing(&dir, &good);

    assert_refused(
        &table,
        &other,
        &format!(
            "plugin `next-major` (library `greenroom-fixture-other-major`) was built against \
             interface 2.0.0, another major version than this host's {INTERFACE_VERSION}; \
             rebuild the host with a newer greenroom"
        ),
    );
}

#[test]
fn a_plugin_with_the_same_version_but_another_layout_is_refused_in_a_few_lines() {
    let (dir, good) = dir_with_good_plugin("bad-layout");
    let bad = copy_fixture("bad-layout", &dir, "bad-layout.so");

    let table = check_refusing(&dir, &good);

    assert_refused(
        &table,
        &bad,
        "the library's types differ from this host's although its interface version matches \
         (built from a modified contract?); rebuild the plugin with the released greenroom-sdk",
    );
    let summary = refusal_continuation(&table, &bad);
    assert!(
        (1..=LAYOUT_SUMMARY_MAX_LINES).contains(&summary.len()),
        "{} summary lines in:\n{table}",
        summary.len()
    );
    assert!(
        summary
            .iter()
            .any(|line| line.contains("layout error: mismatched package")),
        "no mismatched package error in:\n{table}"
    );
    let last = summary.last().expect("the summary has lines");
    let lines = last
        .strip_prefix("the full report (")
        .and_then(|rest| {
            rest.strip_suffix(" lines) is logged at debug level (RUST_LOG=greenroom_host=debug)")
        })
        .unwrap_or_else(|| {
            panic!("the summary does not end by pointing at the full report: {last}")
        });
    assert!(lines.parse::<u32>().is_ok(), "{last}");
}

/// The lines of a refusal's reason after its first line: those that follow
/// the status line of `file` until an indented or status line.
fn refusal_continuation<'a>(table: &'a str, file: &Utf8Path) -> Vec<&'a str> {
    let first = status_line(table, file);
    table
        .lines()
        .skip_while(|line| *line != first)
        .skip(1)
        .take_while(|line| {
            !line.starts_with(' ') && !line.starts_with("ok ") && !line.starts_with("refused ")
        })
        .collect()
}

#[test]
fn a_registration_that_panics_is_refused_with_the_panic_message() {
    let (dir, good) = dir_with_good_plugin("register-panics");
    let panics = copy_fixture("register-panics", &dir, "panics.so");

    let table = check_refusing(&dir, &good);

    assert_refused(
        &table,
        &panics,
        "registration panicked: this fixture always panics while registering",
    );
}

#[test]
fn a_registration_that_returns_an_error_is_refused_with_the_error() {
    let (dir, good) = dir_with_good_plugin("register-fails");
    let fails = copy_fixture("register-fails", &dir, "fails.so");

    let table = check_refusing(&dir, &good);

    assert_refused(
        &table,
        &fails,
        "registration failed: registering `fails` failed: this fixture always refuses to register",
    );
}

#[test]
fn a_plugin_built_against_interface_1_0_loads_and_names_the_missing_capabilities() {
    let (dir, good) = dir_with_good_plugin("interface-1-0");
    let legacy = copy_fixture("interface-1-0", &dir, "legacy.so");

    let reports = inspect_json(&[&dir], 0);

    assert_eq!(reports.len(), 2, "{reports:#?}");
    let (legacy_report, good_report) = (&reports[0], &reports[1]);
    assert_eq!(legacy_report["file"], legacy.as_str());
    assert_eq!(legacy_report["status"], "ok", "{legacy_report:#}");
    assert_eq!(legacy_report["interface"], "1.0.0");
    assert_eq!(
        legacy_report["missing_capabilities"],
        json!(["shutdown", "init"])
    );
    assert_eq!(good_report["file"], good.as_str());
    assert_eq!(good_report["status"], "ok", "{good_report:#}");
    assert_eq!(good_report["missing_capabilities"], json!([]));
}

#[test]
fn inspect_json_of_a_directory_reports_each_file_and_the_features_of_the_good_one() {
    let (dir, good) = dir_with_good_plugin("inspect-json");
    let empty = dir.join("empty.so");
    std::fs::write(&empty, b"").expect("scratch files can be written");
    let fails = copy_fixture("register-fails", &dir, "fails.so");

    let reports = inspect_json(&[&dir], 1);

    let summary: Vec<(&str, &str, &str)> = reports
        .iter()
        .map(|report| {
            let text = |key: &str| report[key].as_str().unwrap_or("-");
            (text("file"), text("status"), text("stage"))
        })
        .collect();
    assert_eq!(
        summary,
        [
            (empty.as_str(), "refused", "check"),
            (fails.as_str(), "refused", "register"),
            (good.as_str(), "ok", "-"),
        ]
    );
    let minimal = &reports[2];
    assert_eq!(minimal["library"], "greenroom-fixture-minimal");
    assert_eq!(minimal["interface"], INTERFACE_VERSION);
    assert_eq!(minimal["missing_capabilities"], json!([]));
    assert_eq!(minimal["sha256"], sha256_of(&good));
    assert_eq!(
        minimal["features"],
        json!({
            "plugins": [{
                "id": "minimal",
                "version": "1.0.0",
                "config_schema": null,
                "dependencies": [],
                "extension_points": [],
                "services": [],
            }],
            "modules": [],
        })
    );
}

#[test]
fn an_interface_1_0_library_read_as_the_current_interface_fails_the_layout_check() {
    let private_base = scratch("load-as-current");
    let private = PrivateDir::create(&private_base).expect("a private directory can be made");
    let path = fixture("interface-1-0");
    let check = || check::check(&path, &CheckOptions::default()).expect("the fixture passes");

    let checked = check();
    assert_eq!(checked.revision, InterfaceRevision::V1_0);
    let error = load::load_as(checked, &private, InterfaceRevision::Current)
        .expect_err("reading a 1.0 root module as the current one is refused");
    let LoadError::Layout { summary, .. } = error else {
        panic!("a layout error, not {error:?}");
    };
    assert!(
        summary
            .lines()
            .any(|line| line == "layout error: too many fields: expected `3`, found `1`"),
        "the summary names the root module's missing field:\n{summary}"
    );

    let loaded = load::load(check(), &private).expect("the declared revision loads");
    assert_eq!(loaded.revision, InterfaceRevision::V1_0);
    assert!(loaded.root.shutdown().is_none());
}
