//! Awaiting futures that come from plugin code.

use std::{
    future::Future,
    panic::{self, AssertUnwindSafe},
    pin::Pin,
    task::{Context, Poll},
};

use abi_stable::std_types::RResult;
use async_ffi::FfiFuture;
use greenroom_contract::{ErrorCode, PluginError};

/// Awaits a plugin future, turning its outcome into the host's terms and a
/// panic while polling it into an error.
pub(crate) struct PluginFuture<T>(pub(crate) FfiFuture<RResult<T, PluginError>>);

impl<T> Future for PluginFuture<T> {
    type Output = Result<T, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let polled = panic::catch_unwind(AssertUnwindSafe(|| Pin::new(&mut self.0).poll(cx)));
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(RResult::ROk(value))) => Poll::Ready(Ok(value)),
            Ok(Poll::Ready(RResult::RErr(error))) => Poll::Ready(Err(describe(&error))),
            Err(_) => Poll::Ready(Err(format!(
                "{PANICKED}the plugin's future, while being polled outside the SDK's guard"
            ))),
        }
    }
}

/// How [`describe`] marks a panic.
const PANICKED: &str = "panicked: ";

/// A plugin's error for people: its message, marked when it was a panic.
pub(crate) fn describe(error: &PluginError) -> String {
    if error.code == ErrorCode::PANICKED {
        format!("{PANICKED}{}", error.message)
    } else {
        error.message.to_string()
    }
}

/// Whether an error [`PluginFuture`] or [`describe`] gave was a panic.
pub(crate) fn is_panic(error: &str) -> bool {
    error.starts_with(PANICKED)
}
