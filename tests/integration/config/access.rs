//! Reading typed values, and errors that name the key, the file and line
//! the value came from, and the expected and found types.

use greenroom_host::config::{ConfigError, ConfigLoader};

use super::{loaded, write};
use crate::artifacts::scratch;

#[test]
fn typed_values_are_read_from_merged_files() {
    let dir = scratch("config-typed");
    write(
        &dir,
        "app-config.yaml",
        "backend:\n  listen:\n    host: 0.0.0.0\n    port: 7007\napp:\n  ratio: 0.5\n  \
         debug: false\n  tags: [a, b]\n",
    );
    write(&dir, "app-config.local.yaml", "app:\n  debug: true\n");

    let config = loaded(&dir, &[]);

    let listen = config.section("backend.listen").unwrap();
    assert_eq!(listen.string("host").unwrap(), "0.0.0.0");
    assert_eq!(listen.integer("port").unwrap(), 7007);
    assert_eq!(config.number("app.ratio").unwrap(), 0.5);
    assert!(config.boolean("app.debug").unwrap());
    assert_eq!(config.strings("app.tags").unwrap(), ["a", "b"]);
    assert_eq!(config.optional_strings("app.missing").unwrap(), None);
    assert_eq!(
        config.section("app").unwrap().keys(),
        ["ratio", "debug", "tags"]
    );
}

#[test]
fn a_wrong_type_names_the_file_and_line_of_the_layer_that_set_it() {
    let dir = scratch("config-typed-error");
    let first = write(&dir, "first.yaml", "backend:\n  listen:\n    port: 7007\n");
    let second = write(
        &dir,
        "second.yaml",
        "# the second file\nbackend:\n  listen:\n    port: soon\n",
    );
    let third = write(
        &dir,
        "third.yaml",
        "backend:\n  listen:\n    host: localhost\n",
    );

    let config = ConfigLoader::new()
        .file(&first)
        .file(&second)
        .file(&third)
        .load()
        .unwrap();
    let error = config
        .section("backend")
        .unwrap()
        .integer("listen.port")
        .unwrap_err();

    assert_eq!(
        error.to_string(),
        format!("{second}:4: backend.listen.port: expected integer, found string \"soon\"")
    );
    assert!(matches!(
        error,
        ConfigError::WrongType {
            expected: "integer",
            ..
        }
    ));
}

#[test]
fn a_missing_key_names_the_variable_that_would_set_it() {
    let dir = scratch("config-typed-missing");
    write(&dir, "app-config.yaml", "backend: {}\n");

    let error = loaded(&dir, &[])
        .string("backend.startup.default.onPluginBootFailure")
        .unwrap_err();

    assert_eq!(
        error.to_string(),
        "backend.startup.default.onPluginBootFailure: missing; set it in a configuration file or \
         with GREENROOM_CONFIG_backend_startup_default_onPluginBootFailure"
    );
}

#[test]
fn a_list_item_of_the_wrong_type_is_named_by_position() {
    let dir = scratch("config-typed-list");
    write(
        &dir,
        "app-config.yaml",
        "app:\n  tags:\n    - a\n    - {b: 1}\n",
    );

    let error = loaded(&dir, &[]).strings("app.tags").unwrap_err();

    assert_eq!(
        error.to_string(),
        format!("{dir}/app-config.yaml:4: app.tags[1]: expected string, found object")
    );
}
