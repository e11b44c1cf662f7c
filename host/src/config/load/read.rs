//! Reading configuration files and the files they name with `$include` and
//! `$file`, within limits for each file and for one whole load.
//!
//! A file is opened without blocking and must be a regular file (symbolic
//! links are followed), so that a FIFO cannot hang loading and a device
//! such as `/dev/zero` cannot fill memory. Each file holds at most
//! [`MAX_FILE_BYTES`]. One load reads at most [`MAX_FILES`] files and
//! [`MAX_LOAD_BYTES`] in all, and holds at most [`MAX_NODES`] keys and
//! values, so that files including one another many times over cannot make
//! loading take minutes or gigabytes. Every `$include` and `$file` counts
//! each time it is reached, and a YAML alias counts as the copy it makes.

use std::{fmt, io::Read};

use camino::Utf8Path;

use crate::{config::yaml::Measure, platform::open_without_blocking};

/// The most one file may hold: 16 MiB.
pub(crate) const MAX_FILE_BYTES: u64 = 16 * MIB;

/// The most files one load may read.
pub(crate) const MAX_FILES: usize = 1000;

/// The most bytes one load may read from all its files together: 64 MiB.
pub(crate) const MAX_LOAD_BYTES: u64 = 64 * MIB;

/// The most keys and values one load may hold.
pub(crate) const MAX_NODES: usize = 1_000_000;

const MIB: u64 = 1024 * 1024;

/// What one load has read so far, against its limits.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    /// Every file a read was tried of, whether it could be read or not.
    pub(crate) tried: std::collections::BTreeSet<camino::Utf8PathBuf>,
    files: usize,
    bytes: u64,
    nodes: usize,
    exhausted: bool,
}

/// Why a file could not be read.
#[derive(Debug)]
pub(crate) enum Unreadable {
    /// The operating system's error.
    Io(std::io::Error),
    /// The file is of this kind, not a regular file.
    NotRegular(&'static str),
    /// The file holds more than [`MAX_FILE_BYTES`].
    TooLarge,
    /// The file is not UTF-8.
    NotText,
    /// The load has read [`MAX_FILES`] files already.
    TooManyFiles,
    /// The file would take the load past [`MAX_LOAD_BYTES`].
    TooManyBytes,
    /// The file would take the load past [`MAX_NODES`].
    TooManyNodes,
    /// A limit of the load was reached before, and that was reported; there
    /// is nothing new to say.
    Exhausted,
}

impl Budget {
    /// The whole text of the file at `path`, counted against the budget.
    ///
    /// # Errors
    ///
    /// Returns why the file cannot be read: the system's error, a file that
    /// is not a regular file, too large or not UTF-8, or a spent budget.
    pub(crate) fn read(&mut self, path: &Utf8Path) -> Result<String, Unreadable> {
        self.tried.insert(path.to_owned());
        self.spend(|budget| {
            budget.files += 1;
            if budget.files > MAX_FILES {
                return Err(Unreadable::TooManyFiles);
            }
            let bytes = read_regular_file(path, MAX_LOAD_BYTES - budget.bytes)?;
            budget.bytes += bytes.len() as u64;
            String::from_utf8(bytes).map_err(|_| Unreadable::NotText)
        })
    }

    /// Counts what a YAML text of `length` bytes holds, as `measure` says:
    /// its keys and values, and the text its aliases copy beyond its length.
    /// Called right after the [`Budget::read`] of that text, it never meets
    /// a budget already exhausted, though it may exhaust it.
    ///
    /// # Errors
    ///
    /// Returns the limit the text would pass.
    pub(crate) fn hold(&mut self, measure: &Measure, length: usize) -> Result<(), Unreadable> {
        self.spend(|budget| {
            let nodes = budget.nodes.saturating_add(measure.nodes);
            if nodes > MAX_NODES {
                return Err(Unreadable::TooManyNodes);
            }
            let copied = measure.bytes.saturating_sub(length) as u64;
            if copied > MAX_LOAD_BYTES - budget.bytes {
                return Err(Unreadable::TooManyBytes);
            }
            budget.nodes = nodes;
            budget.bytes += copied;
            Ok(())
        })
    }

    /// Runs `step` unless a limit was reached before, and remembers when it
    /// reaches one.
    fn spend<T>(
        &mut self,
        step: impl FnOnce(&mut Self) -> Result<T, Unreadable>,
    ) -> Result<T, Unreadable> {
        if self.exhausted {
            return Err(Unreadable::Exhausted);
        }
        let result = step(self);
        if let Err(problem) = &result {
            self.exhausted = problem.is_limit();
        }
        result
    }
}

impl Unreadable {
    /// Whether a limit of the whole load was reached.
    fn is_limit(&self) -> bool {
        matches!(
            self,
            Self::TooManyFiles | Self::TooManyBytes | Self::TooManyNodes
        )
    }
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(error) => write!(f, "{error}; check the path"),
            Self::NotRegular(kind) => write!(
                f,
                "it is {kind}, not a regular file; name a regular file (a symbolic link to one \
                 is fine)"
            ),
            Self::TooLarge => write!(
                f,
                "it holds more than {} MiB, the most one file may; make it smaller or split it",
                MAX_FILE_BYTES / MIB
            ),
            Self::NotText => f.write_str("it is not UTF-8 text; save it as UTF-8"),
            Self::TooManyFiles => write!(
                f,
                "one load reads at most {MAX_FILES} files, and this would be one more (each \
                 `$include` and `$file` counts every time it is reached); include fewer files"
            ),
            Self::TooManyBytes => write!(
                f,
                "one load reads at most {} MiB, and this file would pass that (each `$include` \
                 counts every time it is reached, and each YAML alias as a copy); include less",
                MAX_LOAD_BYTES / MIB
            ),
            Self::TooManyNodes => write!(
                f,
                "one load holds at most {MAX_NODES} keys and values, and this file would pass \
                 that (each `$include` counts every time it is reached, and each YAML alias as \
                 a copy); include less"
            ),
            Self::Exhausted => f.write_str("a limit of this load was reached before"),
        }
    }
}

