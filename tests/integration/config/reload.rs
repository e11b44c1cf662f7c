//! Configuration changes while the host runs: a change that passes every
//! check reaches the plugin's subscriber; a broken one is refused with its
//! reason and the old configuration stays.

use greenroom_host::{Backend, config::ConfigLoader, reload::ConfigState};
use serde_json::Value;

use super::{plugins_dir_with, write};
use crate::artifacts::{eventually, http_get, http_get_as, scratch};

/// Replaces `dir/app-config.yaml` at once, as editors save: a new file
/// renamed over the old one.
fn replace(dir: &camino::Utf8Path, text: &str) {
    let temporary = write(dir, ".app-config.yaml.new", text);
    std::fs::rename(temporary, dir.join("app-config.yaml")).expect("scratch files can be renamed");
}

fn config_text(interval: &str) -> String {
    format!("configured:\n  token: t\n  refresh:\n    interval: {interval}\n{READER}")
}

/// A static token that may read the instance report.
const READER: &str = "backend:\n  auth:\n    externalAccess:\n      - type: static\n        \
                      options:\n          token: reader-token\n          subject: reader\n";

/// Starts a host on a loopback port serving `plugins`, configured by
/// `file` and watching it.
fn start_watching(
    dir: &camino::Utf8Path,
    plugins: &camino::Utf8Path,
    file: &camino::Utf8Path,
) -> (tokio::runtime::Runtime, greenroom_host::RunningBackend) {
    let loader = ConfigLoader::new().file(file);
    let backend = Backend::from_config(loader.load().unwrap())
        .unwrap()
        .plugins_dir(plugins)
        .private_dir(dir)
        .listen(([127, 0, 0, 1], 0).into())
        .watch_config(loader);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let running = runtime
        .block_on(backend.load().unwrap().start())
        .unwrap_or_else(|error| panic!("{error}"));
    (runtime, running)
}

#[test]
fn a_change_reaches_the_subscriber_and_a_broken_one_is_refused_keeping_the_old() {
    let dir = scratch("config-reload");
    let plugins = plugins_dir_with(&dir, &["configured"]);
    let file = write(&dir, "app-config.yaml", &config_text("5"));
    let (runtime, running) = start_watching(&dir, &plugins, &file);
    let address = running.http_address().unwrap();
    let seen = || -> Value {
        let (status, body) = http_get(address, "/api/configured/config");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };
    let state = running.config_state();
    assert_eq!(seen()["interval"], 5.0);

    replace(&dir, &config_text("7"));
    let changed = eventually("the new interval reaching the plugin", || {
        let seen = seen();
        (seen["interval"] == 7.0).then_some(seen)
    });
    assert_eq!(changed["changes"], 1);
    assert_eq!(
        *state.borrow(),
        ConfigState {
            revision: 1,
            refused: None
        }
    );

    replace(&dir, &config_text("soon"));
    let refused = eventually("the broken change being refused", || {
        state.borrow().refused.clone()
    });
    assert_eq!(
        refused,
        format!(
            "the configuration change was refused and the running configuration kept:\n  \
             {file}:4: configured.refresh.interval: expected number, found string \"soon\""
        )
    );
    assert_eq!(state.borrow().revision, 1);
    assert_eq!(seen()["interval"], 7.0);
    let (_, instance) = http_get_as(address, "/.greenroom/v1/instance", Some("reader-token"));
    let instance: Value = serde_json::from_str(&instance).unwrap();
    assert_eq!(instance["config"]["revision"], 1);
    assert_eq!(instance["config"]["refused"], refused.as_str());

    write(&dir, "app-config.yaml", &config_text("9"));
    // Written in place this time: however the writes are batched, a file
    // read half-written is refused and the whole one then published.
    eventually("a good change after a broken one", || {
        (seen()["interval"] == 9.0).then_some(())
    });
    assert_eq!(seen()["changes"], 2);
    assert_eq!(
        *state.borrow(),
        ConfigState {
            revision: 2,
            refused: None
        }
    );
    runtime.block_on(running.stop());
}

#[test]
fn a_change_to_an_included_file_alone_is_reloaded() {
    let dir = scratch("config-reload-include");
    let plugins = plugins_dir_with(&dir, &["configured"]);
    let part = |interval: &str| format!("token: t\nrefresh:\n  interval: {interval}\n");
    write(&dir, "parts/configured.yaml", &part("5"));
    let file = write(
        &dir,
        "app-config.yaml",
        "configured:\n  $include: parts/configured.yaml\n",
    );
    let (runtime, running) = start_watching(&dir, &plugins, &file);
    let address = running.http_address().unwrap();
    let interval = || -> Value {
        let (status, body) = http_get(address, "/api/configured/config");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()["interval"].clone()
    };
    assert_eq!(interval(), 5.0);

    let temporary = write(&dir, "parts/.configured.yaml.new", &part("8"));
    std::fs::rename(temporary, dir.join("parts/configured.yaml")).unwrap();
    eventually("the included file's change reaching the plugin", || {
        (interval() == 8.0).then_some(())
    });
    assert_eq!(running.config_state().borrow().revision, 1);
    runtime.block_on(running.stop());
}

/// A `greenroom` child process, killed when the test ends however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn greenroom_start_in_development_mode_applies_changes_and_logs_refusals() {
    let dir = scratch("config-reload-cli");
    plugins_dir_with(&dir, &["configured"]);
    write(&dir, "app-config.yaml", &config_text("5"));
    let log = std::fs::File::create(dir.join("stderr.log")).unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let _child = Child(
        std::process::Command::new(crate::artifacts::greenroom())
            .args(["start", "--listen", &listen])
            .current_dir(&dir)
            .env_clear()
            .env("GREENROOM_ENV", "development")
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let address = listen.parse().unwrap();
    let stderr = || std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
    let interval = || -> Option<Value> {
        let ready = stderr().contains("watching the configuration files");
        let (status, body) = ready.then(|| http_get(address, "/api/configured/config"))?;
        (status == 200).then(|| serde_json::from_str::<Value>(&body).unwrap()["interval"].clone())
    };
    eventually("the host starting and watching", || {
        interval().filter(|i| *i == 5.0)
    });

    replace(&dir, &config_text("7"));
    eventually("the new interval reaching the plugin", || {
        interval().filter(|i| *i == 7.0)
    });
    replace(&dir, "configured:\n  refresh: {}\n");
    eventually("the refusal being logged", || {
        stderr()
            .contains("the configuration change was refused")
            .then_some(())
    });

    assert!(
        stderr().contains("app-config.yaml:1: configured.token: missing; the schema requires it"),
        "{}",
        stderr()
    );
    assert_eq!(interval(), Some(7.0.into()));
}
