//! Run a Greenroom plugin library's code on its own tokio runtime.
//!
//! A plugin library has its own copy of tokio, so the host's runtime is of
//! no use to it: `tokio::spawn`, timers and I/O would panic with "there is
//! no reactor running". Name [`EXECUTOR`] in `export!` and every
//! initialization, hook and task of the library runs inside a runtime the
//! library owns:
//!
//! ```
//! use std::time::Duration;
//!
//! use greenroom_sdk::{Error, PluginRegistrar};
//!
//! greenroom_sdk::export! {
//!     executor: greenroom_sdk_tokio::EXECUTOR,
//!     plugins: { "jobs" => register_jobs },
//! }
//!
//! fn register_jobs(plugin: &mut PluginRegistrar) -> Result<(), Error> {
//!     plugin.init(|_context| async {
//!         tokio::time::sleep(Duration::from_millis(1)).await;
//!         Ok(())
//!     });
//!     Ok(())
//! }
//! ```
//!
//! Futures are polled where the host polls them, with the library's runtime
//! entered, so a request costs no thread hop. The runtime starts with the
//! first future, with one worker thread unless
//! `GREENROOM_PLUGIN_WORKER_THREADS` says otherwise, and stops when the host
//! shuts the library down (its threads end); a later initialization starts
//! a new one, so a plugin can be initialized again inside the same loaded
//! library.

use std::{
    future::Future,
    pin::Pin,
    sync::Mutex,
    task::{Context, Poll},
    time::Duration,
};

use greenroom_sdk::{BoxFuture, ErrorCode, Executor, PluginError};
use tokio::runtime::{Handle, Runtime};

/// How long a thread for blocking work waits for more before it ends.
const BLOCKING_KEEP_ALIVE: Duration = Duration::from_secs(1);

/// How long shutdown waits for the runtime's tasks to finish.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// The executor to name in `greenroom_sdk::export!`.
pub static EXECUTOR: TokioExecutor = TokioExecutor {
    runtime: Mutex::new(None),
};

/// An executor that owns a multi-thread tokio runtime, made on first use.
pub struct TokioExecutor {
    runtime: Mutex<Option<Runtime>>,
}

impl TokioExecutor {
    fn handle(&self) -> std::io::Result<Handle> {
        let mut runtime = self
            .runtime
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(runtime) = runtime.as_ref() {
            return Ok(runtime.handle().clone());
        }
        let workers = worker_threads(std::env::var("GREENROOM_PLUGIN_WORKER_THREADS").ok());
        let built = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("greenroom-plugin")
            // Threads for blocking work end soon after it: a plugin at
            // rest holds only its workers.
            .thread_keep_alive(BLOCKING_KEEP_ALIVE)
            .enable_all()
            .build()?;
        let handle = built.handle().clone();
        *runtime = Some(built);
        Ok(handle)
    }
}

impl Executor for TokioExecutor {
    fn spawn(
        &self,
        future: BoxFuture<Result<(), PluginError>>,
    ) -> BoxFuture<Result<(), PluginError>> {
        match self.handle() {
            Ok(handle) => Box::pin(InRuntime { handle, future }),
            Err(error) => {
                let message = format!("cannot start the plugin's tokio runtime: {error}");
                Box::pin(async move { Err(PluginError::new(ErrorCode::FAILED, message)) })
            }
        }
    }

    fn shutdown(&self) {
        let runtime = self
            .runtime
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(runtime) = runtime {
            runtime.shutdown_timeout(SHUTDOWN_TIMEOUT);
        }
    }
}

/// How many worker threads the runtime gets: the variable's value when it
/// is a whole number of at least one, else one (and a warning).
fn worker_threads(setting: Option<String>) -> usize {
    let Some(text) = setting else {
        return 1;
    };
    match text.trim().parse::<usize>() {
        Ok(count) if count >= 1 => count,
        _ => {
            tracing::warn!(
                "GREENROOM_PLUGIN_WORKER_THREADS is `{text}`, not a whole number of at least 1; \
                 using 1"
            );
            1
        }
    }
}

/// A future polled where the host polls it, inside the library's runtime:
/// `tokio::spawn`, timers and I/O reach the library's own runtime, whose
/// threads drive them, and no request hops to another thread. Dropping it
/// drops the plugin's future.
struct InRuntime {
    handle: Handle,
    future: BoxFuture<Result<(), PluginError>>,
}

impl Future for InRuntime {
    type Output = Result<(), PluginError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let _entered = this.handle.enter();
        this.future.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_threads_are_at_least_one() {
        assert_eq!(worker_threads(None), 1);
        assert_eq!(worker_threads(Some("3".to_string())), 3);
        assert_eq!(worker_threads(Some("0".to_string())), 1);
        assert_eq!(worker_threads(Some("-1".to_string())), 1);
        assert_eq!(worker_threads(Some("abc".to_string())), 1);
    }
}
