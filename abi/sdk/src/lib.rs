//! The Greenroom plugin SDK: what a plugin author imports.
//!
//! A plugin library is a `cdylib` crate that calls [`export!`] once, naming a
//! registration function for each plugin and module it provides:
//!
//! ```
//! use greenroom_sdk::{PluginRegistrar, Error, ServiceScope};
//!
//! greenroom_sdk::export! {
//!     plugins: { "hello" => register_hello },
//! }
//!
//! fn register_hello(plugin: &mut PluginRegistrar) -> Result<(), Error> {
//!     plugin
//!         .depends_on_service("core.logger", "^1")
//!         .provides_service("hello.greeter", "1.0.0", ServiceScope::Plugin);
//!     Ok(())
//! }
//! ```
//!
//! The host reads the ids named in [`export!`] from the file before loading
//! it, then calls the registration functions. A registration function that
//! panics or returns an error fails its library with that message; the host
//! and every other library go on.
//!
//! A plugin reads its configuration with [`Context::config`], typed and by
//! dotted key, and can follow changes with [`Context::on_config_change`].
//!
//! A plugin provides a typed service to other plugins with
//! [`Context::provide`]; they call its methods straight through abi_stable's
//! `extern "C"` shims, where a panic would abort the host. Putting
//! [`#[contained]`](contained) on the implementation turns a panic in any of
//! its methods into the error the method returns:
//!
//! ```
//! # #![allow(non_local_definitions, unsafe_code)]
//! use greenroom_sdk::{
//!     PluginError, contained,
//!     abi_stable::{sabi_trait, std_types::{RResult, RString}},
//! };
//!
//! #[sabi_trait]
//! pub trait Parser: Send + Sync {
//!     #[sabi(last_prefix_field)]
//!     fn parse(&self, text: RString) -> RResult<u32, PluginError>;
//! }
//!
//! struct Strict;
//!
//! #[contained]
//! impl Parser for Strict {
//!     fn parse(&self, text: RString) -> RResult<u32, PluginError> {
//!         RResult::ROk(text.parse().expect("a number"))
//!     }
//! }
//!
//! fn main() {
//!     let error = Strict.parse("forty-two".into()).unwrap_err();
//!     assert!(error.message.starts_with("`Parser::parse` panicked: a number"));
//! }
//! ```
//!
//! This crate links neither tokio nor axum, so a library that only declares
//! features stays small.

mod config;
mod context;
mod error;
mod export;
mod extension;
mod init;
mod log;
mod registrar;
mod service;

pub use abi_stable;
pub use async_ffi;
pub use config::{Config, ConfigError};
pub use context::{Cache, Context, Database};
pub use error::Error;
pub use export::{ModuleEntry, PluginEntry, register};
pub use extension::Registered;
pub use greenroom_contract::{ErrorCode, INTERFACE_VERSION, PluginError, ServiceScope, http};
pub use greenroom_sdk_macros::contained;

/// The interfaces of the host services a plugin may replace or wrap, with
/// their ids: a plugin provides one of these types under its id, at
/// [`HOST_SERVICE_VERSION`](host_services::HOST_SERVICE_VERSION).
pub mod host_services {
    pub use greenroom_contract::{
        CACHE_SERVICE, CacheService, CacheServiceBox, DATABASE_SERVICE, DISCOVERY_SERVICE,
        DatabaseService, DatabaseServiceBox, DatabaseSettings, DiscoveryService,
        DiscoveryServiceBox, HOST_SERVICE_VERSION, LOGGER_SERVICE, LogLevel, LogRecord,
        LoggerService, LoggerServiceBox, REPLACEABLE_SERVICES,
    };
}
pub use init::{BoxFuture, Executor, Inline, set_executor};
pub use registrar::{ModuleRegistrar, PluginRegistrar};
pub use service::{Service, contain};

/// The version of this SDK, recorded in every library built with it.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Items the [`export!`] macro expands to; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use abi_stable;
    pub use greenroom_contract::{
        Declaration, DeclarationBuilder, ErrorCode, PluginError, PluginModule, PluginModuleRef,
        Registration,
    };

    pub use crate::{
        init::{init_entry, shutdown_entry},
        service::{contain_call, contain_future},
    };
}

#[cfg(test)]
mod tests {
    use greenroom_contract::ROOT_MODULE_SYMBOL;

    #[test]
    fn export_macro_uses_the_root_module_symbol() {
        let source = include_str!("export.rs");
        let literal = format!("export_name = \"{ROOT_MODULE_SYMBOL}\"");
        assert!(
            source.contains(&literal),
            "export.rs must export `{literal}`"
        );
    }
}
