//! Services between plugins: one plugin provides a typed value, others get
//! a typed handle to it after the host has checked versions and layouts.
//!
//! The type of a service is defined in a small interface crate both sides
//! depend on, usually an abi_stable `#[sabi_trait]` object, so calls go
//! straight into the provider's code. The provider puts
//! [`#[contained]`](crate::contained) on its implementation so that a panic
//! in a method reaches the caller as an error instead of aborting the host.

#![allow(
    unsafe_code,
    reason = "a service crosses the boundary with its type erased; this module restores it \
              only after abi_stable's layout check"
)]

use std::{
    future::Future,
    ops::Deref,
    panic::{self, AssertUnwindSafe},
    pin::Pin,
    task::{Context as TaskContext, Poll},
};

use abi_stable::{
    StableAbi,
    pointer_trait::TransmuteElement as _,
    sabi_trait::TD_Opaque,
    std_types::{RArc, RBox, RResult, RString},
};
use async_ffi::{FfiFuture, FutureExt as _};
use greenroom_contract::{
    ErrorCode, LayoutRef, PluginError, ServiceObject,
    host::{ServiceFactory, ServiceFactory_TO},
};

use crate::{Context, Error, export::catch, init::panicked, log};

/// Runs `body`, turning a panic into a [`PluginError`] that carries its
/// message.
///
/// A consumer calls a service's methods straight through abi_stable's
/// `extern "C"` shims, where a panic would abort the whole host.
/// [`#[contained]`](crate::contained) guards every method of an
/// implementation; this guards one piece of code.
pub fn contain<T>(body: impl FnOnce() -> T) -> RResult<T, PluginError> {
    catch(|| Ok(body()))
}

/// Runs the body of service method `method`, which `#[contained]` wrapped,
/// turning a panic into the error it returns.
pub fn contain_call<T, E>(
    method: &'static str,
    body: impl FnOnce() -> RResult<T, E>,
) -> RResult<T, E>
where
    E: From<PluginError>,
{
    let _catching = log::Catching::begin();
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(payload) => RResult::RErr(method_panicked(method, payload).into()),
    }
}

/// Runs the body of asynchronous service method `method`, which
/// `#[contained]` wrapped, turning a panic while making or polling its
/// future into the error the future completes with.
pub fn contain_future<T, E, F>(
    method: &'static str,
    start: impl FnOnce() -> F,
) -> FfiFuture<RResult<T, E>>
where
    F: Future<Output = RResult<T, E>> + Send + 'static,
    T: Send + 'static,
    E: From<PluginError> + Send + 'static,
{
    let _catching = log::Catching::begin();
    match panic::catch_unwind(AssertUnwindSafe(start)) {
        Ok(future) => Polled {
            future: Box::pin(future),
            method,
        }
        .into_ffi(),
        Err(payload) => {
            let error = method_panicked(method, payload);
            async move { RResult::RErr(error.into()) }.into_ffi()
        }
    }
}

/// A service method's future, polled with panics caught.
struct Polled<F> {
    future: Pin<Box<F>>,
    method: &'static str,
}

impl<T, E, F> Future for Polled<F>
where
    F: Future<Output = RResult<T, E>>,
    E: From<PluginError>,
{
    type Output = RResult<T, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let method = self.method;
        // Only a panic during this poll may lend its message.
        let _ = log::take_last_panic();
        let _catching = log::Catching::begin();
        match panic::catch_unwind(AssertUnwindSafe(|| self.future.as_mut().poll(cx))) {
            Ok(polled) => polled,
            Err(payload) => Poll::Ready(RResult::RErr(method_panicked(method, payload).into())),
        }
    }
}

/// The error for a panic in `method`. A future the method made with
/// `into_ffi` reports only async_ffi's stand-in; the panic hook kept the
/// original message.
fn method_panicked(method: &str, payload: Box<dyn std::any::Any + Send>) -> PluginError {
    let mut error = panicked(payload);
    if error.message == log::FFI_FUTURE_PANICKED {
        error.message = log::take_last_panic()
            .unwrap_or_else(|| {
                "a panic in a future whose message never reached the panic hook".to_string()
            })
            .into();
    }
    error.message = format!("`{method}` panicked: {}", error.message).into();
    error
}

/// A handle to a service another plugin provides.
pub struct Service<T> {
    value: RArc<T>,
}

impl<T> Clone for Service<T> {
    fn clone(&self) -> Self {
        Self {
            value: self.value.clone(),
        }
    }
}

impl<T> Deref for Service<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl Context {
    /// Provides the service `id` at `version`, as declared at registration
    /// with `provides_service`. Plugins initialized after this one can get
    /// it with [`Context::service`].
    ///
    /// # Errors
    ///
    /// Returns the host's reason when the service was not declared, or at
    /// another version.
    pub fn provide<T>(&self, id: &str, version: &str, value: T) -> Result<(), Error>
    where
        T: StableAbi + Send + Sync + 'static,
    {
        let object = erase(value);
        match self
            .host()
            .provide_service(id.into(), version.into(), object)
        {
            RResult::ROk(()) => Ok(()),
            RResult::RErr(error) => Err(Error::msg(error.message)),
        }
    }

