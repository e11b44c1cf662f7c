//! The HTTP layer over the `web` fixture, called in process through the
//! host's router: forwarding, credentials, a plugin that panics, hangs or
//! failed to start, limits, and the health and instance endpoints. Tests
//! that need a real socket are in `http/socket.rs`.

mod socket;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    http::{HeaderValue, Method, Request, StatusCode, header::AUTHORIZATION},
};
use greenroom_host::{
    Backend, RunningBackend,
    resolve::Node,
    serve::{AuthPolicy, Cors, HttpOptions, StaticToken},
};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::artifacts::{fixture, runtime, scratch};

/// The token that opens the `web` plugin.
const WEB_TOKEN: &str = "web-token";

/// A token limited to no plugin, which may also read the host's report.
const READER_TOKEN: &str = "reader-token";

/// How long a test waits for something that should happen at once before
/// it fails instead of blocking.
const DEADLINE: Duration = Duration::from_secs(30);

/// A runtime with two workers, so a server can answer while a test waits.
/// Credentials required, one token for `web` and one for another plugin.
fn token_policy() -> AuthPolicy {
    let token = |token: &str, subject: &str, plugin: &str| StaticToken {
        token: token.to_string(),
        subject: subject.to_string(),
        plugins: Some(vec![plugin.to_string()]),
    };
    AuthPolicy {
        open: false,
        tokens: vec![
            token(WEB_TOKEN, "tester", "web"),
            token("other-token", "other", "other"),
            StaticToken {
                token: READER_TOKEN.to_string(),
                subject: "reader".to_string(),
                plugins: None,
            },
        ],
    }
}

/// HTTP options with the token policy and `change` applied.
fn options(change: impl FnOnce(&mut HttpOptions)) -> HttpOptions {
    let mut options = HttpOptions {
        auth: token_policy(),
        ..HttpOptions::default()
    };
    change(&mut options);
    options
}

/// A backend of the `web` fixture alone, with its own private directory.
fn web_backend(test: &str, options: HttpOptions) -> Backend {
    Backend::new()
        .no_plugins_dir()
        .file(fixture("web"))
        .private_dir(scratch(test))
        .http_options(options)
}

/// Loads and starts `backend`.
async fn start(backend: Backend) -> RunningBackend {
    backend
        .load()
        .expect("the web fixture loads")
        .start()
        .await
        .expect("the web fixture starts")
}

/// Stops `running`, which must stop cleanly.
async fn stop(running: RunningBackend) {
    assert_eq!(running.stop().await, Vec::<String>::new());
}

/// A request for `uri` with `Authorization: Bearer <token>` if given.
fn request(method: Method, uri: &str, token: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    request
        .body(Body::from(body))
        .expect("the request is valid")
}

/// A `GET` for `uri` with the web token.
fn get(uri: &str) -> Request<Body> {
    request(Method::GET, uri, Some(WEB_TOKEN), Vec::new())
}

/// Calls the router in process and returns the status and the body.
async fn call(router: &Router, request: Request<Body>) -> (StatusCode, Vec<u8>) {
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("the body can be read");
    (status, body.to_vec())
}

/// Calls the router and parses the body as JSON.
async fn call_json(router: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let (status, body) = call(router, request).await;
    (status, parse_json(&body))
}

/// Calls the router and reads the body as text.
async fn call_text(router: &Router, request: Request<Body>) -> (StatusCode, String) {
    let (status, body) = call(router, request).await;
    let text = String::from_utf8(body).expect("the body is UTF-8");
    (status, text)
}

/// `body` as JSON, failing with the body when it is not.
fn parse_json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|error| {
        panic!(
            "the body is JSON ({error}): {}",
            String::from_utf8_lossy(body)
        )
    })
}

/// The JSON error body the host answers with itself.
fn host_error(status: u16, name: &str, message: &str, method: &str, url: &str) -> Value {
    json!({
        "error": { "name": name, "message": message },
        "request": { "method": method, "url": url },
        "response": { "statusCode": status },
    })
}

/// The names of the headers the echo route reports.
fn echoed_names(echo: &Value) -> Vec<&str> {
    echo["headers"]
        .as_array()
        .expect("headers are a list")
        .iter()
        .filter_map(|pair| pair[0].as_str())
        .collect()
}

/// The bytes of the header `name` as the echo route reports them.
fn echoed_header(echo: &Value, name: &str) -> Vec<u8> {
    let headers = echo["headers"].as_array().expect("the echo lists headers");
    let (_, value) = headers
        .iter()
        .map(|pair| (pair[0].as_str(), &pair[1]))
        .find(|(header, _)| *header == Some(name))
        .unwrap_or_else(|| panic!("the echo has no header `{name}`: {echo}"));
    serde_json::from_value(value.clone()).expect("header values are byte arrays")
}

