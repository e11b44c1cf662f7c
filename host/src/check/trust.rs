//! Who else could change a plugin before it loads: the file, and the
//! directory it is found in (and, for a symbolic link, its target and the
//! target's directory), must be writable only by the user running greenroom
//! and owned by that user or root. Anyone else who could write them could
//! put code into the host.

use std::path::Path;

use camino::Utf8Path;

use super::CheckError;
use crate::platform;

/// Checks the file at `path`, whose opened file has `opened`, and the
/// directories it lives in.
///
/// # Errors
///
/// Names the first entry others could change, why, and the fix.
pub(super) fn check(path: &Utf8Path, opened: &std::fs::Metadata) -> Result<(), CheckError> {
    let path = path.as_std_path();
    let target = std::fs::canonicalize(path).map_err(|source| CheckError::Read { source })?;
    trusted("the file", &target, opened)?;
    let mut directories = vec![directory_of(path)];
    if target != path {
        directories.push(directory_of(&target));
    }
    for directory in directories {
        let metadata =
            std::fs::metadata(&directory).map_err(|source| CheckError::Read { source })?;
        trusted("its directory", &directory, &metadata)?;
    }
    Ok(())
}

fn trusted(what: &str, path: &Path, metadata: &std::fs::Metadata) -> Result<(), CheckError> {
    match platform::writable_by_others(path, metadata) {
        Some((reason, fix)) => Err(CheckError::Untrusted {
            what: format!("{what} {}", path.display()),
            reason,
            fix,
        }),
        None => Ok(()),
    }
}

/// The directory holding `path`, made absolute.
fn directory_of(path: &Path) -> std::path::PathBuf {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::path::absolute(parent).unwrap_or_else(|_| parent.to_path_buf())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn scratch(name: &str) -> camino::Utf8PathBuf {
        let dir = std::env::temp_dir().join(format!("trust-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        camino::Utf8PathBuf::from_path_buf(dir).expect("a UTF-8 path")
    }

    fn check_file(path: &Utf8Path) -> Result<(), CheckError> {
        let metadata = std::fs::metadata(path).expect("metadata");
        check(path, &metadata)
    }

    #[test]
    fn files_and_directories_others_may_write_are_refused_with_the_fix() {
        let dir = scratch("writable");
        let file = dir.join("plugin.so");
        std::fs::write(&file, b"x").expect("written");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(check_file(&file).is_ok());

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        assert_eq!(
            check_file(&file).expect_err("world-writable").to_string(),
            format!(
                "the file {file} is writable by every user (mode 0666), so another user could \
                 put code into greenroom; run `chmod go-w {file}`"
            )
        );

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o775)).expect("chmod");
        assert_eq!(
            check_file(&file)
                .expect_err("group-writable directory")
                .to_string(),
            format!(
                "its directory {dir} is writable by its group (mode 0775), so another user \
                 could put code into greenroom; run `chmod go-w {dir}`"
            )
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_links_target_and_its_directory_are_checked_too() {
        let dir = scratch("link");
        let elsewhere = scratch("link-target");
        let target = elsewhere.join("real.so");
        std::fs::write(&target, b"x").expect("written");
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let link = dir.join("plugin.so");
        std::os::unix::fs::symlink(&target, &link).expect("a link");
        assert!(check_file(&link).is_ok());

        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        assert_eq!(
            check_file(&link)
                .expect_err("the target's directory is open")
                .to_string(),
            format!(
                "its directory {elsewhere} is writable by every user (mode 0777), so another \
                 user could put code into greenroom; run `chmod go-w {elsewhere}`"
            )
        );
        std::fs::remove_dir_all(&dir).ok();
        std::fs::remove_dir_all(&elsewhere).ok();
    }
}
