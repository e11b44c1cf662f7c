//! Single keys set from the environment, such as
//! `GREENROOM_CONFIG_backend_listen_port=8080`.
//!
//! The rule: after the prefix [`OVERRIDE_PREFIX`] comes the key path, one
//! `_` between keys, each key in its exact case. So camelCase keys are
//! written as they are:
//! `GREENROOM_CONFIG_backend_startup_default_onPluginBootFailure=continue`.
//! A doubled `__` stands for an underscore inside a key:
//! `GREENROOM_CONFIG_my__key_enabled=true` sets `my_key.enabled`. (Keys
//! with a dash, such as plugin ids, cannot be exported from most shells;
//! set them with `env 'GREENROOM_CONFIG_my-plugin_enabled=true' greenroom`.)
//!
//! The value is parsed as JSON (`8080`, `true`, `["a"]`, `null` to remove
//! the key) and taken as a string when it is not JSON. Overrides apply after
//! every file, in the order of the variables' names. Every value set this
//! way is secret: it is never shown in messages or printed configuration.
//! The keys and the value together nest at most [`MAX_DEPTH`] levels deep,
//! as in files.

use std::collections::BTreeMap;

use super::{
    error::ConfigError,
    key::{KeyPath, Segment},
    tree::{MAX_DEPTH, Node, Origin, Value},
};

/// The prefix of environment variables that set one configuration key.
pub const OVERRIDE_PREFIX: &str = "GREENROOM_CONFIG_";

/// One layer per override variable in `env`, in name order, and the errors
/// of variables that name no key.
pub(crate) fn overrides(env: &BTreeMap<String, String>) -> (Vec<Node>, Vec<ConfigError>) {
    let mut layers = Vec::new();
    let mut errors = Vec::new();
    for (variable, text) in env {
        let Some(suffix) = variable.strip_prefix(OVERRIDE_PREFIX) else {
            continue;
        };
        let keys = key_of(suffix).map_err(str::to_string);
        match keys.and_then(|keys| layer(variable, &keys, text)) {
            Ok(layer) => layers.push(layer),
            Err(reason) => errors.push(ConfigError::Override {
                variable: variable.clone(),
                reason,
            }),
        }
    }
    (layers, errors)
}

/// The keys named by the part of a variable after the prefix.
fn key_of(suffix: &str) -> Result<Vec<String>, &'static str> {
    let mut keys = Vec::new();
    let mut current = String::new();
    let mut chars = suffix.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            current.push(c);
        } else if chars.next_if_eq(&'_').is_some() {
            current.push('_');
        } else {
            keys.push(std::mem::take(&mut current));
        }
    }
    keys.push(current);
    if keys.iter().any(String::is_empty) {
        return Err(
            "names an empty key; write keys separated by one `_`, such as \
                    GREENROOM_CONFIG_backend_listen_port (`__` is an underscore inside a key)",
        );
    }
    Ok(keys)
}

/// A tree holding only `keys` set to the parsed `text`, all secret; an
/// error when it would nest past [`MAX_DEPTH`].
fn layer(variable: &str, keys: &[String], text: &str) -> Result<Node, String> {
    let origin = Origin::variable(variable);
    let json = match serde_json::from_str(text) {
        Ok(json) => json,
        // A list or mapping written wrongly would otherwise become a string
        // and fail later as the wrong type, the real reason lost.
        Err(error) if text.trim_start().starts_with(['[', '{']) => {
            return Err(format!(
                "holds a list or mapping that is not valid JSON ({error}); fix it, or write a \
                 JSON string (\"...\") if a string is meant"
            ));
        }
        Err(_) => serde_json::Value::String(text.to_string()),
    };
    let depth = keys.len().saturating_add(json_depth(&json));
    if depth > MAX_DEPTH {
        return Err(format!(
            "its keys and value nest {depth} levels deep, more than the {MAX_DEPTH} the \
             configuration may; use fewer keys or a flatter value"
        ));
    }
    let mut node = Node::from_json(&json, &origin).into_secret();
    for key in keys.iter().rev() {
        node = Node::new(Value::Map(vec![(key.clone(), node)]), origin.clone());
    }
    Ok(node)
}

/// How many arrays and objects nest inside one another in `json`, found
/// without recursion.
fn json_depth(json: &serde_json::Value) -> usize {
    let mut deepest = 0;
    let mut open = vec![(json, 0)];
    while let Some((value, above)) = open.pop() {
        let children: Vec<&serde_json::Value> = match value {
            serde_json::Value::Array(items) => items.iter().collect(),
            serde_json::Value::Object(entries) => entries.values().collect(),
            _ => continue,
        };
        deepest = deepest.max(above + 1);
        open.extend(children.into_iter().map(|child| (child, above + 1)));
    }
    deepest
}

