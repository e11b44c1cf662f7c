//! Stage two: decide whether a candidate file may be loaded.
//!
//! Every check on a library file lives here. The file is opened without
//! blocking and read once into memory, and every check runs on those bytes:
//! it must be a regular file (a symbolic link is followed, and its target
//! must be one), no larger than the configured limit, a shared library of
//! this platform's format and architecture with every loadable segment inside
//! the file, exporting a readable declaration and a root module, and built
//! against a compatible interface. The loader writes exactly these bytes to
//! its private copy, so the bytes checked are the bytes loaded.

#[cfg(target_os = "linux")]
mod elf;
mod interface;
mod object_file;
mod pins;
mod trust;

use std::io::Read;

use camino::{Utf8Path, Utf8PathBuf};
use greenroom_contract::{ParsedDeclaration, declaration::DeclarationError};
use sha2::{Digest, Sha256};

pub use interface::{InterfaceError, InterfaceRevision, select_revision};
pub use pins::Pins;

use crate::platform;

/// The largest plugin file accepted unless configured otherwise.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 256 * 1024 * 1024;

/// Settings of the check stage.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Files larger than this many bytes are refused.
    pub max_file_size: u64,
    /// The hashes files must have (`backend.plugins.sha256`).
    pub pins: Pins,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            pins: Pins::default(),
        }
    }
}

/// Why a file may not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The file could not be opened or read.
    #[error("cannot read the file: {source}; make it readable by the user running greenroom")]
    Read {
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A symbolic link whose target does not exist.
    #[error("a symbolic link to {target}, which does not exist; fix or remove the link")]
    DanglingLink {
        /// Where the link points.
        target: String,
    },
    /// The entry is not a regular file.
    #[error("{kind} is not a plugin file; only regular files are loaded")]
    NotRegular {
        /// What it is instead, such as "a FIFO".
        kind: String,
    },
    /// The file exceeds the size limit.
    #[error(
        "the file is {size} bytes, above the limit of {limit} bytes; \
         raise the limit with --max-plugin-size if the file is trusted"
    )]
    TooLarge {
        /// The file's size.
        size: u64,
        /// The configured limit.
        limit: u64,
    },
    /// The file is too large to hold in memory for checking.
    #[error(
        "the file is {size} bytes, more than this host can hold in memory to check it; lower \
         --max-plugin-size or free memory"
    )]
    OutOfMemory {
        /// The file's size.
        size: u64,
    },
    /// The file has no bytes.
    #[error("the file is empty; reinstall the plugin")]
    Empty,
    /// The bytes are not an object file of any known format.
    #[error(
        "not a shared library: no known object file header; plugins are built as cdylib crates"
    )]
    NotObject,
    /// The bytes start like an object file but do not parse.
    #[error("a damaged shared library ({reason}); reinstall the plugin, it may be truncated")]
    Damaged {
        /// What the parser said.
        reason: String,
    },
    /// An object file of another format or architecture.
    #[error(
        "{found}, but this host loads {expected} libraries; build the plugin for this platform"
    )]
    WrongPlatform {
        /// What the file is.
        found: String,
        /// What this host loads.
        expected: String,
    },
    /// An executable program rather than a library.
    #[error(
        "an executable program, not a shared library; build the plugin with crate-type = [\"cdylib\"]"
    )]
    Executable,
    /// A loadable part of the file lies past its end.
    #[error(
        "the file is truncated: a loadable segment ends at byte {end} but the file has {len} \
         bytes; reinstall the plugin"
    )]
    Truncated {
        /// Where the segment ends.
        end: u64,
        /// The file's length.
        len: u64,
    },
    /// A shared library without a Greenroom declaration.
    #[error(
        "a shared library but not a Greenroom plugin: it exports no {symbol}; \
         build it with greenroom_sdk::export!"
    )]
    NotAPlugin {
        /// The missing symbol.
        symbol: &'static str,
    },
    /// The declaration could not be read.
    #[error("the plugin declaration is unreadable: {0}; rebuild the plugin with greenroom-sdk")]
    Declaration(#[from] DeclarationError),
    /// The declaration names an invalid or repeated id.
    #[error("the plugin declaration is invalid: {reason}; rebuild the plugin with greenroom-sdk")]
    DeclaredId {
        /// What is wrong.
        reason: String,
    },
    /// The declaration is present but the root module is not.
    #[error(
        "the library declares plugins but exports no root module; build it with greenroom_sdk::export!"
    )]
    NoRootModule,
    /// Built against an interface this host cannot load.
    #[error(transparent)]
    Interface(#[from] InterfaceError),
    /// Someone other than the user running greenroom (or root) could change
    /// the file or its directory.
    #[error("{what} is {reason}, so another user could put code into greenroom; {fix}")]
    Untrusted {
        /// The entry, such as `the file /p/x.so`.
        what: String,
        /// Who could change it.
        reason: String,
        /// The command that fixes it.
        fix: String,
    },
    /// The file's hash differs from the one configured for it.
    #[error(
        "its SHA-256 is {found}, but backend.plugins.sha256 pins {pinned} for {key}; install \
         the pinned build, or pin the new one if you trust it"
    )]
    PinMismatch {
        /// The file name or plugin id the pin is under.
        key: String,
        /// The pinned hash.
        pinned: String,
        /// The file's hash.
        found: String,
    },
}

