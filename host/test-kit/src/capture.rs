//! Capturing log events per test backend.
//!
//! The kit installs one subscriber for the test process (the first test
//! backend does), which records events into the backend whose span they
//! happen in. Plugin events are re-emitted by the host inside the plugin's
//! span, a child of the test backend's, so they are captured too, from any
//! thread.

use std::{
    collections::HashMap,
    fmt::Write as _,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
};

use tracing::{
    Event as TracingEvent, Subscriber,
    field::{Field, Visit},
    span,
};
use tracing_subscriber::{Layer, layer::Context, prelude::*, registry::LookupSpan};

/// One captured log event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The level, such as `INFO`.
    pub level: String,
    /// The target, `greenroom::plugin` for events from plugin code.
    pub target: String,
    /// The message.
    pub message: String,
    /// The plugin the event came from, for plugin events.
    pub plugin_id: Option<String>,
    /// Every other field, as `name=value`.
    pub fields: Vec<String>,
}

type Store = Arc<Mutex<Vec<Event>>>;

/// Where each test backend's events go, by capture number.
static STORES: OnceLock<Mutex<HashMap<u64, Store>>> = OnceLock::new();
static NEXT: AtomicU64 = AtomicU64::new(1);

/// The events of one test backend.
pub(crate) struct Capture {
    id: u64,
    store: Store,
}

impl Capture {
    /// Starts capturing for a new test backend.
    pub(crate) fn begin() -> Self {
        install();
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let store = Store::default();
        stores().insert(id, store.clone());
        Self { id, store }
    }

    /// The span whose events (and whose children's) are captured.
    pub(crate) fn span(&self) -> tracing::Span {
        tracing::info_span!("greenroom_test", capture = self.id)
    }

    /// The events so far.
    pub(crate) fn events(&self) -> Vec<Event> {
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        stores().remove(&self.id);
    }
}

fn stores() -> std::sync::MutexGuard<'static, HashMap<u64, Store>> {
    STORES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let subscriber = tracing_subscriber::registry().with(CaptureLayer);
        // A test process whose harness installed its own subscriber keeps
        // it; events are then not captured, and tests reading them fail.
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// The capture number recorded on a `greenroom_test` span.
struct CaptureId(u64);

struct CaptureLayer;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for CaptureLayer {
    fn on_new_span(
        &self,
        attributes: &span::Attributes<'_>,
        id: &span::Id,
        context: Context<'_, S>,
    ) {
        if attributes.metadata().name() != "greenroom_test" {
            return;
        }
        let mut visitor = Fields::default();
        attributes.record(&mut visitor);
        let capture = visitor.numbers.get("capture").copied();
        if let (Some(capture), Some(span)) = (capture, context.span(id)) {
            span.extensions_mut().insert(CaptureId(capture));
        }
    }

    fn on_event(&self, event: &TracingEvent<'_>, context: Context<'_, S>) {
        let Some(scope) = context.event_scope(event) else {
            return;
        };
        let capture = scope
            .from_root()
            .find_map(|span| span.extensions().get::<CaptureId>().map(|id| id.0));
        let Some(store) = capture.and_then(|capture| stores().get(&capture).cloned()) else {
            return;
        };
        let mut fields = Fields::default();
        event.record(&mut fields);
        let captured = Event {
            level: event.metadata().level().to_string(),
            target: event.metadata().target().to_string(),
            message: fields.message,
            plugin_id: fields.plugin_id,
            fields: fields.others,
        };
        store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(captured);
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    plugin_id: Option<String>,
    others: Vec<String>,
    numbers: HashMap<&'static str, u64>,
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.numbers.insert(field.name(), value);
        self.others.push(format!("{}={value}", field.name()));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "plugin_id" => self.plugin_id = Some(value.to_string()),
            name => self.others.push(format!("{name}={value}")),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        match field.name() {
            "message" => self.message = text,
            "plugin_id" => self.plugin_id = Some(text.trim_matches('"').to_string()),
            name => self.others.push(format!("{name}={text}")),
        }
    }
}
