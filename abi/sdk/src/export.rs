//! The glue that exports a library's declaration and root module.

use std::panic::{self, AssertUnwindSafe};

use abi_stable::std_types::{RResult, RVec};
use greenroom_contract::{ErrorCode, PluginError, Registration};

use crate::{Error, ModuleRegistrar, PluginRegistrar, init};

/// A plugin named in [`export!`](crate::export): id, version, registration.
pub type PluginEntry = (
    &'static str,
    &'static str,
    fn(&mut PluginRegistrar) -> Result<(), Error>,
);

/// A module named in [`export!`](crate::export): plugin id, module id,
/// registration.
pub type ModuleEntry = (
    &'static str,
    &'static str,
    fn(&mut ModuleRegistrar) -> Result<(), Error>,
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
        let mut inits = Vec::new();
        for (id, version, register_plugin) in plugins {
            let mut registrar = PluginRegistrar::new(id, version);
            register_plugin(&mut registrar).map_err(|error| failed(id, &error))?;
            let (descriptor, init) = registrar.into_descriptor();
            inits.extend(init.map(|init| ((id.to_string(), String::new()), init)));
            registration.plugins.push(descriptor);
        }
        let mut module_descriptors = Vec::with_capacity(modules.len());
        for (plugin_id, module_id, register_module) in modules {
            let mut registrar = ModuleRegistrar::new(plugin_id, module_id);
            register_module(&mut registrar)
                .map_err(|error| failed(&format!("{plugin_id}/{module_id}"), &error))?;
            let (descriptor, init) = registrar.into_descriptor();
            let key = (plugin_id.to_string(), module_id.to_string());
            inits.extend(init.map(|init| (key, init)));
            module_descriptors.push(descriptor);
        }
        registration.modules = RVec::from(module_descriptors);
        init::remember(inits);
        Ok(registration)
    })
}

fn failed(what: &str, error: &Error) -> PluginError {
    PluginError::new(
        ErrorCode::FAILED,
        format!("registering `{what}` failed: {error}"),
    )
}

/// Runs `body`, turning a panic into a [`PluginError`] with its message.
pub(crate) fn catch<T>(body: impl FnOnce() -> Result<T, PluginError>) -> RResult<T, PluginError> {
    let _catching = crate::log::Catching::begin();
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result.into(),
        Err(payload) => RResult::RErr(init::panicked(payload)),
    }
}

/// Exports a plugin library: its declaration and its root module.
///
/// Name each plugin with its registration function, and each module with the
/// plugin it extends, its id and its registration function. Call it once per
/// library, at the crate root. A library whose code needs a runtime names its
/// [`Executor`](crate::Executor) first, as `executor: path::TO_STATIC,`.
///
/// ```
/// use greenroom_sdk::{ModuleRegistrar, PluginRegistrar, Error};
///
/// greenroom_sdk::export! {
///     plugins: { "catalog" => register_catalog },
///     modules: { ("catalog", "files") => register_files },
/// }
///
/// fn register_catalog(plugin: &mut PluginRegistrar) -> Result<(), Error> {
///     plugin.provides_extension_point("catalog.processing", "1.0.0");
///     Ok(())
/// }
///
/// fn register_files(module: &mut ModuleRegistrar) -> Result<(), Error> {
///     module.depends_on_extension_point("catalog.processing", "^1");
///     Ok(())
/// }
/// ```
#[macro_export]
macro_rules! export {
    (
        $(executor: $executor:path,)?
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
            $(executor: $executor,)?
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
    ($($features:tt)*) => {
        /// The abi_stable header through which the host finds the root module.
        #[unsafe(export_name = "_1as_0lib_1header_0root_bmodule_bloader")]
        pub static GREENROOM_ROOT_MODULE: $crate::__private::abi_stable::library::LibHeader = {
            use $crate::__private::abi_stable::library::{
                CheckTypeLayout, LibHeader, RootModuleResult, __call_root_module_loader,
            };

            fn __greenroom_root_module() -> $crate::__private::PluginModuleRef {
                $crate::root_module! { $($features)* }
            }

            extern "C" fn __greenroom_load_root_module() -> RootModuleResult {
                __call_root_module_loader(__greenroom_root_module)
            }

            // SAFETY: `__greenroom_load_root_module` returns the module whose
            // type is named here, and the layout check stays on.
            unsafe {
                LibHeader::from_constructor::<$crate::__private::PluginModuleRef>(
                    __greenroom_load_root_module,
                    CheckTypeLayout::Yes,
                )
            }
        };
    };
}

/// Builds a library's root module: its entry points as a value.
///
/// [`export!`] exports one from a library file. A host that links plugins
/// in statically passes one to `Backend::add_static`:
///
/// ```
/// use greenroom_sdk::{Error, PluginRegistrar};
///
/// let module = greenroom_sdk::root_module! {
///     plugins: { "greeter" => register_greeter },
/// };
///
/// fn register_greeter(plugin: &mut PluginRegistrar) -> Result<(), Error> {
///     plugin.init(|context| async move {
///         tracing::info!(plugin = %context.plugin_id(), "hello");
///         Ok(())
///     });
///     Ok(())
/// }
/// ```
#[macro_export]
macro_rules! root_module {
    (
        $(executor: $executor:path,)?
        $(plugins: { $($plugin_id:literal => $plugin_fn:path),* $(,)? } $(,)?)?
        $(modules: { $(($module_plugin:literal, $module_id:literal) => $module_fn:path),* $(,)? }
        $(,)?)?
    ) => {{
        use $crate::__private::abi_stable::{prefix_type::PrefixTypeTrait, std_types::RResult};

        extern "C" fn __greenroom_register() -> RResult<
            $crate::__private::Registration,
            $crate::__private::PluginError,
        > {
            $crate::register(
                &[$($(($plugin_id, env!("CARGO_PKG_VERSION"), $plugin_fn)),*)?],
                &[$($(($module_plugin, $module_id, $module_fn)),*)?],
            )
        }

        $($crate::set_executor(&$executor);)?
        $crate::__private::PluginModule {
            register: __greenroom_register,
            shutdown: $crate::__private::shutdown_entry,
            init: $crate::__private::init_entry,
        }
        .leak_into_prefix()
    }};
}
