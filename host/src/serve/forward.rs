//! Forwarding requests to plugins, and the JSON errors the host answers
//! with itself.

use std::{sync::Arc, time::Instant};

use abi_stable::std_types::{RString, RVec, Tuple2};
use axum::{
    Json,
    body::Body,
    extract::{Path, Request, State},
    http::{HeaderName, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use greenroom_contract::http::{HttpRequest, HttpResponse};

use super::{
    HttpState, Phase,
    auth::Caller,
    routes::{Native, Route, Served},
};
use crate::boundary::PluginFuture;

/// `/api/<pluginId>` itself.
pub(super) async fn plugin_root(
    State(state): State<Arc<HttpState>>,
    Path(plugin_id): Path<String>,
    request: Request,
) -> Response {
    forward(&state, &plugin_id, "", request).await
}

/// Anything below `/api/<pluginId>/`. The plugin gets the path as the
/// client sent it, percent-encoding intact, so that `a%2Fb` stays one
/// segment and nothing is decoded twice.
pub(super) async fn plugin_path(
    State(state): State<Arc<HttpState>>,
    Path((plugin_id, _decoded)): Path<(String, String)>,
    request: Request,
) -> Response {
    let raw = request.uri().path().to_string();
    let rest = raw
        .strip_prefix("/api/")
        .and_then(|below| below.split_once('/'))
        .map_or("", |(_, rest)| rest);
    forward(&state, &plugin_id, rest, request).await
}

/// Paths the host does not serve.
pub(super) async fn not_found(request: Request) -> Response {
    let path = request.uri().path().to_string();
    error(
        &request,
        StatusCode::NOT_FOUND,
        "NotFoundError",
        format!("nothing is served at {path}"),
    )
}

/// Logs each request with its plugin, status and latency.
pub(super) async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let plugin_id = path
        .strip_prefix("/api/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("");
    tracing::debug!(
        plugin_id,
        %method,
        path,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1e3,
        "request"
    );
    response
}

async fn forward(state: &HttpState, plugin_id: &str, rest: &str, request: Request) -> Response {
    let Some(route) = state.routes.get(plugin_id) else {
        let message = format!("no plugin `{plugin_id}` is installed");
        return error(&request, StatusCode::NOT_FOUND, "NotFoundError", message);
    };
    if state.routes.phase() == Phase::Stopping {
        let message = "the host is shutting down".to_string();
        return unavailable(&request, message);
    }

    // Authorize before saying anything about the plugin's state.
    let path = format!("/{rest}");
    let open_paths: &[String] = match &route {
        Route::Ready(Some(served)) => &served.open_paths,
        Route::Native(native) => &native.open_paths,
        _ => &[],
    };
    let authorized = state
        .options
        .auth
        .authorize(plugin_id, &path, open_paths, request.headers());
    let caller = match authorized {
        Ok(caller) => caller,
        Err(refusal) => return error(&request, refusal.status, refusal.name, refusal.message),
    };
    let mut request = request;
    present_caller(&mut request, &caller);
    if let Caller::Subject(subject) = &caller {
        tracing::debug!(plugin_id, %subject, "request with a static token");
    }

    match route {
        Route::Starting(_) => unavailable(
            &request,
            format!("plugin `{plugin_id}` has not started yet"),
        ),
        Route::Failed(reason) => unavailable(&request, format!("plugin `{plugin_id}` {reason}")),
        Route::Ready(None) => {
            let message = format!("plugin `{plugin_id}` serves no HTTP routes");
            error(&request, StatusCode::NOT_FOUND, "NotFoundError", message)
        }
        Route::Native(native) => forward_native(state, plugin_id, &path, &native, request).await,
        Route::Ready(Some(served)) => {
            forward_plugin(state, plugin_id, &path, &served, request).await
        }
    }
}

/// The header that tells a plugin which static token's subject called it.
pub(crate) const SUBJECT_HEADER: &str = "x-greenroom-subject";

/// Replaces the caller's credential with its subject: a host token is the
/// host's to check, and plugins never see it; a subject header sent by the
/// client itself is dropped.
fn present_caller(request: &mut Request, caller: &Caller) {
    let headers = request.headers_mut();
    headers.remove(SUBJECT_HEADER);
    if let Caller::Subject(subject) = caller {
        headers.remove(axum::http::header::AUTHORIZATION);
        if let Ok(value) = HeaderValue::from_str(subject) {
            headers.insert(SUBJECT_HEADER, value);
        }
    }
}

/// Answers a request with a plugin's handler, across the boundary.
async fn forward_plugin(
    state: &HttpState,
    plugin_id: &str,
    path: &str,
    served: &Served,
    request: Request,
) -> Response {
    let _in_flight = state.routes.enter();
    let (method, url) = (request.method().to_string(), request.uri().to_string());
    let plugin_request = match to_plugin_request(state, path, request).await {
        Ok(plugin_request) => plugin_request,
        Err(response) => return response,
    };
    let answer = tokio::time::timeout(
        state.options.request_timeout,
        PluginFuture(served.handler.handle(plugin_request)),
    )
    .await;
    let mut response = match answer {
        Ok(Ok(response)) => from_plugin_response(response),
        Ok(Err(reason)) => {
            tracing::error!(plugin_id, %method, %url, %reason, "a plugin's handler failed");
            let message = format!("plugin `{plugin_id}` failed to answer: {reason}");
            let status = StatusCode::INTERNAL_SERVER_ERROR;
            plugin_error(status, "InternalServerError", &method, &url, message)
        }
        Err(_) => timed_out(state, plugin_id, &method, &url),
    };
    response
        .headers_mut()
        .insert(GENERATION_HEADER, HeaderValue::from(served.generation));
    response
}

/// The header naming the generation of the plugin that answered.
pub(crate) const GENERATION_HEADER: &str = "x-greenroom-generation";

/// Answers a request with routes linked into the host, through the same
/// checks and limits as a plugin's.
async fn forward_native(
    state: &HttpState,
    plugin_id: &str,
    path: &str,
    native: &Native,
    request: Request,
) -> Response {
    let _in_flight = state.routes.enter();
    let (method, url) = (request.method().to_string(), request.uri().to_string());
    let query = request
        .uri()
        .query()
        .map(|query| format!("?{query}"))
        .unwrap_or_default();
    let (mut parts, body) = request.into_parts();
    let body = match buffer(state, body, &parts).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    parts.uri = match format!("{path}{query}").parse() {
        Ok(uri) => uri,
        Err(_) => return invalid(format!("`{path}{query}` is not a URI")),
    };
    let request = Request::from_parts(parts, Body::from(body));
    let answer = tokio::time::timeout(
        state.options.request_timeout,
        tower::ServiceExt::oneshot(native.router.clone(), request),
    )
    .await;
    match answer {
        Ok(Ok(response)) => response,
        Ok(Err(infallible)) => match infallible {},
        Err(_) => timed_out(state, plugin_id, &method, &url),
    }
}

/// Reads a whole body within the configured limit; beyond it, a 413.
async fn buffer(
    state: &HttpState,
    body: Body,
    parts: &axum::http::request::Parts,
) -> Result<axum::body::Bytes, Response> {
    let limit = state.options.body_limit;
    let (method, url) = (parts.method.as_str(), parts.uri.to_string());
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        // Refused at once, not after waiting for bytes that will be refused.
        let message = format!("the request body is larger than {limit} bytes");
        let status = StatusCode::PAYLOAD_TOO_LARGE;
        return Err(plugin_error(
            status,
            "PayloadTooLargeError",
            method,
            &url,
            message,
        ));
    }
    let timeout = state.options.request_timeout;
    let read = tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await;
    let (status, name, message) = match read {
        Ok(Ok(body)) => return Ok(body),
        Ok(Err(error)) if is_too_large(&error) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLargeError",
            format!("the request body is larger than {limit} bytes"),
        ),
        Ok(Err(error)) => (
            StatusCode::BAD_REQUEST,
            "InputError",
            format!("the request body could not be read: {error}"),
        ),
        Err(_) => (
            StatusCode::REQUEST_TIMEOUT,
            "RequestTimeoutError",
            format!(
                "the request body did not arrive within {} s",
                timeout.as_secs_f32()
            ),
        ),
    };
    Err(plugin_error(status, name, method, &url, message))
}

