//! The work behind `greenroom config check` and `greenroom config print`,
//! kept in the library so that the command line stays thin.

use camino::{Utf8Path, Utf8PathBuf};
use serde_json::Value as Json;

use super::{
    access::Config,
    error::ConfigError,
    host::{HOST_KEY, host_schema},
    schema::{check_host, check_plugins, check_unclaimed_keys},
    secret::mark_schema_secrets,
    selection::PluginSelection,
    settings::HostSettings,
};
use crate::backend::{Backend, BackendError};

/// The key naming the plugins directory.
pub const PLUGINS_DIR_KEY: &str = "backend.plugins.dir";

/// The plugins found in a plugins directory, with their configuration
/// schemas.
#[derive(Clone, Debug, Default)]
pub struct PluginSchemas {
    /// Each plugin's id and schema (`None` when it declares none), in load
    /// order.
    pub plugins: Vec<(String, Option<Json>)>,
    /// Libraries that were refused, whose plugins' schemas are unknown: one
    /// status line each (`refused FILE: reason`).
    pub refused: Vec<String>,
}

impl PluginSchemas {
    /// No plugins at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// Loads the libraries in `dir` (running each library's registration
    /// code, not its plugins) and collects every plugin's schema.
    ///
    /// # Errors
    ///
    /// Returns an error when the directory cannot be read.
    pub fn from_dir(dir: &Utf8Path) -> Result<Self, BackendError> {
        let backend = Backend::new().plugins_dir(dir).load()?;
        let plugins = backend
            .libraries()
            .iter()
            .flat_map(|library| &library.features.plugins)
            .map(|plugin| (plugin.id.to_string(), plugin.config_schema.clone()))
            .collect();
        let refused = backend
            .reports()
            .iter()
            .filter(|report| report.is_refused())
            .map(|report| report.status_line())
            .collect();
        Ok(Self { plugins, refused })
    }

    /// The plugins that declare a schema.
    fn with_schemas(&self) -> impl Iterator<Item = (&str, &Json)> {
        self.plugins
            .iter()
            .filter_map(|(id, schema)| Some((id.as_str(), schema.as_ref()?)))
    }
}

/// The plugins directory to read: `explicit` when given, else
/// `backend.plugins.dir`, else `plugins` when it exists (`None` when it
/// does not).
///
/// # Errors
///
/// Returns an error when `backend.plugins.dir` is not a string.
pub fn plugins_dir(
    config: &Config,
    explicit: Option<Utf8PathBuf>,
) -> Result<Option<Utf8PathBuf>, ConfigError> {
    if explicit.is_some() {
        return Ok(explicit);
    }
    if let Some(dir) = config.optional_string(PLUGINS_DIR_KEY)? {
        return Ok(Some(dir.into()));
    }
    let default = Utf8PathBuf::from("plugins");
    Ok(default.is_dir().then_some(default))
}

/// What `config check` found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// One line per finding: `error: ...`, `warning: ...` or `note: ...`.
    pub lines: Vec<String>,
    /// How many findings stop the host from starting.
    pub errors: usize,
    /// How many findings do not.
    pub warnings: usize,
}

impl CheckReport {
    /// Whether anything would stop the host from starting.
    pub fn failed(&self) -> bool {
        self.errors > 0
    }

    /// The findings, one a line, then a summary line.
    pub fn render(&self) -> String {
        let mut text: String = self.lines.iter().map(|line| format!("{line}\n")).collect();
        let summary = if self.errors + self.warnings == 0 {
            "configuration ok".to_string()
        } else {
            let count = |number: usize, word: &str| {
                format!("{number} {word}{}", if number == 1 { "" } else { "s" })
            };
            format!(
                "{}, {}",
                count(self.errors, "error"),
                count(self.warnings, "warning")
            )
        };
        text.push_str(&summary);
        text.push('\n');
        text
    }

    fn finding(&mut self, is_error: bool, text: String) {
        if is_error {
            self.errors += 1;
            self.lines.push(format!("error: {text}"));
        } else {
            self.warnings += 1;
            self.lines.push(format!("warning: {text}"));
        }
    }
}

/// Checks `config`: the host's keys, each selected plugin's slice against
/// its schema, and top-level keys nobody claims. Unknown keys are errors
/// when `strict`.
pub fn check_config(config: &Config, plugins: &PluginSchemas, strict: bool) -> CheckReport {
    let mut report = CheckReport::default();
    let host_problems = check_host(config);
    let reported: Vec<String> = host_problems
        .iter()
        .map(|problem| problem.key.clone())
        .collect();
    for problem in host_problems {
        report.finding(problem.is_error(strict), problem.to_string());
    }
    let selection = PluginSelection::from_config(config).unwrap_or_else(|_| PluginSelection::all());
    // The settings' errors include the selection's; one about a key the
    // schema already faulted would say the same thing again.
    if let Err(errors) = HostSettings::from_config(config) {
        for error in errors.iter() {
            let text = error.to_string();
            if !reported.iter().any(|key| names_key(&text, key)) {
                report.finding(true, text);
            }
        }
    }

    let checked: Vec<(&str, &Json)> = plugins
        .with_schemas()
        .filter(|(id, _)| note_excluded(&selection, id, &mut report))
        .collect();
    for problem in check_plugins(config, &checked) {
        report.finding(problem.is_error(strict), problem.to_string());
    }
    let claimed: Vec<&str> = plugins.plugins.iter().map(|(id, _)| id.as_str()).collect();
    for problem in check_unclaimed_keys(config, &claimed) {
        report.finding(problem.is_error(strict), problem.to_string());
    }
    note_unchecked(config, plugins, &mut report);
    report
}

/// Whether an error's text (`file:line: key: reason` or `key: reason`) is
/// about `key`.
fn names_key(text: &str, key: &str) -> bool {
    let prefix = format!("{key}:");
    text.starts_with(&prefix) || text.contains(&format!(" {prefix}"))
}

/// `config` as YAML with every secret hidden, including values the host's
/// or a plugin's schema marks secret.
pub fn print_config(config: &Config, plugins: &PluginSchemas) -> String {
    let host = host_schema();
    let mut schemas: Vec<(&str, &Json)> = vec![(HOST_KEY, &host)];
    schemas.extend(plugins.with_schemas());
    let mut config = config.clone();
    mark_schema_secrets(&mut config, &schemas);
    config.to_redacted_yaml()
}

/// Whether the plugin is selected; notes it in `report` when it is not.
fn note_excluded(selection: &PluginSelection, id: &str, report: &mut CheckReport) -> bool {
    match selection.allows(id) {
        Ok(()) => true,
        Err(reason) => {
            report
                .lines
                .push(format!("note: not checking `{id}`: {reason}"));
            false
        }
    }
}

/// Notes plugins that have configuration but no schema, and refused
/// libraries.
fn note_unchecked(config: &Config, plugins: &PluginSchemas, report: &mut CheckReport) {
    for (id, schema) in &plugins.plugins {
        if schema.is_none() && config.has(id) {
            report.lines.push(format!(
                "note: plugin `{id}` declares no configuration schema, so `{id}` is not checked"
            ));
        }
    }
    for refused in &plugins.refused {
        report.lines.push(format!(
            "note: {refused}; its plugins' configuration is not checked (see greenroom check)"
        ));
    }
}
