//! The error type that crosses the boundary.

use std::fmt;

use abi_stable::{StableAbi, std_types::RString};

/// What kind of failure a plugin reports.
///
/// A code rather than an enum, so that later interface versions can add
/// codes without changing the layout.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// The plugin's code panicked; the message is the panic message.
    pub const PANICKED: Self = Self(1);
    /// The plugin's code returned an error.
    pub const FAILED: Self = Self(2);
    /// The plugin was asked for something it does not provide.
    pub const UNSUPPORTED: Self = Self(3);
    /// A feature asked the host for a dependency it did not declare.
    pub const UNDECLARED: Self = Self(4);

    /// A short lowercase name for the code.
    pub fn name(self) -> &'static str {
        match self {
            Self::PANICKED => "panicked",
            Self::FAILED => "failed",
            Self::UNSUPPORTED => "unsupported",
            Self::UNDECLARED => "undeclared",
            _ => "unknown error",
        }
    }
}

/// An error returned by a plugin entry point.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct PluginError {
    /// What kind of failure this is.
    pub code: ErrorCode,
    /// A human-readable description, without a trailing period.
    pub message: RString,
}

impl PluginError {
    /// An error with the given code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: RString::from(message.into()),
        }
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

impl std::error::Error for PluginError {}
