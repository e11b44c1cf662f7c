//! Stage three: copy a checked library to a private path and open it.
//!
//! The checked bytes are written to a new file in a directory only this
//! process's user can enter, that copy is opened with abi_stable, and the
//! copy is unlinked at once (the mapping stays). Loading from a unique path
//! means a replaced plugin file is loaded as new code, and nothing written
//! to the original afterwards can reach the mapped copy. Libraries are never
//! unloaded: their code may still be referenced by vtables and statics.
//!
//! One library is opened at a time, and never through abi_stable's
//! per-type module cache, which would hand back the first library for every
//! later path.

use std::{
    io::Write,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use abi_stable::{
    library::{LibHeader, LibraryError},
    std_types::RResult,
};
use camino::{Utf8Path, Utf8PathBuf};
use greenroom_contract::{
    ParsedDeclaration, PluginError, PluginModuleRef, Registration, frozen::v1_0,
};

use crate::{
    check::{CheckedLibrary, InterfaceRevision},
    platform,
};

/// How many lines of abi_stable's layout report a refusal shows.
const LAYOUT_SUMMARY_LINES: usize = 4;

static LOAD_LOCK: Mutex<()> = Mutex::new(());

/// Why a checked library could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The private directory could not be created.
    #[error(
        "cannot create the private directory {path}: {error}; choose a writable directory with \
         --private-dir"
    )]
    PrivateDir {
        /// The directory.
        path: Utf8PathBuf,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// The private copy could not be written.
    #[error("cannot write the private copy {path}: {error}")]
    Copy {
        /// The copy's path.
        path: Utf8PathBuf,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// The dynamic loader refused the file.
    #[error("the dynamic loader refused the library: {reason}")]
    Open {
        /// The loader's message.
        reason: String,
    },
    /// The root module's layout differs from the one this host expects.
    #[error(
        "the library's types differ from this host's although its interface version matches \
         (built from a modified contract?); rebuild the plugin with the released greenroom-sdk\n\
         {summary}"
    )]
    Layout {
        /// The first lines of abi_stable's report.
        summary: String,
    },
    /// abi_stable refused the library for another reason.
    #[error("abi_stable refused the library: {reason}")]
    Abi {
        /// abi_stable's message.
        reason: String,
    },
}

/// A directory of private copies, removed when dropped.
#[derive(Debug)]
pub struct PrivateDir {
    path: Utf8PathBuf,
    next: AtomicU64,
}

impl PrivateDir {
    /// Creates a new private directory inside `base`.
    ///
    /// # Errors
    ///
    /// Returns an error when the directory cannot be created.
    pub fn create(base: &Utf8Path) -> Result<Self, LoadError> {
        remove_abandoned(base);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        let path = base.join(format!("greenroom-{}-{nanos:09}", std::process::id()));
        platform::create_private_dir(path.as_std_path()).map_err(|error| {
            LoadError::PrivateDir {
                path: path.clone(),
                error,
            }
        })?;
        Ok(Self {
            path,
            next: AtomicU64::new(0),
        })
    }

    /// The directory's path.
    pub fn path(&self) -> &Utf8Path {
        &self.path
    }

    /// Writes the checked bytes to a new private file and returns its path.
    ///
    /// # Errors
    ///
    /// Returns an error when the file cannot be written.
    pub fn write_copy(&self, checked: &CheckedLibrary) -> Result<Utf8PathBuf, LoadError> {
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        let name = checked.path.file_name().unwrap_or("library");
        let path = self.path.join(format!("{number}-{name}"));
        let copy_error = |error| LoadError::Copy {
            path: path.clone(),
            error,
        };
        let mut file = platform::create_private_file(path.as_std_path()).map_err(copy_error)?;
        file.write_all(&checked.bytes).map_err(copy_error)?;
        Ok(path)
    }
}

/// Removes private directories in `base` left by hosts that died before
/// they could (a crash inside a library's constructor, say); only those
/// whose process is gone, and only what this user may remove.
fn remove_abandoned(base: &Utf8Path) {
    let Ok(entries) = base.as_std_path().read_dir() else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix("greenroom-"))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if platform::process_is_gone(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A library's root module, in the revision it was built against.
#[derive(Clone, Copy)]
pub enum RootModule {
    /// A root module of interface 1.0.
    V1_0(v1_0::PluginModuleRef),
    /// A root module of the current interface.
    Current(PluginModuleRef),
}

impl std::fmt::Debug for RootModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::V1_0(_) => f.write_str("RootModule::V1_0"),
            Self::Current(_) => f.write_str("RootModule::Current"),
        }
    }
}

impl RootModule {
    /// Calls the library's registration entry point.
    pub fn register(&self) -> RResult<Registration, PluginError> {
        match self {
            Self::V1_0(module) => module.register()(),
            Self::Current(module) => module.register()(),
        }
    }

    /// The library's initialization entry point, if its interface has one.
    pub fn init(
        &self,
    ) -> Option<
        extern "C" fn(
            greenroom_contract::HostBox,
        ) -> async_ffi::FfiFuture<RResult<(), PluginError>>,
    > {
        match self {
            Self::V1_0(_) => None,
            Self::Current(module) => module.init(),
        }
    }

    /// The library's shutdown entry point, if its interface has one.
    pub fn shutdown(&self) -> Option<extern "C" fn() -> RResult<(), PluginError>> {
        match self {
            Self::V1_0(_) => None,
            Self::Current(module) => module.shutdown(),
        }
    }
}

