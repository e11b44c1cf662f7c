//! Configuration: layered files, overrides, substitution, typed access,
//! schema checks, secrets and plugin selection, with real files in scratch
//! directories, through the library and through `greenroom config`.

mod access;
mod cli;
mod layering;
mod plugin_access;
mod reload;
mod schema;
mod secrets;
mod selection;
mod start;
mod substitution;

use std::process::{Command, Output};

use camino::{Utf8Path, Utf8PathBuf};
use greenroom_host::config::{Config, ConfigErrors, ConfigLoader};

use crate::artifacts::{fixture, greenroom};

/// Writes `text` to `name` inside `dir`, making directories, and returns
/// the file's path.
pub(crate) fn write(dir: &Utf8Path, name: &str, text: &str) -> Utf8PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("scratch directories can be created");
    }
    std::fs::write(&path, text).expect("scratch files can be written");
    path
}

/// Loads the default files of `dir` with exactly the variables `env`.
pub(crate) fn load(dir: &Utf8Path, env: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    ConfigLoader::new()
        .base_dir(dir)
        .env(env.iter().copied())
        .load()
}

/// Like [`load`], failing the test with every error when loading fails.
pub(crate) fn loaded(dir: &Utf8Path, env: &[(&str, &str)]) -> Config {
    load(dir, env).unwrap_or_else(|errors| panic!("configuration loads, but:\n{errors}"))
}

/// The errors of a load that must fail, one string each.
pub(crate) fn error_lines(result: Result<Config, ConfigErrors>) -> Vec<String> {
    match result {
        Ok(config) => panic!(
            "loading must fail, but gave:\n{}",
            config.to_redacted_yaml()
        ),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

/// Copies the fixture library `name` into `dir/plugins` and returns that
/// directory.
pub(crate) fn plugins_dir_with(dir: &Utf8Path, names: &[&str]) -> Utf8PathBuf {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).expect("scratch directories can be created");
    for name in names {
        let library = fixture(name);
        let file_name = library.file_name().expect("a library file has a name");
        std::fs::copy(&library, plugins.join(file_name)).expect("fixtures can be copied");
    }
    plugins
}

/// Runs `greenroom` in `dir` with exactly the variables `env` (and
/// warnings logged).
pub(crate) fn greenroom_in(dir: &Utf8Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(greenroom())
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .expect("greenroom starts")
}

/// What a run printed on stdout.
pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What a run printed on stderr.
pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts that a run exited with `code`, showing its output otherwise.
pub(crate) fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}
