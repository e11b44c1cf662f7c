//! Running plugin code for the host: initialization and hooks, on the
//! library's executor, with panics caught and the feature's logger current.

use std::{
    collections::BTreeMap,
    future::Future,
    panic::{self, AssertUnwindSafe},
    pin::Pin,
    sync::{Arc, Mutex, OnceLock},
    task::{Context as TaskContext, Poll},
};

use abi_stable::std_types::RResult;
use async_ffi::{FfiFuture, FutureExt as _};
use greenroom_contract::{ErrorCode, HostBox, PluginError};

use crate::{Context, Error, log};

/// A future as the SDK passes it around.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// An initialization function, type-erased.
pub(crate) type InitFn = Arc<dyn Fn(Context) -> BoxFuture<Result<(), Error>> + Send + Sync>;

/// Where a library's futures run.
///
/// The default runs them on the host's threads as the host polls them,
/// which suits code that needs no runtime of its own. A library using
/// tokio names `greenroom_sdk_tokio::EXECUTOR` in [`export!`](crate::export)
/// so that its futures run inside its own tokio runtime.
pub trait Executor: Send + Sync + 'static {
    /// Runs `future`, returning a future that completes with it. Dropping
    /// the returned future must cancel `future`.
    fn spawn(
        &self,
        future: BoxFuture<Result<(), PluginError>>,
    ) -> BoxFuture<Result<(), PluginError>>;

    /// Stops everything the executor started. Safe to call more than once;
    /// a later `spawn` starts afresh.
    fn shutdown(&self);
}

/// The executor that polls futures where the host polls them.
pub struct Inline;

impl Executor for Inline {
    fn spawn(
        &self,
        future: BoxFuture<Result<(), PluginError>>,
    ) -> BoxFuture<Result<(), PluginError>> {
        future
    }

    fn shutdown(&self) {}
}

static EXECUTOR: OnceLock<&'static dyn Executor> = OnceLock::new();

static INITS: Mutex<BTreeMap<(String, String), InitFn>> = Mutex::new(BTreeMap::new());

/// Chooses the library's executor; the first choice wins.
pub fn set_executor(executor: &'static dyn Executor) {
    let _ = EXECUTOR.set(executor);
}

fn executor() -> &'static dyn Executor {
    *EXECUTOR.get_or_init(|| &Inline)
}

pub(crate) fn boxed<F, Fut>(init: F) -> InitFn
where
    F: Fn(Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    Arc::new(move |context| Box::pin(init(context)))
}

/// Remembers the initialization functions of a registration, replacing
/// those an earlier registration gave for the same features.
pub(crate) fn remember(inits: Vec<((String, String), InitFn)>) {
    let mut table = INITS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    table.extend(inits);
}

/// The library's initialization entry point.
pub extern "C" fn init_entry(host: HostBox) -> FfiFuture<RResult<(), PluginError>> {
    let key = (
        host.plugin_id().into_string(),
        host.module_id().into_string(),
    );
    let init = INITS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(&key)
        .cloned();
    log::install(&host);
    match init {
        Some(init) => run_guarded(host.clone(), move || init(Context::new(host))),
        None => async { RResult::ROk(()) }.into_ffi(),
    }
}

/// The library's shutdown entry point: stops its executor.
pub extern "C" fn shutdown_entry() -> RResult<(), PluginError> {
    crate::export::catch(|| {
        executor().shutdown();
        log::uninstall();
        Ok(())
    })
}

/// Runs plugin code on the executor with panics caught and `host`'s logger
/// current while it is polled.
pub(crate) fn run_guarded<Fut>(
    host: HostBox,
    start: impl FnOnce() -> Fut,
) -> FfiFuture<RResult<(), PluginError>>
where
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    let _catching = crate::log::Catching::begin();
    let future = match panic::catch_unwind(AssertUnwindSafe(start)) {
        Ok(future) => future,
        Err(payload) => {
            let error = panicked(payload);
            return async move { RResult::RErr(error) }.into_ffi();
        }
    };
    let guarded: BoxFuture<Result<(), PluginError>> = Box::pin(Guarded {
        future: Box::pin(future),
        host,
    });
    // An executor that panics while starting (its runtime cannot be built)
    // fails this call, not the host.
    match panic::catch_unwind(AssertUnwindSafe(|| executor().spawn(guarded))) {
        Ok(running) => async move { running.await.into() }.into_ffi(),
        Err(payload) => {
            let error = panicked(payload);
            async move { RResult::RErr(error) }.into_ffi()
        }
    }
}

/// Polls plugin code with its logger current, turning a panic into an error.
struct Guarded<F> {
    future: Pin<Box<F>>,
    host: HostBox,
}

// The future is boxed and never pinned through `Guarded`.
impl<F> Unpin for Guarded<F> {}

impl<F: Future<Output = Result<(), Error>>> Future for Guarded<F> {
    type Output = Result<(), PluginError>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let _current = log::enter(&this.host);
        match panic::catch_unwind(AssertUnwindSafe(|| this.future.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => Poll::Ready(
                result.map_err(|error| PluginError::new(ErrorCode::FAILED, error.to_string())),
            ),
            Err(payload) => Poll::Ready(Err(panicked(payload))),
        }
    }
}

/// An error carrying a panic's message. The payload is dropped here, where
/// a panic in its own destructor is caught too.
pub(crate) fn panicked(payload: Box<dyn std::any::Any + Send>) -> PluginError {
    let message = panic_message(payload.as_ref());
    if let Err(again) = panic::catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        // Dropping this one could panic as well: leak it instead.
        std::mem::forget(again);
    }
    PluginError::new(ErrorCode::PANICKED, message)
}

/// A panic's message, when its payload is text.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|message| message.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-string payload".to_string())
}
