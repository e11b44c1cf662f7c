//! The structured startup report: what happened to every plugin and module.

use std::time::Duration;

use serde::Serialize;

use crate::register::PluginId;

/// What became of one plugin's or module's initialization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatureStatus {
    /// Initialized.
    Started,
    /// Initialization failed, panicked or timed out.
    Failed,
    /// Not initialized, because something it depends on did not start.
    Skipped,
}

/// The result for one module.
#[derive(Clone, Debug, Serialize)]
pub struct ModuleResult {
    /// The module's id.
    pub module_id: PluginId,
    /// What happened.
    pub status: FeatureStatus,
    /// How long its initialization took.
    pub duration_ms: f64,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// Whether the failure policy lets it fail without aborting.
    pub failure_allowed: bool,
}

impl ModuleResult {
    pub(super) fn finished(
        module_id: &PluginId,
        outcome: Result<(), String>,
        took: Duration,
    ) -> Self {
        Self {
            module_id: module_id.clone(),
            status: if outcome.is_ok() {
                FeatureStatus::Started
            } else {
                FeatureStatus::Failed
            },
            duration_ms: milliseconds(took),
            error: outcome.err(),
            failure_allowed: false,
        }
    }
}

/// The result for one plugin and its modules.
#[derive(Clone, Debug, Serialize)]
pub struct PluginResult {
    /// The plugin's id.
    pub plugin_id: PluginId,
    /// What happened to the plugin itself.
    pub status: FeatureStatus,
    /// How long the plugin's own initialization took.
    pub duration_ms: f64,
    /// Why it failed or was skipped.
    pub error: Option<String>,
    /// Whether the failure policy lets it fail without aborting.
    pub failure_allowed: bool,
    /// Its modules, in the order they ran.
    pub modules: Vec<ModuleResult>,
}

impl PluginResult {
    pub(super) fn skipped(plugin_id: &PluginId, reason: String) -> Self {
        Self {
            plugin_id: plugin_id.clone(),
            status: FeatureStatus::Skipped,
            duration_ms: 0.0,
            error: Some(reason),
            failure_allowed: false,
            modules: Vec::new(),
        }
    }

    pub(super) fn finished(
        plugin_id: &PluginId,
        outcome: Result<(), String>,
        took: Duration,
        modules: Vec<ModuleResult>,
    ) -> Self {
        Self {
            plugin_id: plugin_id.clone(),
            status: if outcome.is_ok() {
                FeatureStatus::Started
            } else {
                FeatureStatus::Failed
            },
            duration_ms: milliseconds(took),
            error: outcome.err(),
            failure_allowed: false,
            modules,
        }
    }

    /// Whether this plugin or one of its modules failed in a way the policy
    /// does not allow.
    pub fn aborts(&self) -> bool {
        let plugin_aborts = self.status != FeatureStatus::Started && !self.failure_allowed;
        let module_aborts = self
            .modules
            .iter()
            .any(|module| module.status != FeatureStatus::Started && !module.failure_allowed);
        plugin_aborts || module_aborts
    }
}

/// What happened to every plugin and module at startup.
#[derive(Clone, Debug, Serialize)]
pub struct StartupReport {
    /// Whether the start succeeded under the failure policy.
    pub ok: bool,
    /// How long initialization took in all.
    pub duration_ms: f64,
    /// Every plugin, by id.
    pub plugins: Vec<PluginResult>,
}

impl StartupReport {
    pub(super) fn new(plugins: Vec<PluginResult>, took: Duration) -> Self {
        Self {
            ok: !plugins.iter().any(PluginResult::aborts),
            duration_ms: milliseconds(took),
            plugins,
        }
    }

    /// The plugin's result, if it was part of the start.
    pub fn plugin(&self, id: &str) -> Option<&PluginResult> {
        self.plugins
            .iter()
            .find(|plugin| plugin.plugin_id.as_str() == id)
    }

    /// Logs one line per plugin and module, failures at error level.
    pub fn log(&self) {
        for plugin in &self.plugins {
            for module in &plugin.modules {
                log_one(
                    &format!("module `{}/{}`", plugin.plugin_id, module.module_id),
                    module.status,
                    module.duration_ms,
                    module.error.as_deref(),
                );
            }
            log_one(
                &format!("plugin `{}`", plugin.plugin_id),
                plugin.status,
                plugin.duration_ms,
                plugin.error.as_deref(),
            );
        }
        tracing::info!(
            ok = self.ok,
            duration_ms = self.duration_ms,
            "initialization finished"
        );
    }
}

fn log_one(what: &str, status: FeatureStatus, duration_ms: f64, error: Option<&str>) {
    match (status, error) {
        (FeatureStatus::Started, _) => tracing::info!(duration_ms, "{what} started"),
        (_, Some(error)) => tracing::error!(duration_ms, "{what} did not start: {error}"),
        (_, None) => tracing::error!(duration_ms, "{what} did not start"),
    }
}

/// `took` in milliseconds, to the microsecond.
fn milliseconds(took: std::time::Duration) -> f64 {
    (took.as_secs_f64() * 1e6).round() / 1e3
}