#[test]
fn a_request_reaches_the_plugin_with_its_query_headers_and_body() {
    runtime().block_on(async {
        let running = start(web_backend("http-echo", options(|_| {}))).await;
        let router = running.router();

        let mut with_raw_header = get("/api/web/echo?x=1&y=2");
        let raw = HeaderValue::from_bytes(&[0xff, 0xfe, 0x41]).expect("obs-text is allowed");
        with_raw_header.headers_mut().insert("x-raw", raw);
        let (status, echo) = call_json(&router, with_raw_header).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (&echo["method"], &echo["uri"], &echo["body_length"]),
            (&json!("GET"), &json!("/echo?x=1&y=2"), &json!(0))
        );
        assert_eq!(echoed_header(&echo, "x-raw"), [0xff, 0xfe, 0x41]);
        let names = echoed_names(&echo);
        assert!(
            !names.contains(&"authorization"),
            "the host token reached the plugin: {names:?}"
        );
        assert_eq!(echoed_header(&echo, "x-greenroom-subject"), b"tester");

        let post = request(
            Method::POST,
            "/api/web/echo",
            Some(WEB_TOKEN),
            vec![7; 1000],
        );
        let (status, echo) = call_json(&router, post).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (&echo["method"], &echo["uri"], &echo["body_length"]),
            (&json!("POST"), &json!("/echo"), &json!(1000))
        );
        stop(running).await;
    });
}

#[test]
fn a_host_token_sent_where_none_is_needed_still_never_reaches_the_plugin() {
    runtime().block_on(async {
        let open = options(|options| options.auth.open = true);
        let running = start(web_backend("http-open-token", open)).await;
        let router = running.router();

        let (status, echo) = call_json(&router, get("/api/web/echo")).await;
        let mut foreign = get("/api/web/echo");
        foreign.headers_mut().insert(
            AUTHORIZATION,
            HeaderValue::from_static("Bearer the-plugins-own-credential"),
        );
        let (_, foreign_echo) = call_json(&router, foreign).await;

        assert_eq!(status, StatusCode::OK);
        let names = echoed_names(&echo);
        assert!(!names.contains(&"authorization"), "{names:?}");
        assert_eq!(echoed_header(&echo, "x-greenroom-subject"), b"tester");
        assert_eq!(
            echoed_header(&foreign_echo, "authorization"),
            b"Bearer the-plugins-own-credential"
        );
        stop(running).await;
    });
}

#[test]
fn the_plugin_gets_the_path_as_the_client_encoded_it() {
    runtime().block_on(async {
        let running = start(web_backend("http-encoded", options(|_| {}))).await;
        let router = running.router();

        for (sent, received) in [
            ("/api/web/echo/a%2Fb?x=1", "/echo/a%2Fb?x=1"),
            ("/api/web/echo/%2541", "/echo/%2541"),
            ("/api/web/echo/a%3Fb=c?orig=1", "/echo/a%3Fb=c?orig=1"),
            ("/api/web/echo/with%20space", "/echo/with%20space"),
        ] {
            let (status, echo) = call_json(&router, get(sent)).await;
            assert_eq!(
                (status, &echo["uri"]),
                (StatusCode::OK, &json!(received)),
                "{sent}"
            );
        }
        stop(running).await;
    });
}

#[test]
fn plugin_routes_need_a_token_that_opens_the_plugin() {
    runtime().block_on(async {
        let running = start(web_backend("http-auth", options(|_| {}))).await;
        let router = running.router();
        let echo = |token| request(Method::GET, "/api/web/echo", token, Vec::new());

        let message = "plugin `web` needs a credential for /echo: send `Authorization: Bearer \
                       <token>` with a token from backend.auth.externalAccess";
        assert_eq!(
            call_json(&router, echo(None)).await,
            (
                StatusCode::UNAUTHORIZED,
                host_error(401, "AuthenticationError", message, "GET", "/api/web/echo")
            )
        );
        let message = "the bearer token is not one this host knows";
        assert_eq!(
            call_json(&router, echo(Some("wrong-token"))).await,
            (
                StatusCode::UNAUTHORIZED,
                host_error(401, "AuthenticationError", message, "GET", "/api/web/echo")
            )
        );
        let message = "the token of `other` does not open plugin `web`";
        assert_eq!(
            call_json(&router, echo(Some("other-token"))).await,
            (
                StatusCode::FORBIDDEN,
                host_error(403, "NotAllowedError", message, "GET", "/api/web/echo")
            )
        );
        stop(running).await;
    });
}

