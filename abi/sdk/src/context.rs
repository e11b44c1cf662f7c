//! What a plugin or module sees of the host while it initializes.

use std::future::Future;

use abi_stable::{
    sabi_trait::TD_Opaque,
    std_types::{RBox, RResult},
};
use async_ffi::{FfiFuture, FutureExt as _};
use greenroom_contract::{HostBox, PluginError, host::Hook_TO};

use crate::{Error, init};

/// The host, as one initializing plugin or module sees it.
#[derive(Clone)]
pub struct Context {
    host: HostBox,
}

impl Context {
    pub(crate) fn new(host: HostBox) -> Self {
        Self { host }
    }

    pub(crate) fn host(&self) -> &HostBox {
        &self.host
    }

    /// The id of the plugin (for a module, of the plugin it extends).
    pub fn plugin_id(&self) -> String {
        self.host.plugin_id().into_string()
    }

    /// The module's id, or `None` for a plugin.
    pub fn module_id(&self) -> Option<String> {
        Some(self.host.module_id().into_string()).filter(|id| !id.is_empty())
    }

    /// The plugin's configuration as JSON text: the app config's value under
    /// the plugin's id, `null` when there is none.
    pub fn config_json(&self) -> String {
        self.host.config().into_string()
    }

    /// Runs `hook` once this plugin and all its modules have initialized.
    /// An error it returns is logged; it does not fail the plugin.
    pub fn on_startup<F, Fut>(&self, hook: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.host.add_startup_hook(self.hook(hook));
    }

    /// Runs `hook` when the host shuts the plugin down.
    pub fn on_shutdown<F, Fut>(&self, hook: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.host.add_shutdown_hook(self.hook(hook));
    }

    fn hook<F, Fut>(&self, hook: F) -> greenroom_contract::HookBox
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        let host = self.host.clone();
        Hook_TO::from_ptr(RBox::new(OnceHook(Some((hook, host)))), TD_Opaque)
    }
}

/// A hook that runs its closure the first time, and does nothing after.
struct OnceHook<F>(Option<(F, HostBox)>);

impl<F, Fut> greenroom_contract::host::Hook for OnceHook<F>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    fn run(&mut self) -> FfiFuture<RResult<(), PluginError>> {
        match self.0.take() {
            Some((hook, host)) => init::run_guarded(host, hook),
            None => async { RResult::ROk(()) }.into_ffi(),
        }
    }
}
