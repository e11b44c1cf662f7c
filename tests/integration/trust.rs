//! Trust in plugin files: a file or directory another user could change,
//! and a file whose hash differs from the one pinned in configuration, are
//! refused before any of their code runs, naming the fix; the other files
//! still load.

use std::os::unix::fs::PermissionsExt as _;

use camino::Utf8Path;
use sha2::{Digest as _, Sha256};

use crate::{
    artifacts::{run_greenroom, scratch},
    bad_files::{
        assert_exit, assert_ok, assert_refused, check_refusing, copy_fixture, dir_with_good_plugin,
        stdout,
    },
};

fn chmod(path: &Utf8Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .expect("scratch files can change mode");
}

#[test]
fn a_plugin_file_other_users_may_write_is_refused() {
    let (dir, good) = dir_with_good_plugin("trust-writable-file");
    let open = copy_fixture("numbered", &dir, "open.so");
    chmod(&open, 0o666);

    let table = check_refusing(&dir, &good);

    assert_refused(
        &table,
        &open,
        &format!(
            "the file {open} is writable by every user (mode 0666), so another user could put \
             code into greenroom; run `chmod go-w {open}`"
        ),
    );
}

#[test]
fn a_plugins_directory_its_group_may_write_refuses_every_file() {
    let (dir, good) = dir_with_good_plugin("trust-writable-dir");
    chmod(&dir, 0o775);

    let output = run_greenroom(&["check", "--plugins", dir.as_str()]);

    assert_exit(&output, 1);
    assert_refused(
        &stdout(&output),
        &good,
        &format!(
            "its directory {dir} is writable by its group (mode 0775), so another user could put \
             code into greenroom; run `chmod go-w {dir}`"
        ),
    );
}

#[test]
fn a_link_is_judged_by_its_targets_directory_too() {
    let (dir, good) = dir_with_good_plugin("trust-link");
    let elsewhere = scratch("trust-link-target");
    let target = copy_fixture("numbered", &elsewhere, "numbered.so");
    let link = dir.join("linked.so");
    std::os::unix::fs::symlink(&target, &link).expect("a symbolic link");
    chmod(&elsewhere, 0o777);

    let table = check_refusing(&dir, &good);

    assert_refused(
        &table,
        &link,
        &format!(
            "its directory {elsewhere} is writable by every user (mode 0777), so another user \
             could put code into greenroom; run `chmod go-w {elsewhere}`"
        ),
    );
}

#[test]
fn a_plugin_file_owned_by_another_user_is_refused_when_one_can_make_it() {
    let (dir, good) = dir_with_good_plugin("trust-owner");
    let foreign = copy_fixture("numbered", &dir, "foreign.so");
    let chowned = std::process::Command::new("chown")
        .args(["4242", foreign.as_str()])
        .stderr(std::process::Stdio::null())
        .status()
        .expect("chown runs");
    if !chowned.success() {
        // Only root can give a file away; then no other user's file can
        // appear here either, and the refusal is covered by the unit tests.
        assert_ne!(
            std::fs::metadata("/proc/self")
                .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
                .ok(),
            Some(0),
            "root could not chown"
        );
        return;
    }

    let table = check_refusing(&dir, &good);

    let status = crate::bad_files::status_line(&table, &foreign);
    assert!(
        status.starts_with(&format!(
            "refused {foreign}: the file {foreign} is owned by user 4242, neither root nor the \
             user running greenroom ("
        )),
        "{status}"
    );
}

#[test]
fn a_pinned_hash_must_match_by_file_name_or_plugin_id() {
    let (dir, good) = dir_with_good_plugin("trust-pins");
    let other = copy_fixture("numbered", &dir, "numbered.so");
    let hash = |path: &Utf8Path| {
        let bytes = std::fs::read(path).expect("the file reads");
        Sha256::digest(&bytes)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    };
    let wrong = "ab".repeat(32);
    let config = scratch("trust-pins-config").join("app-config.yaml");
    std::fs::write(
        &config,
        format!(
            "backend:\n  plugins:\n    sha256:\n      minimal.so: sha256:{}\n      \
             numbered-000: {wrong}\n      Minimal.so: {wrong}\n",
            hash(&good)
        ),
    )
    .expect("the configuration is written");

    let output = run_greenroom(&[
        "check",
        "--plugins",
        dir.as_str(),
        "--config",
        config.as_str(),
    ]);

    assert_exit(&output, 1);
    let table = stdout(&output);
    assert_ok(&table, &good);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "backend.plugins.sha256 pins `Minimal.so`, which names no plugin file and no plugin \
             here; file names and ids match exactly, case included"
        ),
        "{stderr}"
    );
    let inspected = stdout(&run_greenroom(&["inspect", good.as_str()]));
    assert!(
        inspected.contains(&format!("sha256 {}", hash(&good))),
        "inspect shows the whole hash a pin needs: {inspected}"
    );
    assert_refused(
        &table,
        &other,
        &format!(
            "its SHA-256 is {}, but backend.plugins.sha256 pins {wrong} for numbered-000; \
             install the pinned build, or pin the new one if you trust it",
            hash(&other)
        ),
    );
}
