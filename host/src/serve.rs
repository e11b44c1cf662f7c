//! Stage seven: serve HTTP. Health and instance endpoints at the root, each
//! plugin's routes under `/api/<pluginId>`.
//!
//! The server listens before plugins initialize: readiness answers 503
//! until they have, and again once shutdown begins. A request for a plugin
//! that has not started, or failed, gets a 503 naming the plugin and the
//! reason at once; an unknown plugin a 404; a handler that panics or fails
//! a 500 for that request alone; one that takes too long a 504, its future
//! dropped.

mod auth;
mod forward;
mod routes;
mod tls;

use std::{
    net::SocketAddr,
    sync::{Arc, RwLock},
    time::Duration,
};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{any, get},
};
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tokio_rustls::TlsAcceptor;

pub use auth::{AuthPolicy, StaticToken};
pub(crate) use routes::Route;
pub use routes::{Phase, Routes};
pub use tls::Tls;

/// Settings of the HTTP server.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The largest request body forwarded to a plugin; larger gets 413.
    pub body_limit: usize,
    /// How long a plugin may take to answer; longer gets 504.
    pub request_timeout: Duration,
    /// How long shutdown waits for requests in flight.
    pub drain_timeout: Duration,
    /// The most bytes a request's line and headers may take; more gets 431.
    pub max_header_bytes: usize,
    /// The most headers a request may carry; more gets 431.
    pub max_headers: usize,
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// Who may call plugin routes.
    pub auth: AuthPolicy,
    /// Which other origins browsers may call the host from; none when
    /// `None`.
    pub cors: Option<Cors>,
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    pub tls: Option<Tls>,
}

/// Cross-origin requests browsers may make, in Backstage's `backend.cors`
/// terms.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cors {
    /// Allowed origins, such as `https://backstage.example.com`, or `*`.
    pub origins: Vec<String>,
    /// Allowed methods; empty allows the usual ones.
    pub methods: Vec<String>,
    /// Whether browsers may send credentials.
    pub credentials: bool,
}

impl Cors {
    /// The layer that answers preflight requests and adds the headers.
    fn layer(&self) -> tower_http::cors::CorsLayer {
        use axum::http::{HeaderValue, Method};
        use tower_http::cors::{AllowOrigin, CorsLayer};

        let origin = if self.origins.iter().any(|origin| origin == "*") {
            AllowOrigin::any()
        } else {
            AllowOrigin::list(
                self.origins
                    .iter()
                    .filter_map(|origin| HeaderValue::from_str(origin).ok()),
            )
        };
        let methods: Vec<Method> = if self.methods.is_empty() {
            ["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"]
                .iter()
                .filter_map(|method| method.parse().ok())
                .collect()
        } else {
            self.methods
                .iter()
                .filter_map(|method| method.parse().ok())
                .collect()
        };
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods(methods)
            .allow_headers([
                axum::http::header::AUTHORIZATION,
                axum::http::header::CONTENT_TYPE,
            ])
            .allow_credentials(self.credentials)
    }
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7007)),
            body_limit: 10 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            header_timeout: Duration::from_secs(10),
            auth: AuthPolicy::default(),
            cors: None,
            tls: None,
        }
    }
}

/// What the server shares with the rest of the host.
pub struct HttpState {
    /// Every plugin's routes and the host's phase.
    pub routes: Arc<Routes>,
    /// The server's settings.
    pub options: HttpOptions,
    /// What the instance endpoint reports.
    pub instance: RwLock<serde_json::Value>,
}

impl HttpState {
    /// State for a server with `options`, before any plugin is known.
    pub fn new(options: HttpOptions) -> Arc<Self> {
        Arc::new(Self {
            routes: Arc::default(),
            options,
            instance: RwLock::new(serde_json::Value::Null),
        })
    }

    /// Replaces what the instance endpoint reports.
    pub fn set_instance(&self, instance: serde_json::Value) {
        *self
            .instance
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = instance;
    }

    /// Sets `fields` of what the instance endpoint reports, leaving the
    /// others.
    pub fn update_instance(
        &self,
        fields: impl IntoIterator<Item = (&'static str, serde_json::Value)>,
    ) {
        let mut instance = self
            .instance
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(object) = instance.as_object_mut() {
            for (key, value) in fields {
                object.insert(key.to_string(), value);
            }
        }
    }
}

/// The host's HTTP routes, for serving or for calling in process.
pub fn router(state: Arc<HttpState>) -> Router {
    let cors = state.options.cors.as_ref().map(Cors::layer);
    let router = Router::new()
        .route("/.backstage/health/v1/liveness", get(liveness))
        .route("/.backstage/health/v1/readiness", get(readiness))
        .route("/.greenroom/v1/instance", get(instance))
        .route("/api/{plugin_id}", any(forward::plugin_root))
        .route("/api/{plugin_id}/", any(forward::plugin_root))
        .route("/api/{plugin_id}/{*rest}", any(forward::plugin_path))
        .fallback(forward::not_found)
        .layer(axum::middleware::from_fn(forward::log_request))
        .with_state(state);
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

async fn liveness() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn readiness(State(state): State<Arc<HttpState>>) -> Response {
    let plugins = statuses(&state.routes);
    let (status, body) = match state.routes.phase() {
        Phase::Ready => (
            StatusCode::OK,
            serde_json::json!({ "status": "ok", "plugins": plugins }),
        ),
        Phase::Starting => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "status": "error", "message": "not started yet", "plugins": plugins }),
        ),
        Phase::Stopping => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "status": "error", "message": "shutting down", "plugins": plugins }),
        ),
    };
    (status, Json(body)).into_response()
}

