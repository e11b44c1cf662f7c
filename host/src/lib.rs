//! The Greenroom plugin host as a library.
//!
//! A plugin library goes through one stage per module, in order:
//! [`discover`] finds candidate files, [`check`] decides from the file's
//! bytes whether it may be loaded, [`load`] opens a private copy, and
//! [`register`] asks it what it provides. [`Backend`] runs the stages for a
//! plugins directory and statically linked features; the `greenroom` binary
//! is a thin command line over it.

pub mod backend;
mod boundary;
pub mod check;
pub mod config;
pub mod discover;
pub mod initialize;
pub mod inspect;
pub mod load;
pub mod platform;
pub mod register;
pub mod reload;
pub mod report;
pub mod resolve;
pub mod serve;
pub mod services;

pub use backend::{
    Backend, BackendError, FileChange, FileChangeError, LoadedBackend, RunningBackend, StartError,
};
