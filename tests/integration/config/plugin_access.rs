//! Plugins read their own slice with the SDK's typed access, and its errors
//! name the full key and the file and line across the boundary.

use greenroom_host::{Backend, config::ConfigLoader};
use serde_json::{Value, json};

use super::{assert_exit, greenroom_in, plugins_dir_with, start::startup, write};
use crate::artifacts::{http_get, scratch};

#[test]
fn a_plugin_reads_its_slice_typed_with_origins() {
    let dir = scratch("config-plugin-read");
    let plugins = plugins_dir_with(&dir, &["configured"]);
    let file = write(
        &dir,
        "app-config.yaml",
        "configured:\n  token: t0k3n\n  refresh:\n    interval: 5\n  mode: fast\n",
    );
    let config = ConfigLoader::new().file(&file).load().unwrap();
    let backend = Backend::from_config(config)
        .unwrap()
        .plugins_dir(plugins)
        .private_dir(dir.clone())
        .listen(([127, 0, 0, 1], 0).into());
    let runtime = tokio::runtime::Runtime::new().unwrap();

    let running = runtime
        .block_on(backend.load().unwrap().start())
        .unwrap_or_else(|error| panic!("{error}"));
    let (status, body) = http_get(running.http_address().unwrap(), "/api/configured/config");
    runtime.block_on(running.stop());

    assert_eq!(status, 200, "{body}");
    let seen: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        seen,
        json!({
            "interval": 5.0,
            "mode": "fast",
            "verbose": null,
            "token_length": 5,
            "interval_origin": format!("{file}:4"),
            "changes": 0,
        })
    );
}

#[test]
fn a_typed_read_that_fails_in_the_plugin_names_file_line_and_full_key() {
    let dir = scratch("config-plugin-error");
    plugins_dir_with(&dir, &["configured"]);
    write(
        &dir,
        "app-config.yaml",
        "configured:\n  token: t\n  verbose: maybe\n",
    );
    write(
        &dir,
        "secret.yaml",
        "configured:\n  token: t\n  verbose: ${VERBOSE}\n",
    );

    let plain = greenroom_in(&dir, &["start", "--once"], &[]);
    let secret = greenroom_in(
        &dir,
        &["start", "--once", "--config", "secret.yaml"],
        &[("VERBOSE", "verbose-SECRET-1")],
    );

    assert_exit(&plain, 1);
    assert_eq!(
        startup(&plain)["plugins"][0]["error"],
        "app-config.yaml:3: configured.verbose: expected boolean, found string \"maybe\""
    );
    assert_exit(&secret, 1);
    assert_eq!(
        startup(&secret)["plugins"][0]["error"],
        "secret.yaml:3: configured.verbose: expected boolean, found string <secret>"
    );
    let everything = format!("{secret:?}");
    assert!(!everything.contains("verbose-SECRET-1"), "{everything}");
}