/// Whether reading a body failed because it passed the limit.
fn is_too_large(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if current.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = current.source();
    }
    false
}

fn timed_out(state: &HttpState, plugin_id: &str, method: &str, url: &str) -> Response {
    let seconds = state.options.request_timeout.as_secs_f32();
    tracing::error!(plugin_id, %method, %url, "a plugin's handler timed out");
    let message = format!("plugin `{plugin_id}` did not answer within {seconds} s");
    plugin_error(
        StatusCode::GATEWAY_TIMEOUT,
        "GatewayTimeoutError",
        method,
        url,
        message,
    )
}

fn unavailable(request: &Request, message: String) -> Response {
    error(
        request,
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailableError",
        message,
    )
}

/// Buffers the request into the plain shape a plugin receives.
async fn to_plugin_request(
    state: &HttpState,
    path: &str,
    request: Request,
) -> Result<HttpRequest, Response> {
    let method = request.method().as_str().into();
    let query = request
        .uri()
        .query()
        .map(|query| format!("?{query}"))
        .unwrap_or_default();
    let uri = format!("{path}{query}");
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| Tuple2(RString::from(name.as_str()), RVec::from(value.as_bytes())))
        .collect();
    let (parts, body) = request.into_parts();
    let body = buffer(state, body, &parts).await?;
    Ok(HttpRequest {
        method,
        uri: uri.into(),
        headers,
        body: RVec::from(body.as_ref()),
    })
}

/// Turns a plugin's answer back into HTTP, refusing what HTTP cannot carry.
fn from_plugin_response(response: HttpResponse) -> Response {
    let Ok(status) = StatusCode::from_u16(response.status) else {
        return invalid(format!(
            "the plugin answered with status {}, which is not one",
            response.status
        ));
    };
    let mut built = Response::new(Body::from(response.body.into_vec()));
    *built.status_mut() = status;
    for Tuple2(name, value) in response.headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(&value),
        ) else {
            return invalid(format!(
                "the plugin answered with an invalid header `{name}`"
            ));
        };
        built.headers_mut().append(name, value);
    }
    built
}

fn invalid(message: String) -> Response {
    let body = serde_json::json!({
        "error": { "name": "InternalServerError", "message": message },
        "response": { "statusCode": 500 },
    });
    (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
}

/// A JSON error in the shape Backstage's clients expect.
fn error(request: &Request, status: StatusCode, name: &str, message: String) -> Response {
    let uri = request.uri().to_string();
    plugin_error(status, name, request.method().as_str(), &uri, message)
}

fn plugin_error(
    status: StatusCode,
    name: &str,
    method: &str,
    url: &str,
    message: String,
) -> Response {
    let body = serde_json::json!({
        "error": { "name": name, "message": message },
        "request": { "method": method, "url": url },
        "response": { "statusCode": status.as_u16() },
    });
    (status, Json(body)).into_response()
}
