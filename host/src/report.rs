//! What happened to each library file, for people and for scripts.

use std::fmt::Write as _;

use camino::Utf8PathBuf;
use serde::{Deserialize, Serialize};

use crate::register::Features;

/// The stage of a library's life at which it was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Finding files in the plugins directory.
    Discover,
    /// Checking the file before loading it.
    Check,
    /// Copying and opening the library.
    Load,
    /// Asking the library what it provides.
    Register,
}

/// What became of one library.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Status {
    /// Loaded and registered.
    Ok,
    /// Refused, with the stage and the reason.
    Refused {
        /// Where it was refused.
        stage: Stage,
        /// Why, in one line (a layout refusal adds a short summary).
        reason: String,
    },
    /// Not loaded because the configuration does not select its plugins
    /// (`backend.plugins.include` / `exclude`); none of its code ran.
    Excluded {
        /// Which list and entry decided it, and where it was written.
        reason: String,
    },
}

/// The report on one library file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LibraryReport {
    /// The file, or the name of a statically linked library.
    pub file: Utf8PathBuf,
    /// The SHA-256 of the checked and loaded bytes.
    pub sha256: Option<String>,
    /// The library's name from its declaration.
    pub library: Option<String>,
    /// The interface version it was built against.
    pub interface: Option<String>,
    /// The SDK version it was built with.
    pub sdk: Option<String>,
    /// Capabilities of the current interface this library lacks.
    #[serde(default)]
    pub missing_capabilities: Vec<String>,
    /// What became of it.
    #[serde(flatten)]
    pub status: Status,
    /// What it provides, once registered.
    pub features: Option<Features>,
}

impl LibraryReport {
    /// A report for a file refused before anything was known about it.
    pub fn refused(file: Utf8PathBuf, stage: Stage, reason: String) -> Self {
        Self {
            file,
            sha256: None,
            library: None,
            interface: None,
            sdk: None,
            missing_capabilities: Vec::new(),
            status: Status::Refused { stage, reason },
            features: None,
        }
    }

    /// Whether the library was refused.
    pub fn is_refused(&self) -> bool {
        matches!(self.status, Status::Refused { .. })
    }

    /// Whether the configuration left the library out.
    pub fn is_excluded(&self) -> bool {
        matches!(self.status, Status::Excluded { .. })
    }

    /// The one-line (or, for layout refusals, few-line) status for people.
    pub fn status_line(&self) -> String {
        let file = printable(self.file.as_str());
        match &self.status {
            Status::Ok => format!("ok      {file}"),
            Status::Refused { reason, .. } => format!("refused {file}: {reason}"),
            Status::Excluded { reason } => format!("excluded {file}: {reason}"),
        }
    }
}

/// Text from a file name or a declaration, with control characters escaped
/// so that it cannot forge lines or colours in a report or a log.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

/// Renders reports as a table a person can read.
pub fn render_table(reports: &[LibraryReport]) -> String {
    let mut out = String::new();
    for report in reports {
        let _ = writeln!(out, "{}", report.status_line());
        let facts: Vec<String> = [
            report
                .library
                .as_ref()
                .map(|name| format!("library {}", printable(name))),
            report
                .interface
                .as_ref()
                .map(|version| format!("interface {version}")),
            report.sdk.as_ref().map(|version| format!("sdk {version}")),
            report.sha256.as_ref().map(|hash| format!("sha256 {hash}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !facts.is_empty() {
            let _ = writeln!(out, "        {}", facts.join(", "));
        }
        for capability in &report.missing_capabilities {
            let _ = writeln!(
                out,
                "        missing capability: {capability} (built against an older interface; not called)"
            );
        }
        if let Some(features) = &report.features {
            render_features(&mut out, features);
        }
    }
    out
}

fn render_features(out: &mut String, features: &Features) {
    let plugins = features.plugins.iter().map(|plugin| {
        (
            format!("plugin {} {}", plugin.id, plugin.version),
            &plugin.features,
        )
    });
    let modules = features.modules.iter().map(|module| {
        (
            format!("module {}/{}", module.plugin_id, module.module_id),
            &module.features,
        )
    });
    for (name, set) in plugins.chain(modules) {
        let _ = writeln!(out, "        {name}");
        for point in &set.extension_points {
            let _ = writeln!(
                out,
                "          provides extension point {} {}",
                point.id, point.version
            );
        }
        for service in &set.services {
            let _ = writeln!(
                out,
                "          provides {} service {} {}",
                service.scope, service.id, service.version
            );
        }
        for dependency in &set.dependencies {
            let optional = if dependency.optional {
                " (optional)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "          needs {} {} {}{optional}",
                dependency.kind, dependency.id, dependency.version_req
            );
        }
    }
}

/// Renders the initialization plan: waves of plugins, each with its
/// modules, and who provides each service and extension point.
pub fn render_plan(plan: &crate::resolve::Plan) -> String {
    let mut out = String::from("\ninitialization plan (plugins in one wave start in parallel):\n");
    for (index, wave) in plan.waves.iter().enumerate() {
        let _ = writeln!(out, "  wave {}:", index + 1);
        for id in wave {
            let plugin = &plan.plugins[id];
            let modules: Vec<String> = plugin
                .module_waves
                .iter()
                .map(|wave| {
                    wave.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" + ")
                })
                .collect();
            let after: Vec<String> = plugin.after.iter().map(ToString::to_string).collect();
            let _ = write!(out, "    {id} {}", plugin.version);
            if !modules.is_empty() {
                let _ = write!(out, ", modules first: {}", modules.join(" then "));
            }
            if !after.is_empty() {
                let _ = write!(out, ", after {}", after.join(", "));
            }
            out.push('\n');
        }
    }
    out.push_str("providers:\n");
    for (what, provider) in &plan.providers {
        let _ = writeln!(out, "  {what}: {provider}");
    }
    for warning in &plan.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_forge_lines() {
        let report = LibraryReport::refused(
            "/p/x\nok      trusted.so\u{1b}[31m.so".into(),
            Stage::Check,
            "empty".to_string(),
        );
        assert_eq!(
            report.status_line(),
            "refused /p/x\\nok      trusted.so\\u{1b}[31m.so: empty"
        );
    }
}
