//! The contract between the Greenroom host and plugin libraries.
//!
//! Everything in this crate crosses the boundary between separately compiled
//! Rust binaries, so every type here is `#[repr(C)]` and derives
//! [`StableAbi`](abi_stable::StableAbi). Plugin authors do not use this crate
//! directly: they import `greenroom-sdk`, which builds these types for them.
//!
//! # Interface versions
//!
//! The interface has its own semantic version, [`INTERFACE_VERSION`], kept
//! apart from this crate's Cargo version (a Cargo major bump would break every
//! plugin through abi_stable's layout check even when nothing changed).
//!
//! A host that provides interface `H` accepts a plugin built against `P` when
//! `H` matches the requirement `^P`: the same major version, and a host at
//! least as new as the plugin. A plugin built against an older minor version
//! is loaded through a frozen copy of the root module as it was released in
//! that version (see [`frozen`]); capabilities added after it are reported as
//! missing and never called. A plugin built against a newer minor version, or
//! another major version, is refused before any of its code runs.

#![allow(
    unsafe_code,
    reason = "abi_stable's derives and macros expand to unsafe blocks; the two this crate \
              writes erase a service's type next to its layout and restore it after checking"
)]

pub mod declaration;
pub mod descriptor;
pub mod error;
pub mod frozen;
pub mod host;
pub mod http;
pub mod root;

pub use async_ffi;
pub use declaration::{DECLARATION_SYMBOL, Declaration, DeclarationBuilder, ParsedDeclaration};
pub use descriptor::{
    Dependency, DependencyKind, ExtensionPointDescriptor, ModuleDescriptor, PluginDescriptor,
    Registration, ServiceDescriptor, ServiceScope,
};
pub use error::{ErrorCode, PluginError};
pub use host::{
    CACHE_SERVICE, CacheService, CacheService_TO, CacheServiceBox, ConfigOrigin,
    ConfigSubscriberBox, DATABASE_SERVICE, DISCOVERY_SERVICE, DatabaseService, DatabaseService_TO,
    DatabaseServiceBox, DatabaseSettings, DiscoveryService, DiscoveryService_TO,
    DiscoveryServiceBox, Extension, HOST_SERVICE_VERSION, HookBox, HostApi, HostApi_TO, HostBox,
    LOGGER_SERVICE, LayoutRef, LogLevel, LogRecord, LoggerService, LoggerService_TO,
    LoggerServiceBox, REPLACEABLE_SERVICES, RootMoment, ServiceFactoryBox, ServiceObject, TaskBox,
    TaskSchedule,
};
pub use root::{PluginModule, PluginModuleRef};

/// The version of the plugin interface this crate defines.
///
/// Bump the minor version when the root module gains a prefix field (and
/// freeze a copy of the previous root module in [`frozen`]); bump the major
/// version for any change that breaks existing plugins.
pub const INTERFACE_VERSION: &str = "1.1.0";

/// The release line of abi_stable whose types cross the boundary.
///
/// Libraries built with another line are refused before they are opened,
/// because abi_stable's own check would only catch them after their
/// constructors ran.
pub const ABI_STABLE_LINE: &str = "0.11";

/// The release line of async-ffi whose futures cross the boundary, checked
/// like [`ABI_STABLE_LINE`].
pub const ASYNC_FFI_LINE: &str = "0.5";

/// The symbol under which abi_stable finds a library's root module.
///
/// It equals `abi_stable::library::ROOT_MODULE_LOADER_NAME`; a test keeps the
/// two in step. It is spelled out here because `export_name` takes a literal.
pub const ROOT_MODULE_SYMBOL: &str = "_1as_0lib_1header_0root_bmodule_bloader";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_module_symbol_matches_abi_stable() {
        assert_eq!(
            ROOT_MODULE_SYMBOL,
            abi_stable::library::ROOT_MODULE_LOADER_NAME
        );
    }

    #[test]
    fn interface_version_is_semver() {
        let parts: Vec<&str> = INTERFACE_VERSION.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|part| part.parse::<u64>().is_ok()));
    }
}
