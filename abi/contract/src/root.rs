//! The root module every plugin library exports, in its current version.

use abi_stable::{
    StableAbi, declare_root_module_statics, library::RootModule, package_version_strings,
    sabi_types::VersionStrings, std_types::RResult,
};

use async_ffi::FfiFuture;

use crate::{HostBox, PluginError, Registration};

/// The entry points of a plugin library (interface 1.1).
///
/// A prefix type: later interface versions append fields after the last one
/// and never reorder or remove any.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModuleRef)))]
#[sabi(missing_field(option))]
pub struct PluginModule {
    /// Describes every plugin and module in the library.
    ///
    /// Called once, after the host has checked the library, before anything
    /// in it initializes.
    #[sabi(last_prefix_field)]
    pub register: extern "C" fn() -> RResult<Registration, PluginError>,

    /// Stops everything the library started (threads, runtimes) so that the
    /// host can shut down or reload cleanly. Safe to call more than once.
    ///
    /// Added in interface 1.1.
    pub shutdown: extern "C" fn() -> RResult<(), PluginError>,

    /// Initializes one plugin or module of the library, the one `host`
    /// names. Called after registration, in the order resolution decided,
    /// and again after a shutdown when the plugin is reloaded.
    ///
    /// Added in interface 1.1.
    pub init: extern "C" fn(host: HostBox) -> FfiFuture<RResult<(), PluginError>>,
}

impl RootModule for PluginModuleRef {
    declare_root_module_statics! {PluginModuleRef}

    const BASE_NAME: &'static str = "greenroom_plugin";
    const NAME: &'static str = "greenroom plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}
