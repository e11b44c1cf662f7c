//! A plugin's slice of the configuration as the host hands it over: the
//! value as JSON, and where each value inside it came from.

use serde_json::Value as Json;

use super::{
    access::Config,
    key::KeyPath,
    tree::{Node, Value},
};

/// The value under one plugin's id, with the origin of everything in it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PluginSlice {
    /// The value, `null` when the plugin has no configuration.
    pub value: Json,
    /// The slice and every value inside it, outermost first.
    pub origins: Vec<ValueOrigin>,
}

/// Where one value of a slice came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueOrigin {
    /// The key relative to the slice, such as `refresh.interval` or
    /// `targets[1].url`; empty for the slice itself.
    pub key: String,
    /// The file and line (`app-config.yaml:12`) or the variable.
    pub origin: String,
    /// Whether the value must never be shown.
    pub secret: bool,
}

impl PluginSlice {
    /// A slice given as plain JSON, without origins.
    pub fn from_json(value: Json) -> Self {
        Self {
            value,
            origins: Vec::new(),
        }
    }
}

impl Config {
    /// The slice under the top-level key `id`.
    pub fn plugin_slice(&self, id: &str) -> PluginSlice {
        let Some(node) = self.node().get(id) else {
            return PluginSlice::default();
        };
        let mut origins = Vec::new();
        collect(node, &KeyPath::default(), &mut origins);
        PluginSlice {
            value: node.to_json(),
            origins,
        }
    }
}

fn collect(node: &Node, path: &KeyPath, origins: &mut Vec<ValueOrigin>) {
    let key = if path.segments().is_empty() {
        String::new()
    } else {
        path.to_string()
    };
    origins.push(ValueOrigin {
        key,
        origin: node.origin.to_string(),
        secret: node.secret,
    });
    match &node.value {
        Value::Map(entries) => {
            for (name, child) in entries {
                collect(child, &path.child(name), origins);
            }
        }
        Value::List(items) => {
            for (index, item) in items.iter().enumerate() {
                collect(item, &path.item(index), origins);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::yaml::parse;

    #[test]
    fn every_value_of_a_slice_has_its_relative_key_and_origin() {
        let node = parse(
            "catalog:\n  refresh:\n    interval: 5\n  targets:\n    - a\n",
            "app-config.yaml".into(),
        )
        .expect("valid YAML");
        let slice = Config::from_root(node).plugin_slice("catalog");
        assert_eq!(
            slice.value,
            serde_json::json!({"refresh": {"interval": 5}, "targets": ["a"]})
        );
        let keys: Vec<(&str, &str)> = slice
            .origins
            .iter()
            .map(|origin| (origin.key.as_str(), origin.origin.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("", "app-config.yaml:1"),
                ("refresh", "app-config.yaml:2"),
                ("refresh.interval", "app-config.yaml:3"),
                ("targets", "app-config.yaml:4"),
                ("targets[0]", "app-config.yaml:5"),
            ]
        );
    }

    #[test]
    fn an_unconfigured_plugin_gets_null() {
        let slice = Config::empty().plugin_slice("catalog");
        assert_eq!(slice, PluginSlice::default());
    }
}
