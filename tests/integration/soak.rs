//! A short soak: `cargo xtask soak` runs the host with every plugin under a
//! loopback load, replacing a plugin file every two seconds, and fails if
//! any request failed or a replaced file was not taken.

use crate::artifacts::{finish, target_dir};

#[test]
fn a_short_soak_with_hot_reloads_loses_no_request() {
    let xtask = target_dir().join("xtask");
    assert!(
        xtask.is_file(),
        "{xtask} is missing: build it first with `cargo xtask test` (or `cargo build --workspace`)"
    );
    let mut command = std::process::Command::new(xtask);
    command.args([
        "soak",
        "--no-build",
        "--seconds",
        "6",
        "--reload-every",
        "2",
    ]);

    let output = finish(command);

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the soak failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("==> soak passed: no request failed, every replaced file was taken"),
        "{stdout}"
    );
    assert!(stdout.contains("reloads: 3 files replaced"), "{stdout}");
}