/// Each plugin's status now, by id.
fn statuses(routes: &Routes) -> serde_json::Map<String, serde_json::Value> {
    routes
        .statuses()
        .into_iter()
        .map(|(id, status, _)| (id, serde_json::Value::from(status)))
        .collect()
}

/// Each plugin's status now, by id, with the reason of a failure.
fn statuses_with_reasons(routes: &Routes) -> serde_json::Map<String, serde_json::Value> {
    routes
        .statuses()
        .into_iter()
        .map(|(id, status, reason)| {
            let mut entry = serde_json::json!({ "status": status });
            if let Some(reason) = reason {
                entry["error"] = reason.into();
            }
            (id, entry)
        })
        .collect()
}

async fn instance(State(state): State<Arc<HttpState>>, headers: HeaderMap) -> Response {
    if let Err(refusal) = state.options.auth.authorize_host(&headers) {
        let body = serde_json::json!({
            "error": { "name": refusal.name, "message": refusal.message },
            "request": { "method": "GET", "url": "/.greenroom/v1/instance" },
            "response": { "statusCode": refusal.status.as_u16() },
        });
        return (refusal.status, Json(body)).into_response();
    }
    let mut instance = state
        .instance
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    // The startup report is what happened then; a plugin may have failed
    // since.
    if let Some(fields) = instance.as_object_mut() {
        fields.insert(
            "plugins".to_string(),
            statuses_with_reasons(&state.routes).into(),
        );
    }
    Json(instance).into_response()
}

/// Marks the host as stopping (new plugin requests get 503, readiness
/// fails) and waits up to the drain timeout for plugin requests in flight.
pub async fn drain(state: &HttpState) {
    state.routes.set_phase(Phase::Stopping);
    let deadline = tokio::time::Instant::now() + state.options.drain_timeout;
    while state.routes.in_flight() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let left = state.routes.in_flight();
    if left > 0 {
        tracing::warn!(
            left,
            "plugin requests still in flight when the drain timeout ran out"
        );
    }
}

/// A connection's byte stream, plain or TLS.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// A running HTTP server.
pub struct Server {
    address: SocketAddr,
    stop: oneshot::Sender<Duration>,
    task: JoinHandle<()>,
}

impl Server {
    /// Binds the listen address and starts serving.
    ///
    /// # Errors
    ///
    /// Returns the operating system's error when the address cannot be
    /// bound.
    pub async fn start(state: Arc<HttpState>) -> std::io::Result<Self> {
        let tls = match &state.options.tls {
            Some(tls) => Some(tls.acceptor().map_err(|reason| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("HTTPS: {reason}"))
            })?),
            None => None,
        };
        let listener = TcpListener::bind(state.options.listen).await?;
        let address = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<Duration>();
        tracing::info!(%address, "listening");
        if state.options.auth.open {
            tracing::warn!(
                %address,
                "backend.auth.dangerouslyDisableDefaultAuthPolicy is set: every plugin route is \
                 open to anyone who can reach this address; never use it outside development"
            );
        }
        let task = tokio::spawn(accept(listener, state, tls, stopped));
        Ok(Self {
            address,
            stop,
            task,
        })
    }

    /// The address the server listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting connections and waits up to `drain` for requests in
    /// flight, then closes what is left.
    pub async fn stop(self, drain: Duration) {
        let _ = self.stop.send(drain);
        let _ = self.task.await;
    }
}

/// Accepts connections until told to stop, serving each with the limits of
/// the options; then lets open connections finish within the drain time.
async fn accept(
    listener: TcpListener,
    state: Arc<HttpState>,
    tls: Option<TlsAcceptor>,
    mut stopped: oneshot::Receiver<Duration>,
) {
    let service = TowerToHyperService::new(router(state.clone()));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .max_buf_size(state.options.max_header_bytes.max(8192))
        .max_headers(state.options.max_headers)
        .header_read_timeout(state.options.header_timeout);
    let graceful = GracefulShutdown::new();
    let drain = loop {
        tokio::select! {
            drain = &mut stopped => break drain.unwrap_or_default(),
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        // Out of file descriptors, typically: wait for some
                        // to close rather than spin on the same error.
                        tracing::warn!(%error, "cannot accept a connection; pausing 100 ms");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let (builder, service, watcher) = (builder.clone(), service.clone(), graceful.watcher());
                let tls = tls.clone();
                let header_timeout = state.options.header_timeout;
                tokio::spawn(async move {
                    let io: Box<dyn Io> = match tls {
                        None => Box::new(stream),
                        Some(tls) => match tokio::time::timeout(header_timeout, tls.accept(stream)).await {
                            Ok(Ok(stream)) => Box::new(stream),
                            Ok(Err(error)) => {
                                tracing::debug!(%error, "TLS handshake failed");
                                return;
                            }
                            Err(_) => return,
                        },
                    };
                    let connection = builder.serve_connection(TokioIo::new(io), service);
                    if let Err(error) = watcher.watch(connection).await {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                });
            }
        }
    };
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            drain_s = drain.as_secs_f32(),
            "connections still open were cut off"
        );
    }
}
