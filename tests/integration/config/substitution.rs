//! `${VAR}`, `$env`, `$file` and `$include`, with paths relative to the
//! file that names them; what loading refuses to read is in [`limits`].

mod limits;

use greenroom_host::config::ConfigLoader;

use super::{error_lines, load, loaded, write};
use crate::artifacts::scratch;

#[test]
fn variables_defaults_and_escapes_are_replaced_inside_strings() {
    let dir = scratch("config-variables");
    write(
        &dir,
        "app-config.yaml",
        "url: https://${HOST}:${PORT:-7007}/\nliteral: $${HOST}\nempty: ${EMPTY:-fallback}\n",
    );

    let config = loaded(&dir, &[("HOST", "example.org"), ("EMPTY", "")]);

    assert_eq!(config.string("url").unwrap(), "https://example.org:7007/");
    assert_eq!(config.string("literal").unwrap(), "${HOST}");
    assert_eq!(config.string("empty").unwrap(), "fallback");
}

#[test]
fn env_reads_a_whole_variable() {
    let dir = scratch("config-env");
    write(&dir, "app-config.yaml", "token:\n  $env: TOKEN\n");

    let config = loaded(&dir, &[("TOKEN", "abc")]);

    assert_eq!(config.string("token").unwrap(), "abc");
    assert!(config.is_secret("token"));
}

#[test]
fn file_reads_a_file_next_to_the_file_naming_it() {
    let dir = scratch("config-file");
    write(&dir, "conf/secrets/token.txt", "s3cret\n");
    let main = write(
        &dir,
        "conf/main.yaml",
        "token:\n  $file: secrets/token.txt\n",
    );

    let config = ConfigLoader::new().file(&main).load().unwrap();

    assert_eq!(config.string("token").unwrap(), "s3cret\n");
    assert!(config.is_secret("token"));
    assert_eq!(
        config.origin("token").unwrap().to_string(),
        format!("{main}:1")
    );
}

#[test]
fn include_reads_yaml_or_json_and_an_optional_sub_path() {
    let dir = scratch("config-include");
    write(
        &dir,
        "parts/db.yaml",
        "database:\n  primary:\n    host: db1\n    port: 5432\n",
    );
    write(&dir, "parts/flags.json", "{\n  \"beta\": true\n}\n");
    write(
        &dir,
        "app-config.yaml",
        "db:\n  $include: parts/db.yaml#database.primary\nflags:\n  $include: parts/flags.json\n",
    );

    let config = loaded(&dir, &[]);

    assert_eq!(config.string("db.host").unwrap(), "db1");
    assert_eq!(config.integer("db.port").unwrap(), 5432);
    assert!(config.boolean("flags.beta").unwrap());
    let origin = config.origin("db.port").unwrap().to_string();
    assert_eq!(origin, format!("{dir}/parts/db.yaml:4"));
    assert!(!config.is_secret("db.host"));
}

#[test]
fn paths_in_an_included_file_are_relative_to_it() {
    let dir = scratch("config-include-nested");
    write(&dir, "parts/nested/leaf.yaml", "value: leaf\n");
    write(
        &dir,
        "parts/middle.yaml",
        "inner:\n  $include: nested/leaf.yaml#value\n",
    );
    write(
        &dir,
        "app-config.yaml",
        "outer:\n  $include: parts/middle.yaml\n",
    );

    let config = loaded(&dir, &[]);

    assert_eq!(config.string("outer.inner").unwrap(), "leaf");
}

#[test]
fn an_include_cycle_is_an_error() {
    let dir = scratch("config-include-cycle");
    write(&dir, "a.yaml", "b:\n  $include: b.yaml\n");
    write(&dir, "b.yaml", "a:\n  $include: a.yaml\n");
    write(&dir, "app-config.yaml", "start:\n  $include: a.yaml\n");

    let errors = error_lines(load(&dir, &[]));

    assert_eq!(
        errors,
        [format!(
            "{dir}/b.yaml:1: start.b.a: `$include` of {dir}/a.yaml includes itself again; \
             break the cycle"
        )]
    );
}

#[test]
fn a_missing_sub_path_names_the_included_file_and_the_key() {
    let dir = scratch("config-include-subpath");
    write(&dir, "parts/db.yaml", "database: {}\n");
    write(
        &dir,
        "app-config.yaml",
        "db:\n  $include: parts/db.yaml#database.primary\n",
    );

    let errors = error_lines(load(&dir, &[]));

    assert_eq!(
        errors,
        [format!(
            "{dir}/app-config.yaml:1: db: {dir}/parts/db.yaml has no key `database.primary`; \
             check the part after `#`"
        )]
    );
}

#[test]
fn unreadable_files_and_includes_are_errors_naming_both_files() {
    let dir = scratch("config-missing-targets");
    write(
        &dir,
        "app-config.yaml",
        "a:\n  $file: nope.txt\nb:\n  $include: nope.yaml\n",
    );

    let errors = error_lines(load(&dir, &[]));

    assert_eq!(
        errors,
        [
            format!(
                "{dir}/app-config.yaml:1: a: cannot read {dir}/nope.txt named by `$file`: No \
                 such file or directory (os error 2); check the path"
            ),
            format!(
                "{dir}/app-config.yaml:3: b: cannot read {dir}/nope.yaml named by `$include`: \
                 No such file or directory (os error 2); check the path"
            ),
        ]
    );
}

#[test]
fn a_malformed_included_file_names_its_line_and_column() {
    let dir = scratch("config-include-malformed");
    write(&dir, "parts/bad.yaml", "ok: 1\nbad: {\n");
    write(
        &dir,
        "app-config.yaml",
        "part:\n  $include: parts/bad.yaml\n",
    );

    let errors = error_lines(load(&dir, &[]));

    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with(&format!("{dir}/parts/bad.yaml:3:1: invalid YAML")),
        "{errors:?}"
    );
}

#[test]
fn a_missing_variable_names_the_variable_the_key_and_the_file() {
    let dir = scratch("config-missing-variable");
    write(
        &dir,
        "app-config.yaml",
        "backend:\n  listen:\n    port: 7007\n",
    );
    write(
        &dir,
        "app-config.local.yaml",
        "catalog:\n  github:\n    token: ${GITHUB_TOKEN}\n",
    );

    let errors = error_lines(load(&dir, &[]));

    assert_eq!(
        errors,
        [format!(
            "{dir}/app-config.local.yaml:3: catalog.github.token: environment variable \
             GITHUB_TOKEN is not set; set it, or give a default with ${{GITHUB_TOKEN:-default}}"
        )]
    );
}
