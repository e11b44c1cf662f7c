//! Secrets (values from the environment, a `$file`, or marked secret by a
//! schema) never appear in errors, problems, or printed configuration.

use camino::Utf8Path;
use greenroom_host::config::{ConfigLoader, check_all, mark_schema_secrets};

use super::{assert_exit, greenroom_in, load, plugins_dir_with, stderr, stdout, write};
use crate::artifacts::scratch;

/// Every secret the configuration below holds, each a distinct string.
const SECRETS: [&str; 6] = [
    "literal-token-SECRET-1",
    "port-SECRET-2",
    "interval-SECRET-3",
    "mode-SECRET-4",
    "file-SECRET-5",
    "override-SECRET-6",
];

/// The variables that bring the secrets in, and every log line out.
const ENV: [(&str, &str); 5] = [
    ("RUST_LOG", "trace"),
    ("PORT_VALUE", "port-SECRET-2"),
    ("INTERVAL_VALUE", "interval-SECRET-3"),
    ("MODE_VALUE", "mode-SECRET-4"),
    ("GREENROOM_CONFIG_configured_extra", "override-SECRET-6"),
];

/// Writes a configuration in which every secret is also a wrong value, so
/// that each one is named in some problem.
fn write_secret_config(dir: &Utf8Path) {
    write(dir, "password.txt", "file-SECRET-5");
    write(
        dir,
        "app-config.yaml",
        "backend:\n  listen:\n    port: ${PORT_VALUE}\nconfigured:\n  token: \
         literal-token-SECRET-1\n  refresh:\n    interval: ${INTERVAL_VALUE}\n  mode:\n    \
         $env: MODE_VALUE\n  password:\n    $file: password.txt\n",
    );
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} shows {secret}:\n{text}");
    }
}

#[test]
fn config_check_names_every_bad_secret_without_showing_it() {
    let dir = scratch("config-secret-check");
    write_secret_config(&dir);
    plugins_dir_with(&dir, &["configured"]);

    let output = greenroom_in(&dir, &["config", "check", "--strict"], &ENV);

    assert_exit(&output, 1);
    assert_no_secret("stdout", &stdout(&output));
    assert_no_secret("stderr", &stderr(&output));
    assert_eq!(
        stdout(&output),
        "error: app-config.yaml:3: backend.listen.port: expected integer, found string <secret>\n\
         error: app-config.yaml:7: configured.refresh.interval: expected number, found string \
         <secret>\n\
         error: app-config.yaml:8: configured.mode: expected one of [\"fast\",\"slow\"], found \
         string <secret>\n\
         error: app-config.yaml:10: configured.password: unknown key: the schema does not \
         declare it; check the spelling\n\
         error: environment variable GREENROOM_CONFIG_configured_extra: configured.extra: \
         unknown key: the schema does not declare it; check the spelling\n\
         5 errors, 0 warnings\n"
    );
}

#[test]
fn config_print_hides_every_secret() {
    let dir = scratch("config-secret-print");
    write_secret_config(&dir);
    plugins_dir_with(&dir, &["configured"]);

    let output = greenroom_in(&dir, &["config", "print"], &ENV);

    assert_exit(&output, 0);
    assert_no_secret("stderr", &stderr(&output));
    assert_eq!(
        stdout(&output),
        "---\nbackend:\n  listen:\n    port: \"<secret>\"\nconfigured:\n  token: \"<secret>\"\n  \
         refresh:\n    interval: \"<secret>\"\n  mode: \"<secret>\"\n  password: \
         \"<secret>\"\n  extra: \"<secret>\"\n"
    );
}

#[test]
fn library_errors_and_problems_never_show_secrets() {
    let dir = scratch("config-secret-library");
    write_secret_config(&dir);
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../fixtures/configured/config.schema.json")).unwrap();

    let mut config = ConfigLoader::new().base_dir(&dir).env(ENV).load().unwrap();
    mark_schema_secrets(&mut config, &[("configured", &schema)]);
    let mut texts = vec![
        config
            .integer("backend.listen.port")
            .unwrap_err()
            .to_string(),
        config
            .number("configured.refresh.interval")
            .unwrap_err()
            .to_string(),
        config
            .boolean("configured.password")
            .unwrap_err()
            .to_string(),
        config.integer("configured.extra").unwrap_err().to_string(),
        config.to_redacted_yaml(),
    ];
    texts.extend(
        check_all(&config, &[("configured", &schema)])
            .iter()
            .map(ToString::to_string),
    );

    for text in &texts {
        assert_no_secret("a message", text);
    }
    assert_eq!(
        texts[0],
        format!(
            "{dir}/app-config.yaml:3: backend.listen.port: expected integer, found string <secret>"
        )
    );
    assert!(
        config
            .secret_values()
            .contains(&"file-SECRET-5".to_string())
    );
}

#[test]
fn a_load_error_does_not_show_the_variables_that_were_set() {
    let dir = scratch("config-secret-load");
    write(
        &dir,
        "app-config.yaml",
        "url: https://${USER_SECRET}:${MISSING_ONE}@example.org\n",
    );

    let errors = load(&dir, &[("USER_SECRET", "user-SECRET-7")])
        .unwrap_err()
        .to_string();

    assert!(!errors.contains("user-SECRET-7"), "{errors}");
    assert!(
        errors.contains("environment variable MISSING_ONE is not set"),
        "{errors}"
    );
}