/// The variable that would set `path`, for messages about missing keys.
pub(crate) fn variable_for(path: &KeyPath) -> String {
    let keys: Vec<String> = path
        .segments()
        .iter()
        .map(|segment| match segment {
            Segment::Key(key) => key.replace('_', "__"),
            Segment::Index(index) => index.to_string(),
        })
        .collect();
    format!("{OVERRIDE_PREFIX}{}", keys.join("_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn keys_split_on_single_underscores_in_exact_case() {
        assert_eq!(
            key_of("backend_startup_default_onPluginBootFailure"),
            Ok(vec![
                "backend".to_string(),
                "startup".to_string(),
                "default".to_string(),
                "onPluginBootFailure".to_string()
            ])
        );
    }

    #[test]
    fn double_underscores_are_underscores_inside_a_key() {
        assert_eq!(
            key_of("my__key_enabled"),
            Ok(vec!["my_key".to_string(), "enabled".to_string()])
        );
    }

    #[test]
    fn a_list_written_wrongly_is_named_not_taken_for_a_string() {
        let (layers, errors) = overrides(&env(&[
            (
                "GREENROOM_CONFIG_catalog_locations",
                "[{\"type\": \"file\",",
            ),
            ("GREENROOM_CONFIG_greeting", "hello [world]"),
        ]));

        assert_eq!(layers.len(), 1, "the plain string is taken");
        assert_eq!(
            errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "environment variable GREENROOM_CONFIG_catalog_locations: holds a list or mapping \
              that is not valid JSON (EOF while parsing a value at line 1 column 17); fix it, \
              or write a JSON string (\"...\") if a string is meant"
            ]
        );
    }

    #[test]
    fn empty_keys_are_refused() {
        let (layers, errors) = overrides(&env(&[
            ("GREENROOM_CONFIG_", "1"),
            ("GREENROOM_CONFIG_a_", "1"),
        ]));
        assert!(layers.is_empty());
        assert_eq!(errors.len(), 2);
        assert!(
            errors[0]
                .to_string()
                .starts_with("environment variable GREENROOM_CONFIG_: names an empty key")
        );
    }

    #[test]
    fn values_are_json_or_else_strings_and_secret() {
        let (layers, _) = overrides(&env(&[
            ("GREENROOM_CONFIG_a_port", "8080"),
            ("GREENROOM_CONFIG_b", "not json"),
            ("OTHER", "ignored"),
        ]));
        assert_eq!(layers.len(), 2);
        assert_eq!(
            layers[0].to_json(),
            serde_json::json!({"a": {"port": 8080}})
        );
        assert_eq!(layers[1].to_json(), serde_json::json!({"b": "not json"}));
        let port = layers[0]
            .get("a")
            .and_then(|a| a.get("port"))
            .expect("port");
        assert!(port.secret);
        assert_eq!(
            port.origin.to_string(),
            "environment variable GREENROOM_CONFIG_a_port"
        );
    }

    #[test]
    fn overrides_nesting_too_deeply_are_refused() {
        let deep = format!("GREENROOM_CONFIG_{}", vec!["k"; 100_000].join("_"));
        let value = format!("{}1{}", "[".repeat(20), "]".repeat(20));
        let (layers, errors) = overrides(&env(&[
            (&deep, "1"),
            ("GREENROOM_CONFIG_a_b", &value),
            ("GREENROOM_CONFIG_c", "{\"d\": [1]}"),
        ]));
        assert_eq!(layers.len(), 2);
        assert_eq!(layers[1].to_json(), serde_json::json!({"c": {"d": [1]}}));
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [format!(
                "environment variable {deep}: its keys and value nest 100000 levels deep, more \
                 than the 128 the configuration may; use fewer keys or a flatter value"
            )]
        );
        assert_eq!(json_depth(&serde_json::json!([[1], {"a": [[2]]}])), 4);
    }

    #[test]
    fn the_variable_for_a_key_round_trips() {
        let path = KeyPath::default()
            .child("my_key")
            .child("onPluginBootFailure");
        let variable = variable_for(&path);
        assert_eq!(variable, "GREENROOM_CONFIG_my__key_onPluginBootFailure");
        let suffix = variable.strip_prefix(OVERRIDE_PREFIX).expect("prefixed");
        assert_eq!(
            key_of(suffix),
            Ok(vec![
                "my_key".to_string(),
                "onPluginBootFailure".to_string()
            ])
        );
    }
}
