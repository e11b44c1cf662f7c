//! Serve a Greenroom plugin's routes with an ordinary axum [`Router`].
//!
//! Build the router as in any axum application (its own state, extractors,
//! middleware) and hand it to [`Serve::serve`] during initialization; the
//! host serves it under `/api/<pluginId>` once the plugin has started.
//! Name `greenroom_sdk_tokio::EXECUTOR` in `export!` so handlers run on the
//! plugin's own tokio runtime:
//!
//! ```
//! use axum::{Router, routing::get};
//! use greenroom_sdk::{Context, Error, PluginRegistrar};
//! use greenroom_sdk_http::Serve as _;
//!
//! greenroom_sdk::export! {
//!     executor: greenroom_sdk_tokio::EXECUTOR,
//!     plugins: { "hello" => register },
//! }
//!
//! fn register(plugin: &mut PluginRegistrar) -> Result<(), Error> {
//!     plugin.init(|context: Context| async move {
//!         context.serve(Router::new().route("/greeting", get(|| async { "hello" })))
//!     });
//!     Ok(())
//! }
//! ```

use abi_stable::{
    sabi_trait::TD_Opaque,
    std_types::{RResult, RString, RVec, Tuple2},
};
use async_ffi::{FfiFuture, FutureExt as _};
use axum::{
    Router,
    body::Body,
    http::{HeaderName, HeaderValue, Method, Request},
};
use greenroom_sdk::{
    Context, Error, PluginError, abi_stable, async_ffi,
    http::{HttpHandler, HttpHandler_TO, HttpRequest, HttpResponse},
};
use tower::ServiceExt as _;

/// Serving a router from a plugin's initialization.
pub trait Serve {
    /// Serves `router` under `/api/<pluginId>`; every route needs a
    /// credential.
    ///
    /// # Errors
    ///
    /// Returns the host's reason when a module calls it, or a plugin calls
    /// it twice.
    fn serve(&self, router: Router) -> Result<(), Error>;

    /// Serves `router`, with the routes below the `open_paths` prefixes
    /// (such as `/health`) reachable without a credential.
    ///
    /// # Errors
    ///
    /// As [`Serve::serve`].
    fn serve_with_open_paths(&self, router: Router, open_paths: &[&str]) -> Result<(), Error>;
}

impl Serve for Context {
    fn serve(&self, router: Router) -> Result<(), Error> {
        self.serve_with_open_paths(router, &[])
    }

    fn serve_with_open_paths(&self, router: Router, open_paths: &[&str]) -> Result<(), Error> {
        let handler = RouterHandler {
            router,
            context: self.clone(),
        };
        self.serve_http(HttpHandler_TO::from_value(handler, TD_Opaque), open_paths)
    }
}

struct RouterHandler {
    router: Router,
    context: Context,
}

impl HttpHandler for RouterHandler {
    fn handle(&self, request: HttpRequest) -> FfiFuture<RResult<HttpResponse, PluginError>> {
        let router = self.router.clone();
        match to_axum(request) {
            Ok(request) => self.context.spawn(answer(router, request)),
            Err(error) => async move { RResult::ROk(bad_request(&error)) }.into_ffi(),
        }
    }
}

async fn answer(router: Router, request: Request<Body>) -> Result<HttpResponse, Error> {
    let response = router.oneshot(request).await.map_err(Error::msg)?;
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await?;
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| Tuple2(RString::from(name.as_str()), RVec::from(value.as_bytes())))
        .collect();
    Ok(HttpResponse {
        status: parts.status.as_u16(),
        headers,
        body: RVec::from(body.as_ref()),
    })
}

fn to_axum(request: HttpRequest) -> Result<Request<Body>, String> {
    let method = Method::from_bytes(request.method.as_bytes())
        .map_err(|_| format!("`{}` is not an HTTP method", request.method))?;
    let mut built = Request::builder()
        .method(method)
        .uri(request.uri.as_str())
        .body(Body::from(request.body.into_vec()))
        .map_err(|error| format!("the request is malformed: {error}"))?;
    for Tuple2(name, value) in request.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{name}` is not a header name"))?;
        let value = HeaderValue::from_bytes(&value)
            .map_err(|_| format!("the header `{name}` has an invalid value"))?;
        built.headers_mut().append(name, value);
    }
    Ok(built)
}

fn bad_request(reason: &str) -> HttpResponse {
    HttpResponse {
        status: 400,
        headers: RVec::from(vec![Tuple2(
            RString::from("content-type"),
            RVec::from(b"text/plain; charset=utf-8".as_slice()),
        )]),
        body: RVec::from(reason.as_bytes()),
    }
}
