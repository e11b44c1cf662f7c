//! What to do when a plugin or module fails to start, under Backstage's key
//! names so that Backstage users find them where they expect:
//!
//! ```yaml
//! backend:
//!   startup:
//!     default:
//!       onPluginBootFailure: abort          # or continue; abort by default
//!       onPluginModuleBootFailure: abort    # or continue; abort by default
//!     plugins:
//!       catalog:
//!         onPluginBootFailure: continue     # this plugin only
//!         modules:
//!           github:
//!             onPluginModuleBootFailure: continue
//! ```
//!
//! A plugin's own setting wins over the default; a module's own setting wins
//! over the module default (not over its plugin's setting).

use std::{collections::BTreeMap, fmt};

use super::{
    access::Config,
    error::{ConfigError, ConfigErrors},
    tree::Value,
};

/// What the host does when a plugin or module fails to start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BootFailure {
    /// Let the others finish starting, then fail the start.
    #[default]
    Abort,
    /// Log the failure, mark the plugin or module failed, and go on.
    Continue,
}

impl fmt::Display for BootFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Abort => "abort",
            Self::Continue => "continue",
        })
    }
}

/// The startup failure policy read from `backend.startup`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartupPolicy {
    plugin_default: BootFailure,
    module_default: BootFailure,
    plugins: BTreeMap<String, PluginPolicy>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct PluginPolicy {
    on_failure: Option<BootFailure>,
    modules: BTreeMap<String, BootFailure>,
}

impl StartupPolicy {
    /// Reads the policy from `config`; absent keys mean `abort`.
    ///
    /// # Errors
    ///
    /// Returns every bad value (anything but `abort` or `continue`, or a
    /// section that is not a mapping), each naming its key, file and line.
    pub fn from_config(config: &Config) -> Result<Self, ConfigErrors> {
        let errors = &mut Vec::new();
        let mut policy = Self {
            plugin_default: read(
                config,
                "backend.startup.default.onPluginBootFailure",
                errors,
            )
            .unwrap_or_default(),
            module_default: read(
                config,
                "backend.startup.default.onPluginModuleBootFailure",
                errors,
            )
            .unwrap_or_default(),
            plugins: BTreeMap::new(),
        };
        for (plugin_id, plugin) in sections(config, "backend.startup.plugins", errors) {
            let mut plugin_policy = PluginPolicy {
                on_failure: read(&plugin, "onPluginBootFailure", errors),
                modules: BTreeMap::new(),
            };
            for (module_id, module) in sections(&plugin, "modules", errors) {
                if let Some(failure) = read(&module, "onPluginModuleBootFailure", errors) {
                    plugin_policy.modules.insert(module_id, failure);
                }
            }
            policy.plugins.insert(plugin_id, plugin_policy);
        }
        if errors.is_empty() {
            Ok(policy)
        } else {
            Err(ConfigErrors(std::mem::take(errors)))
        }
    }

    /// What to do when the plugin `plugin_id` fails to start.
    pub fn for_plugin(&self, plugin_id: &str) -> BootFailure {
        self.plugins
            .get(plugin_id)
            .and_then(|plugin| plugin.on_failure)
            .unwrap_or(self.plugin_default)
    }

    /// What to do when the module `module_id` of the plugin `plugin_id`
    /// fails to start.
    pub fn for_module(&self, plugin_id: &str, module_id: &str) -> BootFailure {
        self.plugins
            .get(plugin_id)
            .and_then(|plugin| plugin.modules.get(module_id).copied())
            .unwrap_or(self.module_default)
    }
}

/// The policy at `key`, `None` when it is not set or bad (the error is
/// added to `errors`).
fn read(config: &Config, key: &str, errors: &mut Vec<ConfigError>) -> Option<BootFailure> {
    failure_at(config, key).unwrap_or_else(|error| {
        errors.push(error);
        None
    })
}

/// The policy at `key`, `None` when it is not set.
fn failure_at(config: &Config, key: &str) -> Result<Option<BootFailure>, ConfigError> {
    let Some((node, path)) = config.lookup(key)? else {
        return Ok(None);
    };
    match &node.value {
        Value::String(text) if text == "abort" => Ok(Some(BootFailure::Abort)),
        Value::String(text) if text == "continue" => Ok(Some(BootFailure::Continue)),
        _ => Err(ConfigError::Invalid {
            origin: node.origin.clone(),
            key: path.to_string(),
            reason: format!("expected `abort` or `continue`, found {}", node.describe()),
        }),
    }
}

/// Every section under the mapping at `key`, by name.
fn sections(config: &Config, key: &str, errors: &mut Vec<ConfigError>) -> Vec<(String, Config)> {
    let parent = match config.optional_section(key) {
        Ok(Some(parent)) => parent,
        Ok(None) => return Vec::new(),
        Err(error) => {
            errors.push(error);
            return Vec::new();
        }
    };
    let mut found = Vec::new();
    for name in parent.keys() {
        match parent.section(name) {
            Ok(section) => found.push((name.to_string(), section)),
            Err(error) => errors.push(error),
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::yaml::parse;

    fn policy(text: &str) -> Result<StartupPolicy, ConfigErrors> {
        let node = parse(text, "app-config.yaml".into()).expect("valid YAML");
        StartupPolicy::from_config(&Config::from_root(node))
    }

    #[test]
    fn everything_aborts_by_default() {
        let policy = policy("{}\n").expect("valid");
        assert_eq!(policy.for_plugin("catalog"), BootFailure::Abort);
        assert_eq!(policy.for_module("catalog", "github"), BootFailure::Abort);
    }

    #[test]
    fn own_settings_win_over_defaults() {
        let policy = policy(
            "backend:\n  startup:\n    default:\n      onPluginBootFailure: continue\n\
             \x20     onPluginModuleBootFailure: continue\n    plugins:\n      catalog:\n\
             \x20       onPluginBootFailure: abort\n        modules:\n          github:\n\
             \x20           onPluginModuleBootFailure: abort\n",
        )
        .expect("valid");
        assert_eq!(policy.for_plugin("catalog"), BootFailure::Abort);
        assert_eq!(policy.for_plugin("search"), BootFailure::Continue);
        assert_eq!(policy.for_module("catalog", "github"), BootFailure::Abort);
        assert_eq!(
            policy.for_module("catalog", "gitlab"),
            BootFailure::Continue
        );
    }

    #[test]
    fn a_module_falls_back_to_the_module_default_not_its_plugin() {
        let policy = policy(
            "backend:\n  startup:\n    plugins:\n      catalog:\n        \
             onPluginBootFailure: continue\n",
        )
        .expect("valid");
        assert_eq!(policy.for_plugin("catalog"), BootFailure::Continue);
        assert_eq!(policy.for_module("catalog", "github"), BootFailure::Abort);
    }

    #[test]
    fn bad_values_are_all_reported_with_key_file_and_line() {
        let errors = policy(
            "backend:\n  startup:\n    default:\n      onPluginBootFailure: stop\n    plugins:\n\
             \x20     catalog:\n        modules:\n          github:\n\
             \x20           onPluginModuleBootFailure: 1\n      search: yes\n",
        )
        .expect_err("bad values");
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "app-config.yaml:4: backend.startup.default.onPluginBootFailure: expected `abort` \
                 or `continue`, found string \"stop\"",
                "app-config.yaml:10: backend.startup.plugins.search: expected object, found \
                 string \"yes\"",
                "app-config.yaml:9: backend.startup.plugins.catalog.modules.github.\
                 onPluginModuleBootFailure: expected `abort` or `continue`, found number 1",
            ]
        );
    }
}
