//! Which files are read in which order, `--config`, overrides from the
//! environment, merging, and files that cannot be read.

use greenroom_host::config::{BootFailure, ConfigLoader, Origin, Source, StartupPolicy};

use super::{error_lines, load, loaded, write};
use crate::artifacts::scratch;

/// Writes the four files of the `production` environment, each setting the
/// keys from its own position on.
fn write_four_files(dir: &camino::Utf8Path) {
    write(
        dir,
        "app-config.yaml",
        "a: base\nb: base\nc: base\nd: base\n",
    );
    write(
        dir,
        "app-config.local.yaml",
        "b: local\nc: local\nd: local\n",
    );
    write(
        dir,
        "app-config.production.yaml",
        "c: production\nd: production\n",
    );
    write(
        dir,
        "app-config.production.local.yaml",
        "\nd: production-local\n",
    );
}

#[test]
fn files_layer_base_local_environment_environment_local() {
    let dir = scratch("config-layers");
    write_four_files(&dir);

    let config = loaded(&dir, &[("GREENROOM_ENV", "production")]);

    assert_eq!(config.string("a").unwrap(), "base");
    assert_eq!(config.string("b").unwrap(), "local");
    assert_eq!(config.string("c").unwrap(), "production");
    assert_eq!(config.string("d").unwrap(), "production-local");
    let origin = config.origin("d").unwrap().to_string();
    assert_eq!(origin, format!("{dir}/app-config.production.local.yaml:2"));
}

#[test]
fn without_an_environment_its_files_are_skipped() {
    let dir = scratch("config-no-env");
    write_four_files(&dir);

    let config = loaded(&dir, &[]);

    assert_eq!(config.string("c").unwrap(), "local");
    assert_eq!(config.string("d").unwrap(), "local");
}

#[test]
fn missing_optional_files_are_skipped() {
    let dir = scratch("config-only-local");
    write(&dir, "app-config.local.yaml", "only: local\n");

    let config = loaded(&dir, &[("GREENROOM_ENV", "staging")]);

    assert_eq!(config.keys(), ["only"]);
}

#[test]
fn config_files_replace_the_defaults_and_the_last_one_wins() {
    let dir = scratch("config-flags");
    write(&dir, "app-config.yaml", "default: yes\n");
    let first = write(&dir, "first.yaml", "a: first\nb: first\n");
    let second = write(&dir, "second.yaml", "a: second\n");

    let config = ConfigLoader::new()
        .base_dir(&dir)
        .file(&first)
        .file(&second)
        .load()
        .unwrap();

    assert_eq!(config.string("a").unwrap(), "second");
    assert_eq!(config.string("b").unwrap(), "first");
    assert!(!config.has("default"));
}

#[test]
fn a_missing_config_file_is_an_error_naming_it() {
    let dir = scratch("config-flag-missing");
    let missing = dir.join("missing.yaml");

    let errors = error_lines(ConfigLoader::new().file(&missing).load());

    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with(&format!("cannot read {missing}: No such file or directory")),
        "{errors:?}"
    );
}

#[test]
fn objects_merge_while_lists_and_scalars_replace_and_null_removes() {
    let dir = scratch("config-merge");
    write(
        &dir,
        "app-config.yaml",
        "app:\n  title: Base\n  list: [1, 2, 3]\n  nested:\n    keep: 1\n    drop: 2\n",
    );
    write(
        &dir,
        "app-config.local.yaml",
        "app:\n  list: [9]\n  nested:\n    drop: null\n    added: 3\n",
    );

    let config = loaded(&dir, &[]);

    let app = config.section("app").unwrap();
    assert_eq!(app.string("title").unwrap(), "Base");
    assert_eq!(
        app.to_redacted_yaml(),
        "---\ntitle: Base\nlist:\n  - 9\nnested:\n  keep: 1\n  added: 3\n"
    );
    let added = app.origin("nested.added").unwrap().to_string();
    assert_eq!(added, format!("{dir}/app-config.local.yaml:5"));
}

