//! HTTP across the boundary: a plugin's router, as the host calls it.
//!
//! The host owns the server. It forwards each request under
//! `/api/<pluginId>` to the plugin's [`HttpHandlerBox`] as a plain
//! [`HttpRequest`] (the body buffered) and turns the [`HttpResponse`] back
//! into HTTP. Header values are bytes: they need not be UTF-8.

#![allow(
    non_local_definitions,
    reason = "abi_stable's sabi_trait expands to impl blocks inside constants"
)]

use abi_stable::{
    StableAbi, sabi_trait,
    std_types::{RBox, RResult, RString, RVec, Tuple2},
};
use async_ffi::FfiFuture;

use crate::PluginError;

/// A header: its lowercase name and its value's bytes.
pub type Header = Tuple2<RString, RVec<u8>>;

/// A request for a plugin, its path relative to the plugin's mount point.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method, such as `GET`.
    pub method: RString,
    /// The path below `/api/<pluginId>` (starting with `/`) and the query.
    pub uri: RString,
    /// The headers, in the order they came.
    pub headers: RVec<Header>,
    /// The whole body.
    pub body: RVec<u8>,
}

/// A plugin's answer.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: RVec<Header>,
    /// The whole body.
    pub body: RVec<u8>,
}

/// What serves a plugin's routes.
#[sabi_trait]
pub trait HttpHandler: Send + Sync {
    /// Answers one request. A panic or an error becomes a 500 response for
    /// this request only.
    #[sabi(last_prefix_field)]
    fn handle(&self, request: HttpRequest) -> FfiFuture<RResult<HttpResponse, PluginError>>;
}

/// A plugin's handler, owned by the host.
pub type HttpHandlerBox = HttpHandler_TO<'static, RBox<()>>;
