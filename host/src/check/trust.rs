//! Who else could change a plugin before it loads: the file, and the
//! directory it is found in, must be writable only by the user running
//! greenroom and owned by that user or root. So must every link on the way
//! to the file (its owner, and the directory it lies in) and the file it
//! leads to. The directories above them may not be changed by others
//! either, except those with the sticky bit (such as `/tmp`), where others
//! may add entries but not replace ours. Anyone else who could change any
//! of these could put code into the host.

use std::path::{Path, PathBuf};

use camino::Utf8Path;

use super::CheckError;
use crate::platform;

/// How many links a chain may hold before it is refused as a loop.
const MAX_LINKS: usize = 40;

/// Checks the file at `path`, whose opened file has `opened`, the links
/// leading to it and the directories they all live in.
///
/// # Errors
///
/// Names the first entry others could change, why, and the fix.
pub(super) fn check(path: &Utf8Path, opened: &std::fs::Metadata) -> Result<(), CheckError> {
    let read = |source| CheckError::Read { source };
    let path = std::path::absolute(path.as_std_path()).map_err(read)?;
    let mut current = path.clone();
    let mut directories = vec![directory_of(&path)];
    for _ in 0..MAX_LINKS {
        let metadata = std::fs::symlink_metadata(&current).map_err(read)?;
        if !metadata.file_type().is_symlink() {
            break;
        }
        trusted("the link", &current, &metadata, false)?;
        let target = std::fs::read_link(&current).map_err(read)?;
        current = directory_of(&current).join(target);
        directories.push(directory_of(&current));
    }
    let target = std::fs::canonicalize(&path).map_err(read)?;
    trusted("the file", &target, opened, false)?;
    directories.push(directory_of(&target));
    for directory in &directories {
        let metadata = std::fs::metadata(directory).map_err(read)?;
        trusted("its directory", directory, &metadata, false)?;
        for ancestor in directory.ancestors().skip(1) {
            let Ok(metadata) = std::fs::metadata(ancestor) else {
                continue;
            };
            trusted("the directory", ancestor, &metadata, true)?;
        }
    }
    Ok(())
}

/// Refuses an entry others could change; above the file's own directory,
/// a directory with the sticky bit is trusted when its owner is.
fn trusted(
    what: &str,
    path: &Path,
    metadata: &std::fs::Metadata,
    sticky_allowed: bool,
) -> Result<(), CheckError> {
    // A link's own mode means nothing; a sticky directory's openness is
    // harmless to what others did not put there.
    let owner_only =
        metadata.file_type().is_symlink() || (sticky_allowed && platform::is_sticky(metadata));
    let problem = if owner_only {
        platform::owned_by_others(path, metadata)
    } else {
        platform::writable_by_others(path, metadata)
    };
    match problem {
        Some((reason, fix)) => Err(CheckError::Untrusted {
            what: format!("{what} {}", path.display()),
            reason,
            fix,
        }),
        None => Ok(()),
    }
}

/// The directory holding `path`, made absolute.
fn directory_of(path: &Path) -> PathBuf {
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

    #[test]
    fn a_link_midway_in_an_open_directory_and_an_open_directory_above_are_refused() {
        let dir = scratch("chain");
        let safe = dir.join("safe");
        let open = dir.join("open");
        let plugins = dir.join("plugins");
        for made in [&safe, &open, &plugins] {
            std::fs::create_dir(made).expect("a directory");
            std::fs::set_permissions(made, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let file = safe.join("real.so");
        std::fs::write(&file, b"x").expect("written");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let middle = open.join("middle.so");
        std::os::unix::fs::symlink(&file, &middle).expect("a link");
        let link = plugins.join("plugin.so");
        std::os::unix::fs::symlink(&middle, &link).expect("a link");
        assert!(check_file(&link).is_ok());

        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        assert_eq!(
            check_file(&link)
                .expect_err("the middle link's directory is open")
                .to_string(),
            format!(
                "its directory {open} is writable by every user (mode 0777), so another user \
                 could put code into greenroom; run `chmod go-w {open}`"
            )
        );

        let nested = dir.join("shared/plugins");
        std::fs::create_dir_all(&nested).expect("directories");
        std::fs::set_permissions(&nested, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let shared = dir.join("shared");
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let inside = nested.join("plugin.so");
        std::fs::write(&inside, b"x").expect("written");
        std::fs::set_permissions(&inside, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert_eq!(
            check_file(&inside)
                .expect_err("a directory above is open")
                .to_string(),
            format!(
                "the directory {shared} is writable by every user (mode 0777), so another user \
                 could put code into greenroom; run `chmod go-w {shared}`"
            )
        );
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
        assert!(
            check_file(&inside).is_ok(),
            "a sticky directory above is fine"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
