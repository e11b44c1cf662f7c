//! Start a Greenroom host inside a test, in the spirit of Backstage's test
//! backend: choose plugin files or linked-in features (a mock service is a
//! linked-in plugin providing it), then read the startup report, the host's
//! and plugins' log events, and answer requests without a socket.
//!
//! ```no_run
//! # async fn example() -> Result<(), greenroom_test_kit::TestError> {
//! use greenroom_test_kit::TestBackend;
//!
//! let backend = TestBackend::builder().file("target/debug/libmy_plugin.so").start().await?;
//! let response = backend.get("/api/my-plugin/health", None).await;
//! assert_eq!(response.status, 200);
//! assert!(backend.logs().iter().any(|event| event.plugin_id.as_deref() == Some("my-plugin")));
//! backend.stop().await;
//! # Ok(())
//! # }
//! ```

mod capture;

use std::{sync::Arc, time::Duration};

use axum::{
    body::Body,
    http::{HeaderValue, Request, header::AUTHORIZATION},
};
use camino::Utf8PathBuf;
use greenroom_contract::PluginModuleRef;
use greenroom_host::{
    Backend, BackendError, RunningBackend, StartError,
    initialize::{FailurePolicy, StartupReport},
    serve::{AuthPolicy, HttpOptions, StaticToken},
    services::DatabaseClient,
};
use tower::ServiceExt as _;
use tracing::Instrument as _;

pub use capture::Event;

/// The bearer token every test backend accepts for every plugin.
pub const TEST_TOKEN: &str = "greenroom-test-token";

/// A test backend being configured.
pub struct TestBackendBuilder {
    backend: Backend,
    http: HttpOptions,
}

impl TestBackendBuilder {
    /// Loads a plugin library file.
    pub fn file(mut self, path: impl Into<Utf8PathBuf>) -> Self {
        self.backend = self.backend.file(path);
        self
    }

    /// Adds a library linked into the test, such as a mock service provider
    /// made with `greenroom_sdk::root_module!`.
    pub fn add_static(mut self, name: &str, module: PluginModuleRef) -> Self {
        self.backend = self.backend.add_static(name, module);
        self
    }

    /// Gives a plugin its configuration.
    pub fn plugin_config(mut self, plugin_id: &str, config: serde_json::Value) -> Self {
        self.backend = self.backend.plugin_config(plugin_id, config);
        self
    }

    /// Keeps plugins' databases where `client` says (by default, SQLite
    /// files under `data/` in the working directory).
    pub fn database(mut self, client: DatabaseClient) -> Self {
        self.backend = self.backend.database(client);
        self
    }

    /// Tells plugins asking discovery that `plugin_id`'s routes are at
    /// `url`.
    pub fn discovery_endpoint(mut self, plugin_id: &str, url: &str) -> Self {
        self.backend = self.backend.discovery_endpoint(plugin_id, url);
        self
    }

    /// Lets the plugins and modules `allow` names fail without aborting.
    pub fn failure_policy(mut self, allow: FailurePolicy) -> Self {
        self.backend = self.backend.failure_policy(allow);
        self
    }

    /// Cuts off initializations after `timeout` (default 10 s here).
    pub fn init_timeout(mut self, timeout: Duration) -> Self {
        self.backend = self.backend.init_timeout(timeout);
        self
    }

    /// Cuts off plugin requests after `timeout`.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.http.request_timeout = timeout;
        self
    }

    /// Loads, resolves and initializes everything, capturing every log event
    /// of the start and of later requests.
    ///
    /// # Errors
    ///
    /// Returns why the backend could not load or start.
    pub async fn start(self) -> Result<TestBackend, TestError> {
        let capture = capture::Capture::begin();
        let span = capture.span();
        let backend = self.backend.http_options(self.http);
        let started = async {
            let loaded = backend.load()?;
            Ok::<_, TestError>(loaded.start().await?)
        }
        .instrument(span.clone())
        .await?;
        Ok(TestBackend {
            running: started,
            capture: Arc::new(capture),
            span,
        })
    }
}

/// Why a test backend did not start.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    /// The libraries could not be loaded at all.
    #[error(transparent)]
    Load(#[from] BackendError),
    /// Resolution or initialization failed.
    #[error(transparent)]
    Start(#[from] StartError),
}

/// A started test backend.
pub struct TestBackend {
    running: RunningBackend,
    capture: Arc<capture::Capture>,
    span: tracing::Span,
}

/// A test backend's log events, kept past its stop.
#[derive(Clone)]
pub struct Logs(Arc<capture::Capture>);

impl Logs {
    /// Every event so far.
    pub fn events(&self) -> Vec<Event> {
        self.0.events()
    }
}

/// A response, with its body read.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers, lowercase names and raw values.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON.
    ///
    /// # Panics
    ///
    /// Panics, naming the body, when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    /// The body as text, with invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl TestBackend {
    /// A builder with no plugins directory, a 10 s init timeout, and an auth
    /// policy that accepts [`TEST_TOKEN`] for every plugin.
    pub fn builder() -> TestBackendBuilder {
        let auth = AuthPolicy {
            open: false,
            tokens: vec![StaticToken {
                token: TEST_TOKEN.to_string(),
                subject: "test".to_string(),
                plugins: None,
            }],
        };
        TestBackendBuilder {
            backend: Backend::new()
                .no_plugins_dir()
                .init_timeout(Duration::from_secs(10)),
            http: HttpOptions {
                auth,
                ..HttpOptions::default()
            },
        }
    }

    /// What happened to every plugin and module at startup.
    pub fn report(&self) -> &StartupReport {
        self.running.report()
    }

    /// Every log event of this backend so far: the host's and its plugins'.
    pub fn logs(&self) -> Vec<Event> {
        self.capture.events()
    }

    /// The backend's log, readable after [`TestBackend::stop`] too.
    pub fn capture(&self) -> Logs {
        Logs(self.capture.clone())
    }

    /// Sends a request in process and reads the whole response.
    pub async fn request(&self, request: Request<Body>) -> Response {
        let response = self
            .running
            .router()
            .oneshot(request)
            .instrument(self.span.clone())
            .await
            .unwrap_or_else(|infallible| match infallible {});
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        Response {
            status: parts.status.as_u16(),
            headers: parts
                .headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
                .collect(),
            body: body.to_vec(),
        }
    }

    /// Sends `GET path`, with [`TEST_TOKEN`] unless `token` names another
    /// (an empty string sends none).
    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = Request::get(path)
            .body(Body::empty())
            .expect("a GET request builds");
        let token = token.unwrap_or(TEST_TOKEN);
        if !token.is_empty() {
            let value = HeaderValue::from_str(&format!("Bearer {token}"))
                .expect("a token is a header value");
            request.headers_mut().insert(AUTHORIZATION, value);
        }
        self.request(request).await
    }

    /// Shuts one plugin down and initializes it again inside its loaded
    /// library; returns its new result.
    ///
    /// # Errors
    ///
    /// Returns an error when the plugin is not running here.
    pub async fn restart_plugin(
        &mut self,
        plugin_id: &str,
    ) -> Result<greenroom_host::initialize::PluginResult, String> {
        let span = self.span.clone();
        self.running
            .restart_plugin(plugin_id)
            .instrument(span)
            .await
    }

    /// Shuts the backend down and returns the failures.
    pub async fn stop(self) -> Vec<String> {
        self.running.stop().instrument(self.span).await
    }
}