#[test]
fn environment_overrides_win_over_every_file() {
    let dir = scratch("config-overrides");
    write(
        &dir,
        "app-config.yaml",
        "backend:\n  listen:\n    host: localhost\n    port: 7007\n",
    );
    write(
        &dir,
        "app-config.local.yaml",
        "backend:\n  listen:\n    port: 7008\n",
    );

    let config = loaded(
        &dir,
        &[
            ("GREENROOM_CONFIG_backend_listen_port", "8080"),
            ("GREENROOM_CONFIG_backend_listen_host", "null"),
            ("GREENROOM_CONFIG_app_title", "My Greenroom"),
        ],
    );

    assert_eq!(config.integer("backend.listen.port").unwrap(), 8080);
    assert!(!config.has("backend.listen.host"));
    assert_eq!(config.string("app.title").unwrap(), "My Greenroom");
    assert_eq!(
        config.origin("backend.listen.port"),
        Some(&Origin {
            source: Source::Variable("GREENROOM_CONFIG_backend_listen_port".to_string()),
            line: None,
        })
    );
}

#[test]
fn camel_case_keys_are_written_in_exact_case_and_double_underscores_are_underscores() {
    let dir = scratch("config-camel");
    write(
        &dir,
        "app-config.yaml",
        "backend:\n  startup:\n    default:\n      onPluginBootFailure: abort\n",
    );

    let config = loaded(
        &dir,
        &[
            (
                "GREENROOM_CONFIG_backend_startup_default_onPluginBootFailure",
                "continue",
            ),
            ("GREENROOM_CONFIG_my__plugin_enabled", "true"),
        ],
    );

    let policy = StartupPolicy::from_config(&config).unwrap();
    assert_eq!(policy.for_plugin("catalog"), BootFailure::Continue);
    assert!(config.boolean("my_plugin.enabled").unwrap());
}

#[test]
fn an_override_naming_no_key_is_an_error() {
    let dir = scratch("config-bad-override");

    let errors = error_lines(load(&dir, &[("GREENROOM_CONFIG_backend_", "1")]));

    assert_eq!(
        errors,
        [
            "environment variable GREENROOM_CONFIG_backend_: names an empty key; write keys \
          separated by one `_`, such as GREENROOM_CONFIG_backend_listen_port (`__` is an \
          underscore inside a key)"
        ]
    );
}

#[test]
fn malformed_yaml_names_the_file_line_and_column() {
    let dir = scratch("config-malformed");
    write(&dir, "app-config.yaml", "ok: 1\n");
    write(
        &dir,
        "app-config.local.yaml",
        "backend:\n  listen:\n    port: [7007\n",
    );

    let errors = error_lines(load(&dir, &[]));

    assert_eq!(errors.len(), 1);
    let prefix = format!("{dir}/app-config.local.yaml:4:1: invalid YAML: ");
    assert!(errors[0].starts_with(&prefix), "{errors:?}");
    assert!(errors[0].ends_with("; fix the syntax there"), "{errors:?}");
}

#[test]
fn every_error_of_every_file_is_reported_and_nothing_loads() {
    let dir = scratch("config-all-errors");
    write(&dir, "app-config.yaml", "a: [\n");
    write(
        &dir,
        "app-config.local.yaml",
        "b: ${UNSET_ONE}\nc:\n  $env: UNSET_TWO\n",
    );

    let errors = error_lines(load(&dir, &[("GREENROOM_CONFIG_", "x")]));

    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(errors[0].starts_with(&format!("{dir}/app-config.yaml:2:1: invalid YAML")));
    assert!(errors[1].starts_with(&format!(
        "{dir}/app-config.local.yaml:1: b: environment variable UNSET_ONE"
    )));
    assert!(errors[2].starts_with(&format!(
        "{dir}/app-config.local.yaml:2: c: environment variable UNSET_TWO"
    )));
    assert!(errors[3].starts_with("environment variable GREENROOM_CONFIG_: names an empty key"));
}

#[test]
fn a_file_must_hold_a_mapping() {
    let dir = scratch("config-not-mapping");
    write(&dir, "app-config.yaml", "- just\n- a list\n");

    let errors = error_lines(load(&dir, &[]));

    assert_eq!(
        errors,
        [format!(
            "{dir}/app-config.yaml:1: (top level): the file must hold a mapping of keys, found \
             array of 2 items; write `key: value` lines"
        )]
    );
}
