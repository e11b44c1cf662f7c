//! What the host offers a plugin or module while it runs: its identity,
//! logging, configuration and lifecycle hooks.
//!
//! The host hands each initializing plugin and module its own [`HostBox`];
//! everything the feature asks of the host goes through it.

#![allow(
    non_local_definitions,
    reason = "abi_stable's sabi_trait expands to impl blocks inside constants"
)]

use abi_stable::{
    StableAbi, sabi_trait,
    std_types::{RArc, RBox, RString, RVec, Tuple2},
};
use async_ffi::FfiFuture;

use crate::PluginError;

/// How much a log record matters, most severe first.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Nothing is logged.
    Off,
    /// Something failed.
    Error,
    /// Something is degraded.
    Warn,
    /// A lifecycle edge.
    Info,
    /// Detail for developers.
    Debug,
    /// Every step.
    Trace,
}

/// One log event from plugin code.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// How much it matters.
    pub level: LogLevel,
    /// The module path of the code that logged it.
    pub target: RString,
    /// The event's message.
    pub message: RString,
    /// The event's other fields, formatted.
    pub fields: RVec<Tuple2<RString, RString>>,
}

/// The host, as seen by one plugin or module.
#[sabi_trait]
pub trait HostApi: Send + Sync + Clone {
    /// The id of the plugin being run (or that the module extends).
    fn plugin_id(&self) -> RString;

    /// The module's id, or an empty string for the plugin itself.
    fn module_id(&self) -> RString;

    /// The most detailed level the host records; skip formatting the rest.
    fn max_log_level(&self) -> LogLevel;

    /// Records a log event in the host's log, tagged with the plugin.
    fn log(&self, record: LogRecord);

    /// The plugin's configuration (the app config's value under the plugin
    /// id) as JSON text; `null` when there is none.
    fn config(&self) -> RString;

    /// Runs `hook` once the plugin and all its modules have initialized.
    fn add_startup_hook(&self, hook: HookBox);

    /// Runs `hook` when the host shuts down, before the library is stopped.
    #[sabi(last_prefix_field)]
    fn add_shutdown_hook(&self, hook: HookBox);
}

/// A host handle owned by plugin code.
pub type HostBox = HostApi_TO<'static, RArc<()>>;

/// A lifecycle hook: a piece of plugin code the host runs later, once.
#[sabi_trait]
pub trait Hook: Send {
    /// Runs the hook.
    #[sabi(last_prefix_field)]
    fn run(&mut self) -> FfiFuture<abi_stable::std_types::RResult<(), PluginError>>;
}

/// A hook owned by the host.
pub type HookBox = Hook_TO<'static, RBox<()>>;