/// A file that passed every check, with the bytes that were checked.
#[derive(Debug)]
pub struct CheckedLibrary {
    /// The absolute path the file was found at.
    pub path: Utf8PathBuf,
    /// The bytes that were checked, and that will be loaded.
    pub bytes: Vec<u8>,
    /// The SHA-256 of `bytes`, in lowercase hex.
    pub sha256: String,
    /// What the library declares about itself.
    pub declaration: ParsedDeclaration,
    /// Which revision of the root module the library exports.
    pub revision: InterfaceRevision,
}

/// Runs every check on the file at `path`.
///
/// # Errors
///
/// Returns the first check the file fails.
pub fn check(path: &Utf8Path, options: &CheckOptions) -> Result<CheckedLibrary, CheckError> {
    let bytes = read_plugin_file(path, options.max_file_size)?;
    let checked = check_bytes(path, bytes)?;
    options
        .pins
        .check(path, &checked.declaration, &checked.sha256)?;
    Ok(checked)
}

/// Runs every check that looks at a file's bytes, once they are read.
///
/// # Errors
///
/// Returns the first check the bytes fail.
pub fn check_bytes(path: &Utf8Path, bytes: Vec<u8>) -> Result<CheckedLibrary, CheckError> {
    let sha256 = hex(&Sha256::digest(&bytes));
    let declaration = object_file::read_declaration(&bytes)?;
    check_declared_ids(&declaration)?;
    let revision = select_revision(&declaration)?;
    Ok(CheckedLibrary {
        path: path.to_owned(),
        bytes,
        sha256,
        declaration,
        revision,
    })
}

/// Checks the ids a declaration names, before any code of the library runs:
/// each must follow the naming rules and appear once.
fn check_declared_ids(declaration: &ParsedDeclaration) -> Result<(), CheckError> {
    let invalid = |error: crate::register::RegisterError| CheckError::DeclaredId {
        reason: error.to_string(),
    };
    let mut seen = std::collections::BTreeSet::new();
    for id in &declaration.plugins {
        crate::register::PluginId::parse("plugin id", id).map_err(invalid)?;
        if !seen.insert(format!("plugin `{id}`")) {
            return Err(CheckError::DeclaredId {
                reason: format!("plugin `{id}` is declared twice"),
            });
        }
    }
    for (plugin, module) in &declaration.modules {
        crate::register::PluginId::parse("plugin id", plugin).map_err(invalid)?;
        crate::register::PluginId::parse("module id", module).map_err(invalid)?;
        if !seen.insert(format!("module `{plugin}/{module}`")) {
            return Err(CheckError::DeclaredId {
                reason: format!("module `{plugin}/{module}` is declared twice"),
            });
        }
    }
    if declaration.library.chars().any(char::is_control) {
        return Err(CheckError::DeclaredId {
            reason: "the library name holds control characters".to_string(),
        });
    }
    Ok(())
}

/// Reads a regular file of at most `limit` bytes, without blocking on
/// special files and without trusting a size read before opening.
///
/// # Errors
///
/// Returns an error when the entry is not a regular file (or a symbolic
/// link to one), is too large or empty, or cannot be read.
pub fn read_regular_file(path: &Utf8Path, limit: u64) -> Result<Vec<u8>, CheckError> {
    read_checked(path, limit, |_| Ok(()))
}

/// Reads a plugin file as [`read_regular_file`] does, once the file and the
/// directories it lives in pass the trust checks.
///
/// # Errors
///
/// As [`read_regular_file`], and when another user could change the file
/// or its directory.
fn read_plugin_file(path: &Utf8Path, limit: u64) -> Result<Vec<u8>, CheckError> {
    read_checked(path, limit, |metadata| trust::check(path, metadata))
}

fn read_checked(
    path: &Utf8Path,
    limit: u64,
    trusted: impl FnOnce(&std::fs::Metadata) -> Result<(), CheckError>,
) -> Result<Vec<u8>, CheckError> {
    let link = std::fs::symlink_metadata(path).map_err(|source| CheckError::Read { source })?;
    if !link.is_file() && !link.is_symlink() {
        return Err(CheckError::NotRegular {
            kind: platform::file_kind(link.file_type()).to_string(),
        });
    }

    let file = platform::open_without_blocking(path.as_std_path()).map_err(|source| {
        if platform::is_symlink_loop(&source) {
            return CheckError::NotRegular {
                kind: "a loop of symbolic links".to_string(),
            };
        }
        match std::fs::read_link(path) {
            Ok(target) if source.kind() == std::io::ErrorKind::NotFound => {
                CheckError::DanglingLink {
                    target: target.display().to_string(),
                }
            }
            _ => CheckError::Read { source },
        }
    })?;
    let metadata = file
        .metadata()
        .map_err(|source| CheckError::Read { source })?;
    if !metadata.is_file() {
        return Err(CheckError::NotRegular {
            kind: format!(
                "a symbolic link to {}",
                platform::file_kind(metadata.file_type())
            ),
        });
    }
    trusted(&metadata)?;
    if metadata.len() > limit {
        return Err(CheckError::TooLarge {
            size: metadata.len(),
            limit,
        });
    }

    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(usize::try_from(metadata.len()).unwrap_or(usize::MAX))
        .map_err(|_| CheckError::OutOfMemory {
            size: metadata.len(),
        })?;
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| CheckError::Read { source })?;
    if bytes.len() as u64 > limit {
        return Err(CheckError::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    if bytes.is_empty() {
        return Err(CheckError::Empty);
    }
    Ok(bytes)
}

/// Formats bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