/// The bytes of the regular file at `path`, refusing more than
/// [`MAX_FILE_BYTES`] or more than `allowed`.
fn read_regular_file(path: &Utf8Path, allowed: u64) -> Result<Vec<u8>, Unreadable> {
    let file = open_without_blocking(path.as_std_path()).map_err(Unreadable::Io)?;
    let metadata = file.metadata().map_err(Unreadable::Io)?;
    if !metadata.is_file() {
        return Err(Unreadable::NotRegular(crate::platform::file_kind(
            metadata.file_type(),
        )));
    }
    let too_much = |length: u64| {
        if length > MAX_FILE_BYTES {
            Some(Unreadable::TooLarge)
        } else {
            (length > allowed).then_some(Unreadable::TooManyBytes)
        }
    };
    if let Some(problem) = too_much(metadata.len()) {
        return Err(problem);
    }

    // The size can change after the check (and is 0 for files such as
    // those in /proc), so the read itself stops one byte past the limit.
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES.min(allowed) + 1)
        .read_to_end(&mut bytes)
        .map_err(Unreadable::Io)?;
    match too_much(bytes.len() as u64) {
        Some(problem) => Err(problem),
        None => Ok(bytes),
    }
}

#[cfg(test)]
mod tests {
    use camino::Utf8PathBuf;

    use super::*;

    fn scratch(name: &str) -> Utf8PathBuf {
        let dir =
            std::env::temp_dir().join(format!("greenroom-read-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directories can be created");
        Utf8PathBuf::from_path_buf(dir).expect("the temporary directory is UTF-8")
    }

    fn refusal(budget: &mut Budget, path: &Utf8Path) -> String {
        budget.read(path).expect_err("refused").to_string()
    }

    #[test]
    fn a_regular_file_is_read_and_counted() {
        let dir = scratch("regular");
        let path = dir.join("a.yaml");
        std::fs::write(&path, "a: 1\n").expect("writable");
        let mut budget = Budget::default();
        assert_eq!(budget.read(&path).expect("readable"), "a: 1\n");
        assert_eq!((budget.files, budget.bytes), (1, 5));
    }

    #[test]
    fn devices_and_directories_are_refused() {
        let mut budget = Budget::default();
        assert_eq!(
            refusal(&mut budget, "/dev/zero".into()),
            "it is a device, not a regular file; name a regular file (a symbolic link to one \
             is fine)"
        );
        let dir = scratch("directory");
        assert!(refusal(&mut budget, &dir).starts_with("it is a directory, not a regular file"));
    }

    #[test]
    fn the_number_of_files_is_limited() {
        let dir = scratch("files");
        let path = dir.join("a.yaml");
        std::fs::write(&path, "").expect("writable");
        let mut budget = Budget::default();
        for _ in 0..MAX_FILES {
            budget.read(&path).expect("within the budget");
        }
        assert!(refusal(&mut budget, &path).starts_with(
            "one load reads at most 1000 files, and this would be one more (each `$include` and \
             `$file` counts every time it is reached); include fewer files"
        ));
        assert!(matches!(budget.read(&path), Err(Unreadable::Exhausted)));
    }

    #[test]
    fn the_bytes_read_in_one_load_are_limited() {
        let dir = scratch("bytes");
        let path = dir.join("a.yaml");
        std::fs::write(&path, "a: 1\n").expect("writable");
        let mut budget = Budget {
            bytes: MAX_LOAD_BYTES - 4,
            ..Budget::default()
        };
        assert_eq!(
            refusal(&mut budget, &path),
            "one load reads at most 64 MiB, and this file would pass that (each `$include` \
             counts every time it is reached, and each YAML alias as a copy); include less"
        );
    }

    #[test]
    fn a_file_larger_than_the_limit_is_refused_unread() {
        let dir = scratch("large");
        let path = dir.join("large.yaml");
        let file = std::fs::File::create(&path).expect("writable");
        file.set_len(MAX_FILE_BYTES + 1).expect("a sparse file");
        assert_eq!(
            refusal(&mut Budget::default(), &path),
            "it holds more than 16 MiB, the most one file may; make it smaller or split it"
        );
    }

    #[test]
    fn aliases_count_against_the_bytes_and_nodes() {
        let mut budget = Budget::default();
        let copies = Measure {
            nodes: 10,
            bytes: MAX_LOAD_BYTES as usize + 100,
            ..Measure::default()
        };
        assert!(matches!(
            budget.hold(&copies, 99),
            Err(Unreadable::TooManyBytes)
        ));
        let mut budget = Budget::default();
        let many = Measure {
            nodes: MAX_NODES + 1,
            ..Measure::default()
        };
        assert!(matches!(
            budget.hold(&many, 0),
            Err(Unreadable::TooManyNodes)
        ));
    }
}
