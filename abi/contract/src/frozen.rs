//! Frozen copies of released root modules.
//!
//! A host built today must still load a plugin built against an older minor
//! version of the interface. abi_stable refuses to view an older root module
//! through the current, longer type, so each released version keeps a copy
//! here: same type name, same crate, the fields it had when it was released.
//! Never edit a frozen copy.
//!
//! Until the first release the descriptor types ([`crate::Registration`] and
//! what it holds) are shared by every copy and may still change; the release
//! that freezes a root module must freeze the types it returns with it.

/// The root module as released in interface 1.0.
pub mod v1_0 {
    use abi_stable::{
        StableAbi, declare_root_module_statics, library::RootModule, package_version_strings,
        sabi_types::VersionStrings, std_types::RResult,
    };

    use crate::{PluginError, Registration};

    /// The interface version this copy was released as.
    pub const INTERFACE_VERSION: &str = "1.0.0";

    /// The entry points of a plugin library (interface 1.0).
    #[repr(C)]
    #[derive(StableAbi)]
    #[sabi(kind(Prefix(prefix_ref = PluginModuleRef)))]
    #[sabi(missing_field(option))]
    pub struct PluginModule {
        /// Describes every plugin and module in the library.
        #[sabi(last_prefix_field)]
        pub register: extern "C" fn() -> RResult<Registration, PluginError>,
    }

    impl RootModule for PluginModuleRef {
        declare_root_module_statics! {PluginModuleRef}

        const BASE_NAME: &'static str = "greenroom_plugin";
        const NAME: &'static str = "greenroom plugin";
        const VERSION_STRINGS: VersionStrings = package_version_strings!();
    }
}
