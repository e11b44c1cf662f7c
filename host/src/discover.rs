//! Stage one: find the candidate library files in a plugins directory.
//!
//! The scan is not recursive. It takes every entry whose name ends with the
//! platform's library extension, skips names starting with a dot (editor
//! and install temporaries), and returns absolute UTF-8 paths sorted by file
//! name, so that the same directory always loads in the same order. Whether
//! an entry is a regular file is decided by the check stage, which refuses
//! anything else with a reason.

use camino::{Utf8Path, Utf8PathBuf};

use crate::platform::LIBRARY_EXTENSION;

/// Why a plugins directory or an entry in it could not be scanned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoverError {
    /// The directory could not be read.
    #[error(
        "cannot read the plugins directory {path}: {error}; check that it is a readable \
         directory, or pass another with --plugins"
    )]
    ReadDir {
        /// The directory.
        path: Utf8PathBuf,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// The directory's path could not be made absolute, or is not UTF-8.
    #[error("cannot resolve the plugins directory {path}: {reason}")]
    Resolve {
        /// The directory as given.
        path: Utf8PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// An entry's name is not UTF-8.
    #[error("the file name is not UTF-8; rename the file")]
    NotUtf8 {
        /// The path, with invalid bytes replaced.
        path: String,
    },
}

impl DiscoverError {
    /// The entry the error is about, for a report's file column.
    pub fn entry(&self) -> Utf8PathBuf {
        match self {
            Self::ReadDir { path, .. } | Self::Resolve { path, .. } => path.clone(),
            Self::NotUtf8 { path } => Utf8PathBuf::from(path),
        }
    }
}

/// What a scan found: candidate files in load order, and entries refused.
#[derive(Debug, Default)]
pub struct Scan {
    /// Absolute paths of candidate library files, sorted by file name.
    pub files: Vec<Utf8PathBuf>,
    /// Entries that look like libraries but cannot be considered.
    pub refused: Vec<DiscoverError>,
}

/// Scans `dir` for library files.
///
/// # Errors
///
/// Returns an error when the directory itself cannot be read; problems with
/// single entries are collected in [`Scan::refused`].
pub fn scan(dir: &Utf8Path) -> Result<Scan, DiscoverError> {
    let dir = absolute(dir)?;
    let entries = dir
        .as_std_path()
        .read_dir()
        .map_err(|error| DiscoverError::ReadDir {
            path: dir.clone(),
            error,
        })?;

    let mut scan = Scan::default();
    for entry in entries {
        let entry = entry.map_err(|error| DiscoverError::ReadDir {
            path: dir.clone(),
            error,
        })?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            if name
                .as_encoded_bytes()
                .ends_with(LIBRARY_EXTENSION.as_bytes())
            {
                scan.refused.push(DiscoverError::NotUtf8 {
                    path: entry.path().to_string_lossy().into_owned(),
                });
            }
            continue;
        };
        if is_candidate(name) {
            scan.files.push(dir.join(name));
        }
    }
    scan.files.sort();
    Ok(scan)
}

/// Makes `path` absolute without resolving symbolic links in its last part.
///
/// # Errors
///
/// Returns an error when the current directory is unknown or not UTF-8.
pub fn absolute(path: &Utf8Path) -> Result<Utf8PathBuf, DiscoverError> {
    let absolute = std::path::absolute(path).map_err(|error| DiscoverError::Resolve {
        path: path.to_owned(),
        reason: error.to_string(),
    })?;
    Utf8PathBuf::from_path_buf(absolute).map_err(|_| DiscoverError::Resolve {
        path: path.to_owned(),
        reason: "the absolute path is not UTF-8".to_string(),
    })
}

fn is_candidate(name: &str) -> bool {
    !name.starts_with('.') && Utf8Path::new(name).extension() == Some(LIBRARY_EXTENSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_visible_library_names_are_candidates() {
        assert!(is_candidate(&format!("hello.{LIBRARY_EXTENSION}")));
        assert!(!is_candidate(&format!(".hello.{LIBRARY_EXTENSION}")));
        assert!(!is_candidate("hello.txt"));
        assert!(!is_candidate(&format!("hello.{LIBRARY_EXTENSION}.tmp")));
    }

    #[test]
    fn files_come_back_absolute_and_sorted() {
        let dir = std::env::temp_dir().join(format!("greenroom-scan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["b.so", "a.so", "c.txt", ".d.so"] {
            std::fs::write(dir.join(name), b"").unwrap();
        }
        let dir = Utf8PathBuf::from_path_buf(dir).unwrap();

        let scan = scan(&dir).unwrap();

        let names: Vec<&str> = scan
            .files
            .iter()
            .map(|path| path.file_name().unwrap())
            .collect();
        assert_eq!(names, ["a.so", "b.so"]);
        assert!(scan.files.iter().all(|path| path.is_absolute()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
