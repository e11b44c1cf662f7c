//! Finding the binary and the fixture libraries cargo built, and scratch
//! directories for tests.

use std::{
    process::{Command, Output},
    sync::atomic::{AtomicU32, Ordering},
};

use camino::{Utf8Path, Utf8PathBuf};

/// The directory cargo put this test binary's siblings in (`target/debug`).
pub(crate) fn target_dir() -> Utf8PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    let exe = Utf8PathBuf::from_path_buf(exe).expect("the target directory is UTF-8");
    exe.parent()
        .and_then(Utf8Path::parent)
        .expect("test binaries live in target/<profile>/deps")
        .to_owned()
}

/// The path of a built artifact, failing with the command that builds it.
fn built(name: &str) -> Utf8PathBuf {
    let path = target_dir().join(name);
    assert!(
        path.is_file(),
        "{path} is missing: build plugins and fixtures first with `cargo xtask test` \
         (or `cargo build --workspace --locked`)"
    );
    path
}

/// The `greenroom` binary.
pub(crate) fn greenroom() -> Utf8PathBuf {
    built("greenroom")
}

/// A fixture library by crate directory name, such as `register-panics`.
pub(crate) fn fixture(name: &str) -> Utf8PathBuf {
    built(&format!(
        "libgreenroom_fixture_{}.so",
        name.replace('-', "_")
    ))
}

/// A scratch directory, emptied and unique to this test.
pub(crate) fn scratch(test: &str) -> Utf8PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let number = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = target_dir()
        .join("test-scratch")
        .join(format!("{test}-{}-{number}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directories can be created");
    dir
}

/// Runs `greenroom` with `args` and returns what it did.
pub(crate) fn run_greenroom(args: &[&str]) -> Output {
    Command::new(greenroom())
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("greenroom starts")
}
