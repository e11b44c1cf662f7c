//! Errors in Backstage's shape:
//! `{error: {name, message}, request: {method, url}, response: {statusCode}}`.

use axum::{
    Json,
    extract::Request,
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::json;

/// A request the catalog refuses or cannot answer.
#[derive(Clone, Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    name: &'static str,
    message: String,
}

impl ApiError {
    /// 404: nothing there.
    pub(super) fn not_found(message: String) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            name: "NotFoundError",
            message,
        }
    }

    /// 405: the route exists, not for this method.
    pub(super) fn method_not_allowed() -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            name: "MethodNotAllowedError",
            message: "this route does not answer this method".to_string(),
        }
    }

    /// 500: the catalog failed.
    pub(super) fn internal(message: String) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            name: "Error",
            message,
        }
    }

    /// 400: the request is malformed.
    pub(super) fn input(message: String) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            name: "InputError",
            message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// Writes the body of an [`ApiError`] response, naming the request.
pub(super) async fn describe_request(request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let url = request.uri().to_string();
    let response = next.run(request).await;
    let Some(error) = response.extensions().get::<ApiError>().cloned() else {
        return response;
    };
    let body = json!({
        "error": { "name": error.name, "message": error.message },
        "request": { "method": method, "url": url },
        "response": { "statusCode": error.status.as_u16() },
    });
    (error.status, Json(body)).into_response()
}