#[test]
fn open_paths_and_an_open_policy_need_no_token() {
    runtime().block_on(async {
        let running = start(web_backend("http-open-path", options(|_| {}))).await;
        let ping = request(Method::GET, "/api/web/open/ping", None, Vec::new());
        assert_eq!(
            call_text(&running.router(), ping).await,
            (StatusCode::OK, "pong".to_string())
        );
        stop(running).await;

        let open = options(|options| options.auth.open = true);
        let running = start(web_backend("http-open-policy", open)).await;
        let echo = request(Method::GET, "/api/web/echo", None, Vec::new());
        let (status, echo) = call_json(&running.router(), echo).await;
        assert_eq!((status, &echo["uri"]), (StatusCode::OK, &json!("/echo")));
        stop(running).await;
    });
}

#[test]
fn a_handler_that_panics_fails_its_request_alone() {
    runtime().block_on(async {
        let running = start(web_backend("http-panic", options(|_| {}))).await;
        let router = running.router();

        let message =
            "plugin `web` failed to answer: panicked: the web fixture's handler panics on purpose";
        assert_eq!(
            call_json(&router, get("/api/web/panic")).await,
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                host_error(500, "InternalServerError", message, "GET", "/api/web/panic")
            )
        );

        let (status, _) = call(&router, get("/api/web/echo")).await;
        assert_eq!(status, StatusCode::OK);
        stop(running).await;
    });
}

#[test]
fn a_handler_that_takes_too_long_gets_504_and_its_future_dropped() {
    let options = options(|options| options.request_timeout = Duration::from_millis(300));
    runtime().block_on(async {
        let running = start(web_backend("http-timeout", options)).await;
        let router = running.router();

        let message = "plugin `web` did not answer within 0.3 s";
        assert_eq!(
            call_json(&router, get("/api/web/hang")).await,
            (
                StatusCode::GATEWAY_TIMEOUT,
                host_error(504, "GatewayTimeoutError", message, "GET", "/api/web/hang")
            )
        );

        let deadline = tokio::time::Instant::now() + DEADLINE;
        let dropped = loop {
            let (status, dropped) = call_text(&router, get("/api/web/dropped")).await;
            assert_eq!(status, StatusCode::OK);
            if dropped != "0" || tokio::time::Instant::now() > deadline {
                break dropped;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!(dropped, "1", "the hung handler's future is dropped once");
        stop(running).await;
    });
}

#[test]
fn a_body_over_the_limit_gets_413() {
    let options = options(|options| options.body_limit = 100);
    runtime().block_on(async {
        let running = start(web_backend("http-body-limit", options)).await;
        let router = running.router();
        let post = |length| {
            request(
                Method::POST,
                "/api/web/echo",
                Some(WEB_TOKEN),
                vec![1; length],
            )
        };

        let message = "the request body is larger than 100 bytes";
        assert_eq!(
            call_json(&router, post(101)).await,
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                host_error(
                    413,
                    "PayloadTooLargeError",
                    message,
                    "POST",
                    "/api/web/echo"
                )
            )
        );
        let (status, echo) = call_json(&router, post(100)).await;
        assert_eq!(
            (status, &echo["body_length"]),
            (StatusCode::OK, &json!(100))
        );
        // A length declared over the limit is refused before any of the
        // body is waited for.
        let mut declared = post(0);
        declared
            .headers_mut()
            .insert("content-length", HeaderValue::from_static("99999999999"));
        let (status, _) = call_json(&router, declared).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        stop(running).await;
    });
}

#[test]
fn unknown_plugins_and_paths_get_404_and_plugin_statuses_pass_through() {
    runtime().block_on(async {
        let running = start(web_backend("http-not-found", options(|_| {}))).await;
        let router = running.router();

        let message = "no plugin `nobody` is installed";
        assert_eq!(
            call_json(&router, get("/api/nobody/x")).await,
            (
                StatusCode::NOT_FOUND,
                host_error(404, "NotFoundError", message, "GET", "/api/nobody/x")
            )
        );
        let message = "nothing is served at /nothing";
        assert_eq!(
            call_json(&router, get("/nothing")).await,
            (
                StatusCode::NOT_FOUND,
                host_error(404, "NotFoundError", message, "GET", "/nothing")
            )
        );
        let (status, _) = call(&router, get("/api/web/status/418")).await;
        assert_eq!(status, StatusCode::IM_A_TEAPOT);
        stop(running).await;
    });
}

#[test]
fn a_plugin_allowed_to_fail_answers_503_with_its_reason() {
    let backend = web_backend("http-failed", options(|_| {}))
        .plugin_config("web", json!({ "fail": true }))
        .failure_policy(Arc::new(|_: &Node| true));
    runtime().block_on(async {
        let running = start(backend).await;
        let router = running.router();

        let (status, body) = call_json(&router, get("/api/web/echo")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("plugin `web` failed to start: ")
                && message.contains("the web fixture was configured to fail"),
            "{body}"
        );
        assert_eq!(
            body,
            host_error(
                503,
                "ServiceUnavailableError",
                message,
                "GET",
                "/api/web/echo"
            )
        );

        let readiness = get("/.backstage/health/v1/readiness");
        assert_eq!(
            call_json(&router, readiness).await,
            (
                StatusCode::OK,
                json!({ "status": "ok", "plugins": { "web": "failed" } })
            )
        );
        stop(running).await;
    });
}

#[test]
fn health_endpoints_report_the_host_and_its_plugins() {
    runtime().block_on(async {
        let running = start(web_backend("http-health", options(|_| {}))).await;
        let router = running.router();
        let anonymous = |uri| request(Method::GET, uri, None, Vec::new());

        assert_eq!(
            call_json(&router, anonymous("/.backstage/health/v1/liveness")).await,
            (StatusCode::OK, json!({ "status": "ok" }))
        );
        assert_eq!(
            call_json(&router, anonymous("/.backstage/health/v1/readiness")).await,
            (
                StatusCode::OK,
                json!({ "status": "ok", "plugins": { "web": "started" } })
            )
        );
        stop(running).await;
    });
}

#[test]
fn the_instance_endpoint_lists_libraries_and_the_startup_report() {
    runtime().block_on(async {
        let running = start(web_backend("http-instance", options(|_| {}))).await;
        let anonymous = request(Method::GET, "/.greenroom/v1/instance", None, Vec::new());
        let (status, _) = call_json(&running.router(), anonymous).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let limited = request(
            Method::GET,
            "/.greenroom/v1/instance",
            Some(WEB_TOKEN),
            Vec::new(),
        );
        let (status, refusal) = call_json(&running.router(), limited).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            refusal["error"]["message"],
            "the token of `tester` opens only some plugins; the instance report needs a token \
             without accessRestrictions"
        );
        let instance = request(
            Method::GET,
            "/.greenroom/v1/instance",
            Some(READER_TOKEN),
            Vec::new(),
        );
        let (status, body) = call_json(&running.router(), instance).await;
        assert_eq!(status, StatusCode::OK);

        assert_eq!(
            body["host"]["interface"],
            json!(greenroom_contract::INTERFACE_VERSION)
        );
        let libraries = body["libraries"].as_array().expect("libraries is a list");
        assert_eq!(libraries.len(), 1, "{body}");
        let library = &libraries[0];
        assert_eq!(
            (
                &library["file"],
                &library["library"],
                &library["interface"],
                &library["status"]
            ),
            (
                &json!(fixture("web").as_str()),
                &json!("greenroom-fixture-web"),
                &json!(greenroom_contract::INTERFACE_VERSION),
                &json!("ok")
            )
        );
        let startup = &body["startup"];
        assert_eq!(startup["ok"], json!(true), "{body}");
        let plugins = startup["plugins"].as_array().expect("plugins is a list");
        let plugins: Vec<(&Value, &Value)> = plugins
            .iter()
            .map(|plugin| (&plugin["plugin_id"], &plugin["status"]))
            .collect();
        assert_eq!(plugins, [(&json!("web"), &json!("started"))]);
        stop(running).await;
    });
}

