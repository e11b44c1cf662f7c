//! The glue that exports a library's declaration and root module.

use std::panic::{self, AssertUnwindSafe};

use abi_stable::std_types::{RResult, RVec};
use greenroom_contract::{ErrorCode, PluginError, Registration};

use crate::{ModuleRegistrar, PluginRegistrar, RegisterError};

/// A plugin named in [`export!`](crate::export): id, version, registration.
pub type PluginEntry = (
    &'static str,
    &'static str,
    fn(&mut PluginRegistrar) -> Result<(), RegisterError>,
);

/// A module named in [`export!`](crate::export): plugin id, module id,
/// registration.
pub type ModuleEntry = (
    &'static str,
    &'static str,
    fn(&mut ModuleRegistrar) -> Result<(), RegisterError>,
);

/// Runs the registration functions of a library's plugins and modules,
/// catching panics, and returns what they registered.
///
/// [`export!`](crate::export) calls it from the library's registration entry
/// point; a host that links features in statically calls it directly.
///
/// # Errors
///
/// Returns the first error a registration function returns, or the message
/// of its panic.
pub fn register(
    plugins: &[PluginEntry],
    modules: &[ModuleEntry],
) -> RResult<Registration, PluginError> {
    catch(|| {
        let mut registration = Registration::default();
        for (id, version, register_plugin) in plugins {
            let mut registrar = PluginRegistrar::new(id, version);
            register_plugin(&mut registrar).map_err(|error| failed(id, &error))?;
            registration.plugins.push(registrar.into_descriptor());
        }
        let mut module_descriptors = Vec::with_capacity(modules.len());
        for (plugin_id, module_id, register_module) in modules {
            let mut registrar = ModuleRegistrar::new(plugin_id, module_id);
            register_module(&mut registrar)
                .map_err(|error| failed(&format!("{plugin_id}/{module_id}"), &error))?;
            module_descriptors.push(registrar.into_descriptor());
        }
        registration.modules = RVec::from(module_descriptors);
        Ok(registration)
    })
}

/// The shutdown entry point of a library that starts nothing it must stop.
pub extern "C" fn no_shutdown() -> RResult<(), PluginError> {
    RResult::ROk(())
}

fn failed(what: &str, error: &RegisterError) -> PluginError {
    PluginError::new(
        ErrorCode::FAILED,
        format!("registering `{what}` failed: {error}"),
    )
}

/// Runs `body`, turning a panic into a [`PluginError`] with its message.
pub(crate) fn catch<T>(body: impl FnOnce() -> Result<T, PluginError>) -> RResult<T, PluginError> {
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result.into(),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|message| message.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic with a non-string payload".to_string());
            RResult::RErr(PluginError::new(ErrorCode::PANICKED, message))
        }
    }
}

/// Exports a plugin library: its declaration and its root module.
///
/// Name each plugin with its registration function, and each module with the
/// plugin it extends, its id and its registration function. Call it once per
/// library, at the crate root.
///
/// ```
/// use greenroom_sdk::{ModuleRegistrar, PluginRegistrar, RegisterError};
///
/// greenroom_sdk::export! {
///     plugins: { "catalog" => register_catalog },
///     modules: { ("catalog", "files") => register_files },
/// }
///
/// fn register_catalog(plugin: &mut PluginRegistrar) -> Result<(), RegisterError> {
///     plugin.provides_extension_point("catalog.processing", "1.0.0");
///     Ok(())
/// }
///
/// fn register_files(module: &mut ModuleRegistrar) -> Result<(), RegisterError> {
///     module.depends_on_extension_point("catalog.processing", "^1");
///     Ok(())
/// }
/// ```
#[macro_export]
macro_rules! export {
    (
        $(plugins: { $($plugin_id:literal => $plugin_fn:path),* $(,)? } $(,)?)?
        $(modules: { $(($module_plugin:literal, $module_id:literal) => $module_fn:path),* $(,)? }
        $(,)?)?
    ) => {
        /// What this library provides, readable from the file before loading.
        #[unsafe(export_name = "GREENROOM_DECLARATION")]
        pub static GREENROOM_DECLARATION: $crate::__private::Declaration =
            $crate::__private::DeclarationBuilder::new(
                env!("CARGO_PKG_NAME"),
                $crate::INTERFACE_VERSION,
                $crate::SDK_VERSION,
            )
            $($(.plugin($plugin_id))*)?
            $($(.module($module_plugin, $module_id))*)?
            .build();

        $crate::__export_root_module! {
            $(plugins: { $($plugin_id => $plugin_fn),* })?
            $(modules: { $(($module_plugin, $module_id) => $module_fn),* })?
        }
    };
}

/// Exports the root module alone; [`export!`] also writes the declaration.
///
/// Test fixtures use it to pair a root module with a hand-made declaration.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_root_module {
    (
        $(plugins: { $($plugin_id:literal => $plugin_fn:path),* $(,)? } $(,)?)?
        $(modules: { $(($module_plugin:literal, $module_id:literal) => $module_fn:path),* $(,)? }
        $(,)?)?
    ) => {
        /// The abi_stable header through which the host finds the root module.
        #[unsafe(export_name = "_1as_0lib_1header_0root_bmodule_bloader")]
        pub static GREENROOM_ROOT_MODULE: $crate::__private::abi_stable::library::LibHeader = {
            use $crate::__private::abi_stable::{
                library::{CheckTypeLayout, LibHeader, RootModuleResult, __call_root_module_loader},
                prefix_type::PrefixTypeTrait,
                std_types::RResult,
            };
            use $crate::__private::{PluginModule, PluginModuleRef};

            extern "C" fn __greenroom_register() -> RResult<
                $crate::__private::Registration,
                $crate::__private::PluginError,
            > {
                $crate::register(
                    &[$($(($plugin_id, env!("CARGO_PKG_VERSION"), $plugin_fn)),*)?],
                    &[$($(($module_plugin, $module_id, $module_fn)),*)?],
                )
            }

            fn __greenroom_root_module() -> PluginModuleRef {
                PluginModule {
                    register: __greenroom_register,
                    shutdown: $crate::__private::no_shutdown,
                }
                .leak_into_prefix()
            }

            extern "C" fn __greenroom_load_root_module() -> RootModuleResult {
                __call_root_module_loader(__greenroom_root_module)
            }

            // SAFETY: `__greenroom_load_root_module` returns the module whose type is
            // named here, and the layout check stays on.
            unsafe {
                LibHeader::from_constructor::<PluginModuleRef>(
                    __greenroom_load_root_module,
                    CheckTypeLayout::Yes,
                )
            }
        };
    };
}
