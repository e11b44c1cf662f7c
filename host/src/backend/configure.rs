//! The configuration a backend runs with: checked against the host's schema
//! and every loaded plugin's after registration, before anything
//! initializes, and cut into one slice per plugin.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::Library;
use crate::{
    config::{
        BootFailure, Config, ConfigProblem, HOST_KEY, HostSettings, PluginSelection, PluginSlice,
        StartupPolicy, check_host, check_plugins, check_unclaimed_keys, host_schema,
        mark_schema_secrets,
    },
    initialize::FailurePolicy,
    resolve::Node,
};

/// Every loaded plugin's id and configuration schema, in load order.
pub(crate) fn schemas(libraries: &[Library]) -> Vec<(String, Option<Json>)> {
    libraries
        .iter()
        .flat_map(|library| &library.features.plugins)
        .map(|plugin| (plugin.id.to_string(), plugin.config_schema.clone()))
        .collect()
}

/// A configuration checked against the schemas of the plugins that run.
pub(crate) struct CheckedConfig {
    /// The configuration, with every value a schema marks secret marked.
    pub(crate) config: Config,
    /// Every problem, errors and warnings alike.
    pub(crate) problems: Vec<ConfigProblem>,
}

impl CheckedConfig {
    /// The problems that refuse the configuration (unknown keys too when
    /// `strict`), one line each; the others are logged as warnings.
    pub(crate) fn errors(&self, strict: bool) -> Vec<String> {
        let mut errors = Vec::new();
        for problem in &self.problems {
            if problem.is_error(strict) {
                errors.push(problem.to_string());
            } else {
                tracing::warn!("{problem}");
            }
        }
        errors
    }
}

/// Checks `config`: the host's keys and settings, each plugin's slice
/// against its schema, and top-level keys that belong to no plugin. Keys of
/// plugins the selection leaves out are not unknown, just unchecked.
pub(crate) fn check(
    config: &Config,
    schemas: &[(String, Option<Json>)],
    selection: &PluginSelection,
) -> CheckedConfig {
    let with_schemas: Vec<(&str, &Json)> = schemas
        .iter()
        .filter_map(|(id, schema)| Some((id.as_str(), schema.as_ref()?)))
        .collect();
    let mut problems = check_host(config);
    problems.extend(check_plugins(config, &with_schemas));
    let excluded: Vec<&str> = config
        .keys()
        .into_iter()
        .filter(|key| selection.allows(key).is_err())
        .collect();
    let claimed: Vec<&str> = schemas
        .iter()
        .map(|(id, _)| id.as_str())
        .chain(excluded)
        .collect();
    problems.extend(check_unclaimed_keys(config, &claimed));

    let host = host_schema();
    let mut marked = config.clone();
    let mut all = vec![(HOST_KEY, &host)];
    all.extend(with_schemas);
    mark_schema_secrets(&mut marked, &all);
    CheckedConfig {
        config: marked,
        problems,
    }
}

/// Re-reads the host's settings from a changed configuration, to refuse a
/// change the host could not start with.
///
/// # Errors
///
/// Returns each bad value, one line each.
pub(crate) fn settings_problems(config: &Config) -> Result<(), Vec<String>> {
    HostSettings::from_config(config)
        .map(drop)
        .map_err(|errors| errors.iter().map(ToString::to_string).collect())
}

/// Each plugin's slice of `config`, with the slices the embedder gave
/// (`overrides`) winning.
pub(crate) fn slices(
    config: Option<&Config>,
    schemas: &[(String, Option<Json>)],
    overrides: &BTreeMap<String, Json>,
) -> BTreeMap<String, PluginSlice> {
    let mut slices: BTreeMap<String, PluginSlice> = match config {
        Some(config) => schemas
            .iter()
            .map(|(id, _)| (id.clone(), config.plugin_slice(id)))
            .collect(),
        None => BTreeMap::new(),
    };
    for (id, value) in overrides {
        slices.insert(id.clone(), PluginSlice::from_json(value.clone()));
    }
    slices
}

/// The failure policy that `backend.startup` describes.
pub(crate) fn failure_policy(policy: StartupPolicy) -> FailurePolicy {
    std::sync::Arc::new(move |node: &Node| {
        let decided = match node {
            Node::Plugin(plugin) => policy.for_plugin(plugin.as_str()),
            Node::Module(plugin, module) => policy.for_module(plugin.as_str(), module.as_str()),
        };
        decided == BootFailure::Continue
    })
}
