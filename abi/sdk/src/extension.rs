//! Extension points at run time: a module registers typed values into an
//! extension point of its plugin while it initializes; the plugin reads them
//! all when its own initialization runs, after every module's.
//!
//! The type registered is defined in the plugin's small interface crate,
//! like a service's, and checked the same way: the host compares layouts
//! before the plugin sees a value.

#![allow(
    unsafe_code,
    reason = "a registration crosses the boundary with its type erased; only the host's layout \
              check lets it be restored"
)]

use abi_stable::{StableAbi, std_types::RResult};
use greenroom_contract::LayoutRef;

use crate::{
    Context, Error, Service,
    service::{erase, restore},
};

/// A value some module registered into an extension point.
pub struct Registered<T> {
    /// The id of the module that registered it.
    pub module_id: String,
    /// The value.
    pub value: Service<T>,
}

impl Context {
    /// Registers `value` into the extension point `id`, declared at
    /// registration with `depends_on_extension_point`. Only a module may
    /// register, and only while it initializes.
    ///
    /// # Errors
    ///
    /// Returns the host's reason when the module did not declare the
    /// extension point or has finished initializing.
    pub fn register_extension<T>(&self, id: &str, value: T) -> Result<(), Error>
    where
        T: StableAbi + Send + Sync + 'static,
    {
        match self.host().register_extension(id.into(), erase(value)) {
            RResult::ROk(()) => Ok(()),
            RResult::RErr(error) => Err(Error::msg(error.message)),
        }
    }

    /// Every value modules registered into the extension point `id`, which
    /// this plugin (or module) provides, in the order the modules
    /// initialized.
    ///
    /// # Errors
    ///
    /// Returns the host's reason when this feature does not provide the
    /// extension point, or a registration's type has another layout than
    /// `T` (the module was built against another version of the interface
    /// crate).
    pub fn extensions<T>(&self, id: &str) -> Result<Vec<Registered<T>>, Error>
    where
        T: StableAbi + Send + Sync + 'static,
    {
        let expected = LayoutRef(T::LAYOUT);
        let extensions = match self.host().extension_registrations(id.into(), expected) {
            RResult::ROk(extensions) => extensions,
            RResult::RErr(error) => return Err(Error::msg(error.message)),
        };
        Ok(extensions
            .into_iter()
            .map(|extension| Registered {
                module_id: extension.module_id.into_string(),
                // SAFETY: the host checked each value's layout against `T`'s.
                value: unsafe { restore(extension.object) },
            })
            .collect())
    }
}