/// A library that is loaded and whose root module passed abi_stable's checks.
#[derive(Debug)]
pub struct LoadedLibrary {
    /// The path the library was found at.
    pub path: Utf8PathBuf,
    /// The SHA-256 of the loaded bytes.
    pub sha256: String,
    /// What the library declared in its file.
    pub declaration: ParsedDeclaration,
    /// The interface revision of its root module.
    pub revision: InterfaceRevision,
    /// Its entry points.
    pub root: RootModule,
}

/// Loads a checked library through the root module revision it declared.
///
/// # Errors
///
/// Returns an error when the copy cannot be written or the library is
/// refused by the dynamic loader or by abi_stable.
pub fn load(checked: CheckedLibrary, private: &PrivateDir) -> Result<LoadedLibrary, LoadError> {
    let revision = checked.revision;
    load_as(checked, private, revision)
}

/// Loads a checked library, reading its root module as `revision`.
///
/// [`load`] picks the revision from the declaration; this exists to show
/// what happens when the wrong one is used.
///
/// # Errors
///
/// As [`load`]; a revision that does not match the library's root module is
/// refused by the layout check.
pub fn load_as(
    checked: CheckedLibrary,
    private: &PrivateDir,
    revision: InterfaceRevision,
) -> Result<LoadedLibrary, LoadError> {
    let copy = private.write_copy(&checked)?;
    let opened = open_copy(&copy, revision);
    let _ = std::fs::remove_file(&copy);

    let root = opened?;
    tracing::debug!(path = %checked.path, sha256 = %checked.sha256, "library loaded");
    Ok(LoadedLibrary {
        path: checked.path,
        sha256: checked.sha256,
        declaration: checked.declaration,
        revision,
        root,
    })
}

/// Opens a private copy and reads its root module as `revision`, holding
/// the process-wide load lock so that one library is opened at a time.
///
/// # Errors
///
/// Returns an error when the dynamic loader or abi_stable refuses the copy.
pub fn open_copy(copy: &Utf8Path, revision: InterfaceRevision) -> Result<RootModule, LoadError> {
    let _guard = LOAD_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let header = abi_stable::library::lib_header_from_path(copy.as_std_path())
        .map_err(|error| translate(error, copy))?;
    match revision {
        InterfaceRevision::V1_0 => {
            init::<v1_0::PluginModuleRef>(header, copy).map(RootModule::V1_0)
        }
        InterfaceRevision::Current => {
            init::<PluginModuleRef>(header, copy).map(RootModule::Current)
        }
    }
}

fn init<M: abi_stable::library::RootModule>(
    header: &'static LibHeader,
    copy: &Utf8Path,
) -> Result<M, LoadError> {
    header
        .init_root_module::<M>()
        .map_err(|error| translate(error, copy))
}

/// Turns abi_stable's error into ours, keeping long reports out of sight.
fn translate(error: LibraryError, copy: &Utf8Path) -> LoadError {
    match error {
        LibraryError::OpenError { err, .. } => {
            let mut reason = std::error::Error::source(&err)
                .map_or_else(|| err.to_string(), |source| source.to_string())
                .replace(copy.as_str(), "the private copy");
            if reason.contains("failed to map segment") {
                reason.push_str(
                    " (is the private directory on a filesystem mounted noexec? choose another \
                     with --private-dir)",
                );
            }
            LoadError::Open { reason }
        }
        LibraryError::AbiInstability(report) => {
            let report = report.to_string();
            tracing::debug!(%report, "full layout report");
            LoadError::Layout {
                summary: summarize(&report),
            }
        }
        other => LoadError::Abi {
            reason: other.to_string(),
        },
    }
}

/// Picks the errors out of abi_stable's layout report: each `Error:` line
/// with the `Expected:` and `Found:` values after it.
pub(crate) fn summarize(report: &str) -> String {
    let lines: Vec<&str> = report
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    let errors: Vec<String> = lines
        .iter()
        .enumerate()
        .filter_map(|(index, line)| {
            let what = line.strip_prefix("Error:")?.trim();
            let value_after = |label: &str| {
                lines[index..]
                    .iter()
                    .position(|line| *line == label)
                    .and_then(|offset| lines.get(index + offset + 1))
                    .map_or("?", |value| value)
            };
            let line = format!(
                "layout error: {what}: expected `{}`, found `{}`",
                value_after("Expected:"),
                value_after("Found:")
            );
            Some(truncate(&line, 160))
        })
        .collect();

    let mut summary: Vec<String> = errors.iter().take(LAYOUT_SUMMARY_LINES).cloned().collect();
    let hidden = errors.len().saturating_sub(LAYOUT_SUMMARY_LINES);
    summary.push(format!(
        "{}the full report ({} lines) is logged at debug level (RUST_LOG=greenroom_host=debug)",
        if hidden > 0 {
            format!("{hidden} more errors; ")
        } else {
            String::new()
        },
        lines.len()
    ));
    summary.join("\n")
}

fn truncate(line: &str, width: usize) -> String {
    match line.char_indices().nth(width) {
        Some((index, _)) => format!("{}...", &line[..index]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_each_error_in_at_most_five_lines() {
        let mut report = String::from("Compared <this>:\n--- Type Layout ---\n");
        for index in 0..7 {
            report.push_str(&format!(
                "Error:mismatched package\nExpected:\n    crate-a{index}\nFound:\n    crate-b\n"
            ));
        }

        let summary = summarize(&report);

        let lines: Vec<&str> = summary.lines().collect();
        assert_eq!(lines.len(), LAYOUT_SUMMARY_LINES + 1);
        assert_eq!(
            lines[0],
            "layout error: mismatched package: expected `crate-a0`, found `crate-b`"
        );
        assert_eq!(
            lines[4],
            "3 more errors; the full report (37 lines) is logged at debug level \
             (RUST_LOG=greenroom_host=debug)"
        );
    }
}
