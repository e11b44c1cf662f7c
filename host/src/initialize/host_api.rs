//! The host as one plugin or module sees it: the [`HostApi`] given to its
//! initialization.

use std::sync::{Arc, Mutex};

use abi_stable::{
    sabi_trait::TD_Opaque,
    std_types::{RArc, RString},
};
use greenroom_contract::{HookBox, HostApi, HostApi_TO, HostBox, LogLevel, LogRecord};
use tracing::level_filters::LevelFilter;

/// The lifecycle hooks one plugin (and its modules) registered.
#[derive(Default)]
pub(crate) struct Hooks {
    pub(crate) startup: Vec<HookBox>,
    pub(crate) shutdown: Vec<HookBox>,
}

/// Hooks shared between a plugin's host handles and the initializer.
pub(crate) type SharedHooks = Arc<Mutex<Hooks>>;

#[derive(Clone)]
struct FeatureHost {
    plugin_id: String,
    module_id: String,
    config: String,
    hooks: SharedHooks,
}

/// Makes the host handle for one plugin (`module_id` empty) or module.
pub(crate) fn host_for(
    plugin_id: &str,
    module_id: &str,
    config: &serde_json::Value,
    hooks: SharedHooks,
) -> HostBox {
    let host = FeatureHost {
        plugin_id: plugin_id.to_string(),
        module_id: module_id.to_string(),
        config: config.to_string(),
        hooks,
    };
    HostApi_TO::from_ptr(RArc::new(host), TD_Opaque)
}

impl HostApi for FeatureHost {
    fn plugin_id(&self) -> RString {
        self.plugin_id.as_str().into()
    }

    fn module_id(&self) -> RString {
        self.module_id.as_str().into()
    }

    fn max_log_level(&self) -> LogLevel {
        match LevelFilter::current() {
            LevelFilter::OFF => LogLevel::Off,
            LevelFilter::ERROR => LogLevel::Error,
            LevelFilter::WARN => LogLevel::Warn,
            LevelFilter::INFO => LogLevel::Info,
            LevelFilter::DEBUG => LogLevel::Debug,
            _ => LogLevel::Trace,
        }
    }

    fn log(&self, record: LogRecord) {
        emit(&self.plugin_id, &self.module_id, &record);
    }

    fn config(&self) -> RString {
        self.config.as_str().into()
    }

    fn add_startup_hook(&self, hook: HookBox) {
        self.lock().startup.push(hook);
    }

    fn add_shutdown_hook(&self, hook: HookBox) {
        self.lock().shutdown.push(hook);
    }
}

impl FeatureHost {
    fn lock(&self) -> std::sync::MutexGuard<'_, Hooks> {
        self.hooks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Re-emits a plugin's log record as a host event tagged with the plugin.
fn emit(plugin_id: &str, module_id: &str, record: &LogRecord) {
    let fields: Vec<String> = record
        .fields
        .iter()
        .map(|pair| format!("{}={}", pair.0, pair.1))
        .collect();
    let fields = fields.join(" ");
    let target = record.target.as_str();
    let message = record.message.as_str();
    macro_rules! event {
        ($level:expr) => {
            tracing::event!(
                target: "greenroom::plugin",
                $level,
                plugin_id,
                module_id,
                plugin_target = target,
                fields = fields.as_str(),
                "{message}"
            )
        };
    }
    match record.level {
        LogLevel::Off => {}
        LogLevel::Error => event!(tracing::Level::ERROR),
        LogLevel::Warn => event!(tracing::Level::WARN),
        LogLevel::Info => event!(tracing::Level::INFO),
        LogLevel::Debug => event!(tracing::Level::DEBUG),
        LogLevel::Trace => event!(tracing::Level::TRACE),
    }
}