#[test]
fn cors_answers_preflights_for_allowed_origins_only() {
    runtime().block_on(async {
        let cors = Cors {
            origins: vec!["https://portal.example".to_string()],
            methods: Vec::new(),
            credentials: false,
        };
        let options = options(|options| options.cors = Some(cors));
        let running = start(web_backend("http-cors", options)).await;
        let router = running.router();
        let preflight = |origin: &str| {
            Request::builder()
                .method(Method::OPTIONS)
                .uri("/api/web/echo")
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .body(Body::empty())
                .expect("the request is valid")
        };

        let allowed = router
            .clone()
            .oneshot(preflight("https://portal.example"))
            .await
            .unwrap();
        assert_eq!(allowed.status(), StatusCode::OK);
        assert_eq!(
            allowed.headers()["access-control-allow-origin"],
            "https://portal.example"
        );
        let other = router
            .clone()
            .oneshot(preflight("https://evil.example"))
            .await
            .unwrap();
        assert!(other.headers().get("access-control-allow-origin").is_none());

        let mut call = get("/api/web/echo");
        call.headers_mut()
            .insert("origin", HeaderValue::from_static("https://portal.example"));
        let answered = router.clone().oneshot(call).await.unwrap();
        assert_eq!(answered.status(), StatusCode::OK);
        assert_eq!(
            answered.headers()["access-control-allow-origin"],
            "https://portal.example"
        );
        stop(running).await;
    });
}