    /// Provides the plugin-scoped service `id` at `version`, as declared at
    /// registration with `provides_service`: each plugin that asks gets its
    /// own instance, which `make` builds from that plugin's id the first
    /// time it asks.
    ///
    /// # Errors
    ///
    /// As [`Context::provide`].
    pub fn provide_factory<T, F>(&self, id: &str, version: &str, make: F) -> Result<(), Error>
    where
        T: StableAbi + Send + Sync + 'static,
        F: Fn(&str) -> T + Send + Sync + 'static,
    {
        let factory = ServiceFactory_TO::from_ptr(RBox::new(Factory { make }), TD_Opaque);
        match self.host().provide_service_factory(
            id.into(),
            version.into(),
            LayoutRef(T::LAYOUT),
            factory,
        ) {
            RResult::ROk(()) => Ok(()),
            RResult::RErr(error) => Err(Error::msg(error.message)),
        }
    }

    /// Gets the service `id` at a version matching `requirement`, as
    /// declared at registration with `depends_on_service`.
    ///
    /// # Errors
    ///
    /// Returns the host's reason when the dependency was not declared, no
    /// matching version is provided, or the provider's type has another
    /// layout than `T` (the two sides were built against different versions
    /// of the interface crate).
    pub fn service<T>(&self, id: &str, requirement: &str) -> Result<Service<T>, Error>
    where
        T: StableAbi + Send + Sync + 'static,
    {
        let expected = LayoutRef(T::LAYOUT);
        match self.host().service(id.into(), requirement.into(), expected) {
            // SAFETY: the host checked that the value's layout is compatible
            // with `T`'s before handing it over.
            RResult::ROk(object) => Ok(unsafe { restore(object) }),
            RResult::RErr(error) => Err(Error::msg(error.message)),
        }
    }

    /// Every contribution to the multiton service `id` at a version matching
    /// `requirement` (none is not an error), as declared at registration
    /// with `depends_on_service`.
    ///
    /// # Errors
    ///
    /// As [`Context::service`], for any contribution.
    pub fn service_contributions<T>(
        &self,
        id: &str,
        requirement: &str,
    ) -> Result<Vec<Service<T>>, Error>
    where
        T: StableAbi + Send + Sync + 'static,
    {
        let expected = LayoutRef(T::LAYOUT);
        let objects =
            match self
                .host()
                .service_contributions(id.into(), requirement.into(), expected)
            {
                RResult::ROk(objects) => objects,
                RResult::RErr(error) => return Err(Error::msg(error.message)),
            };
        Ok(objects
            .into_iter()
            // SAFETY: the host checked each value's layout against `T`'s.
            .map(|object| unsafe { restore(object) })
            .collect())
    }
}

impl Context {
    /// Service `id` when this feature declared a dependency on it, `None`
    /// when it did not; for a host service, that is the choice between
    /// what the plugin graph provides and the host's handle.
    pub(crate) fn declared_service<T>(
        &self,
        id: &str,
        requirement: &str,
    ) -> Result<Option<Service<T>>, Error>
    where
        T: StableAbi + Send + Sync + 'static,
    {
        let expected = LayoutRef(T::LAYOUT);
        match self.host().service(id.into(), requirement.into(), expected) {
            // SAFETY: the host checked that the value's layout is compatible
            // with `T`'s before handing it over.
            RResult::ROk(object) => Ok(Some(unsafe { restore(object) })),
            RResult::RErr(error) if error.code == ErrorCode::UNDECLARED => Ok(None),
            RResult::RErr(error) => Err(Error::msg(error.message)),
        }
    }
}

/// Builds one plugin's instance of a plugin-scoped service.
struct Factory<F> {
    make: F,
}

impl<T, F> ServiceFactory for Factory<F>
where
    T: StableAbi + Send + Sync + 'static,
    F: Fn(&str) -> T + Send + Sync + 'static,
{
    fn create(&self, consumer: RString) -> RResult<ServiceObject, PluginError> {
        catch(|| Ok(erase((self.make)(consumer.as_str()))))
    }
}

/// Erases `value`'s type for the trip across the boundary; its layout goes
/// with it, so the receiver can check it before [`restore`].
pub(crate) fn erase<T>(value: T) -> ServiceObject
where
    T: StableAbi + Send + Sync + 'static,
{
    ServiceObject::new(value)
}

/// Turns an object made by [`erase`] back into a handle to its value.
///
/// # Safety
///
/// The object's value must be a `T`: the host checked its layout against
/// `T::LAYOUT`.
pub(crate) unsafe fn restore<T>(object: ServiceObject) -> Service<T> {
    // SAFETY: the caller guarantees the erased value is a `T`.
    let value = unsafe { object.value.transmute_element::<T>() };
    Service { value }
}
