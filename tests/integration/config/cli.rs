//! `greenroom config check` and `greenroom config print`.

use super::{assert_exit, greenroom_in, plugins_dir_with, stderr, stdout, write};
use crate::artifacts::{run_greenroom, scratch};

#[test]
fn check_passes_a_good_configuration() {
    let dir = scratch("config-cli-good");
    plugins_dir_with(&dir, &["configured"]);
    write(
        &dir,
        "app-config.yaml",
        "backend:\n  listen:\n    port: 7007\nconfigured:\n  token: t\n  mode: fast\n",
    );

    let output = greenroom_in(&dir, &["config", "check"], &[]);

    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "configuration ok\n");
}

#[test]
fn check_reports_every_problem_of_every_file_and_exits_1() {
    let dir = scratch("config-cli-problems");
    let plugins = plugins_dir_with(&dir, &["configured"]);
    write(
        &dir,
        "base.yaml",
        "configured:\n  token: t\n  refresh:\n    interval: 60\n",
    );
    write(
        &dir,
        "site.yaml",
        "# site overrides\nconfigured:\n  refresh:\n    interval: soon\n  mode: quick\n\
         backend:\n  startup:\n    default:\n      onPluginBootFailure: stop\n",
    );

    let output = greenroom_in(
        &dir,
        &[
            "config",
            "check",
            "--config",
            "base.yaml",
            "--config",
            "site.yaml",
            "--plugins",
            plugins.as_str(),
        ],
        &[],
    );

    assert_exit(&output, 1);
    assert_eq!(
        stdout(&output),
        "error: site.yaml:9: backend.startup.default.onPluginBootFailure: expected one of \
         [\"abort\",\"continue\"], found string \"stop\"\n\
         error: site.yaml:4: configured.refresh.interval: expected number, found string \"soon\"\n\
         error: site.yaml:5: configured.mode: expected one of [\"fast\",\"slow\"], found string \
         \"quick\"\n\
         3 errors, 0 warnings\n"
    );
}

#[test]
fn config_check_reports_schema_and_setting_errors_together_once_each() {
    let dir = scratch("config-check-all");
    let plugins = plugins_dir_with(&dir, &[]);
    write(
        &dir,
        "app-config.yaml",
        "backend:\n  startup:\n    initTimeout: soon\n    hookTimeout: -5\n    default: \
         explode\n  http:\n    bodyLimit: huge\n",
    );

    let output = greenroom_in(
        &dir,
        &["config", "check", "--plugins", plugins.as_str()],
        &[],
    );

    assert_exit(&output, 1);
    assert_eq!(
        stdout(&output),
        "error: app-config.yaml:5: backend.startup.default: expected object, found string \
         \"explode\"\n\
         error: app-config.yaml:7: backend.http.bodyLimit: expected integer, found string \
         \"huge\"\n\
         error: app-config.yaml:3: backend.startup.initTimeout: expected duration such as 30, \
         30s, 500ms or 2m, found string \"soon\"\n\
         error: app-config.yaml:4: backend.startup.hookTimeout: expected duration such as 30, \
         30s, 500ms or 2m, found number -5\n\
         4 errors, 0 warnings\n"
    );
}

#[test]
fn unknown_keys_warn_and_strict_makes_them_errors() {
    let dir = scratch("config-cli-strict");
    plugins_dir_with(&dir, &["configured"]);
    write(
        &dir,
        "app-config.yaml",
        "configured:\n  token: t\n  tokn: typo\ncatalgo: {}\n",
    );
    let expected = "{level}: app-config.yaml:3: configured.tokn: unknown key: the schema does not \
                    declare it; check the spelling\n\
                    {level}: app-config.yaml:4: catalgo: unknown key: no loaded plugin has this id \
                    and the host does not use it; check the spelling or install the plugin\n";

    let lax = greenroom_in(&dir, &["config", "check"], &[]);
    let strict = greenroom_in(&dir, &["config", "check", "--strict"], &[]);

    assert_exit(&lax, 0);
    let warnings = expected.replace("{level}", "warning");
    assert_eq!(stdout(&lax), format!("{warnings}0 errors, 2 warnings\n"));
    assert_exit(&strict, 1);
    let errors = expected.replace("{level}", "error");
    assert_eq!(stdout(&strict), format!("{errors}2 errors, 0 warnings\n"));
}

#[test]
fn check_reports_load_errors_with_file_line_and_column() {
    let dir = scratch("config-cli-malformed");
    let bad = write(&dir, "bad.yaml", "backend:\n  listen: {port: 7007\n");

    let output = run_greenroom(&["config", "check", "--config", bad.as_str()]);

    assert_exit(&output, 1);
    assert!(stdout(&output).is_empty(), "{}", stdout(&output));
    let stderr = stderr(&output);
    assert!(
        stderr.starts_with(&format!("error: {bad}:3:1: invalid YAML: ")),
        "{stderr}"
    );
}

#[test]
fn excluded_plugins_are_not_checked() {
    let dir = scratch("config-cli-excluded");
    plugins_dir_with(&dir, &["configured"]);
    write(
        &dir,
        "app-config.yaml",
        "backend:\n  plugins:\n    exclude: [config*]\nconfigured:\n  refresh: often\n",
    );

    let output = greenroom_in(&dir, &["config", "check"], &[]);

    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output),
        "note: not checking `configured`: plugin `configured` is excluded by `config*` in \
         backend.plugins.exclude[0] (app-config.yaml:3); remove that entry to load it\n\
         configuration ok\n"
    );
}

#[test]
fn plugins_without_a_schema_are_noted() {
    let dir = scratch("config-cli-no-schema");
    plugins_dir_with(&dir, &["minimal"]);
    write(&dir, "app-config.yaml", "minimal:\n  anything: 1\n");

    let output = greenroom_in(&dir, &["config", "check"], &[]);

    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output),
        "note: plugin `minimal` declares no configuration schema, so `minimal` is not checked\n\
         configuration ok\n"
    );
}

#[test]
fn print_shows_the_merged_configuration() {
    let dir = scratch("config-cli-print");
    write(
        &dir,
        "app-config.yaml",
        "backend:\n  listen:\n    port: 7007\napp:\n  title: Base\n",
    );
    write(
        &dir,
        "app-config.local.yaml",
        "app:\n  title: Local\n  tags: [a]\n",
    );

    let output = greenroom_in(&dir, &["config", "print"], &[]);

    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output),
        "---\nbackend:\n  listen:\n    port: 7007\napp:\n  title: Local\n  tags:\n    - a\n"
    );
}
