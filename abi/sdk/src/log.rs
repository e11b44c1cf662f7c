//! Forwarding the library's `tracing` events to the host's log.
//!
//! A plugin library has its own copy of `tracing`, whose events would
//! otherwise go nowhere. The first initialization installs a subscriber that
//! sends each event to the host of the feature whose code is running (or,
//! for threads the library started itself, to the latest initialized
//! feature). It is installed once per library; later initializations only
//! change where it sends, so it survives any number of reloads.

use std::{
    cell::RefCell,
    fmt::{Debug, Write as _},
    sync::{
        Once, RwLock,
        atomic::{AtomicU8, AtomicU64, Ordering},
    },
};

use abi_stable::std_types::{RString, RVec, Tuple2};
use greenroom_contract::{HostBox, LogLevel, LogRecord};
use tracing::{
    Event, Level, Metadata, Subscriber,
    field::{Field, Visit},
    span,
    subscriber::Interest,
};

static SINK: RwLock<Option<HostBox>> = RwLock::new(None);
static MAX_LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Off as u8);
static INSTALL: Once = Once::new();

thread_local! {
    static CURRENT: RefCell<Vec<HostBox>> = const { RefCell::new(Vec::new()) };
    /// The message of the latest panic on this thread, for a catcher that
    /// only sees async_ffi's stand-in.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Whether this thread is forwarding an event to the host.
    static FORWARDING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// How many of the SDK's panic catchers this thread is inside.
    static CATCHING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Marks this thread as inside one of the SDK's panic catchers while it
/// lives, so that the panic hook leaves a panic caught there to the log.
pub(crate) struct Catching(());

impl Catching {
    pub(crate) fn begin() -> Self {
        CATCHING.with(|depth| depth.set(depth.get() + 1));
        Self(())
    }
}

impl Drop for Catching {
    fn drop(&mut self) {
        CATCHING.with(|depth| depth.set(depth.get().saturating_sub(1)));
    }
}

/// What async_ffi panics with when a future it wraps panicked while polled;
/// the original message went to the panic hook.
pub(crate) const FFI_FUTURE_PANICKED: &str = "FFI future panicked";

/// Sends this library's events to `host` from now on.
pub(crate) fn install(host: &HostBox) {
    MAX_LEVEL.store(host.max_log_level() as u8, Ordering::Relaxed);
    *SINK
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(host.clone());
    INSTALL.call_once(|| {
        let _ = tracing::subscriber::set_global_default(Forwarder::default());
        // The library has its own standard library and so its own panic
        // hook, which would print to stderr past the host's log. Panics in
        // plugin code the SDK runs are caught and reported as errors; this
        // logs where each happened. Any other panic (outside every catcher
        // of the SDK) also goes to the hook found here: linked into a host
        // or a test, that one is theirs.
        let earlier = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = crate::init::panic_message(info.payload());
            if message != FFI_FUTURE_PANICKED {
                LAST_PANIC.with(|last| *last.borrow_mut() = Some(message));
            }
            tracing::error!(target: "greenroom::panic", "plugin code panicked: {info}");
            let caught = CATCHING.with(std::cell::Cell::get) > 0
                || CURRENT.with(|current| !current.borrow().is_empty());
            if !caught {
                earlier(info);
            }
        }));
    });
}

/// The message of the latest panic on this thread since the last call,
/// which a catcher calls first to forget older panics.
pub(crate) fn take_last_panic() -> Option<String> {
    LAST_PANIC.with(|last| last.borrow_mut().take())
}

/// Stops forwarding until the next initialization.
pub(crate) fn uninstall() {
    MAX_LEVEL.store(LogLevel::Off as u8, Ordering::Relaxed);
    *SINK
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
}

/// Makes `host` the destination of events on this thread until dropped.
pub(crate) fn enter(host: &HostBox) -> Entered {
    CURRENT.with(|current| current.borrow_mut().push(host.clone()));
    Entered(())
}

/// Undoes [`enter`] when dropped.
pub(crate) struct Entered(());

impl Drop for Entered {
    fn drop(&mut self) {
        CURRENT.with(|current| current.borrow_mut().pop());
    }
}

fn level(level: &Level) -> LogLevel {
    match *level {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warn,
        Level::INFO => LogLevel::Info,
        Level::DEBUG => LogLevel::Debug,
        Level::TRACE => LogLevel::Trace,
    }
}

#[derive(Default)]
struct Forwarder {
    next_span: AtomicU64,
}

impl Subscriber for Forwarder {
    fn register_callsite(&self, _metadata: &'static Metadata<'static>) -> Interest {
        // The host's level can change at every initialization: ask each time.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        level(metadata.level()) as u8 <= MAX_LEVEL.load(Ordering::Relaxed)
    }

    fn new_span(&self, _span: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _span: &span::Id, _values: &span::Record<'_>) {}

    fn record_follows_from(&self, _span: &span::Id, _follows: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        // Linked into a host that installed no subscriber, this forwarder is
        // the host's too: the host's own event for a forwarded one would
        // come back here, round and round. It is dropped instead.
        if FORWARDING.with(|forwarding| forwarding.replace(true)) {
            return;
        }
        let _done = Forwarded;
        let mut fields = Fields::default();
        event.record(&mut fields);
        let record = LogRecord {
            level: level(event.metadata().level()),
            target: event.metadata().target().into(),
            message: fields.message.into(),
            fields: fields.others,
        };
        let current = CURRENT.with(|current| current.borrow().last().cloned());
        let host = current.or_else(|| {
            SINK.read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone()
        });
        if let Some(host) = host {
            host.log(record);
        }
    }

    fn enter(&self, _span: &span::Id) {}

    fn exit(&self, _span: &span::Id) {}
}

/// Ends forwarding on this thread when dropped.
struct Forwarded;

impl Drop for Forwarded {
    fn drop(&mut self) {
        FORWARDING.with(|forwarding| forwarding.set(false));
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    others: RVec<Tuple2<RString, RString>>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.push(field, text);
    }
}

impl Fields {
    fn push(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = value;
        } else {
            self.others.push(Tuple2(field.name().into(), value.into()));
        }
    }
}
