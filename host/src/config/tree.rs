//! The configuration tree: every value with the file (or variable) and line
//! it came from, and whether it is secret.

use std::fmt;

use camino::{Utf8Path, Utf8PathBuf};

/// What a secret value shows instead of itself in messages and output.
pub const REDACTED: &str = "<secret>";

/// How many mappings and lists may nest inside one another in the whole
/// configuration, the top-level mapping counted as 1.
///
/// Files and overrides that nest deeper are refused before their tree is
/// built: every step over the tree recurses, and the stack of any thread
/// that loads or reads configuration must hold the deepest tree.
pub(crate) const MAX_DEPTH: usize = 128;

/// Where a configuration value was written.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// A configuration file, by the path it was read from.
    File(Utf8PathBuf),
    /// An environment variable that sets one key (`GREENROOM_CONFIG_...`).
    Variable(String),
    /// Nothing was written: the host's built-in default.
    Default,
}

/// Where a configuration value came from: its source and, for files, the
/// line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The file or variable.
    pub source: Source,
    /// The line in the file, counted from 1, where known.
    pub line: Option<usize>,
}

impl Origin {
    /// A line of a configuration file.
    pub(crate) fn file(path: &Utf8Path, line: usize) -> Self {
        Self {
            source: Source::File(path.to_owned()),
            line: Some(line),
        }
    }

    /// An environment variable.
    pub(crate) fn variable(name: &str) -> Self {
        Self {
            source: Source::Variable(name.to_string()),
            line: None,
        }
    }

    /// The host's built-in default.
    pub(crate) fn default_value() -> Self {
        Self {
            source: Source::Default,
            line: None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.source, self.line) {
            (Source::File(path), Some(line)) => write!(f, "{path}:{line}"),
            (Source::File(path), None) => write!(f, "{path}"),
            (Source::Variable(name), _) => write!(f, "environment variable {name}"),
            (Source::Default, _) => f.write_str("built-in default"),
        }
    }
}

/// One value of the tree with its origin.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub(crate) value: Value,
    pub(crate) origin: Origin,
    /// Whether the value (and everything inside it) must never be shown.
    pub(crate) secret: bool,
}

/// The value of a node. Mappings keep the order keys were first written in.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    Boolean(bool),
    Integer(i64),
    Float(f64),
    String(String),
    List(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    /// A value that is not secret.
    pub(crate) fn new(value: Value, origin: Origin) -> Self {
        Self {
            value,
            origin,
            secret: false,
        }
    }

    /// The value under `key` when this is a mapping.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(name, _)| name == key).map(|(_, n)| n),
            _ => None,
        }
    }

    /// Marks this value and everything inside it secret.
    pub(crate) fn into_secret(mut self) -> Self {
        self.mark_secret();
        self
    }

    /// Marks this value and everything inside it secret, in place.
    pub(crate) fn mark_secret(&mut self) {
        self.secret = true;
        match &mut self.value {
            Value::List(items) => items.iter_mut().for_each(Node::mark_secret),
            Value::Map(entries) => entries.iter_mut().for_each(|(_, node)| node.mark_secret()),
            _ => {}
        }
    }

    /// Whether this value or anything inside it is secret.
    pub(crate) fn contains_secret(&self) -> bool {
        self.secret
            || match &self.value {
                Value::List(items) => items.iter().any(Node::contains_secret),
                Value::Map(entries) => entries.iter().any(|(_, node)| node.contains_secret()),
                _ => false,
            }
    }

    /// The JSON Schema name of the value's type.
    pub(crate) fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Boolean(_) => "boolean",
            Value::Integer(_) | Value::Float(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "array",
            Value::Map(_) => "object",
        }
    }

    /// The type and, unless secret, the value: `string "soon"`, `number 3`,
    /// `string <secret>`, `array of 2 items`.
    pub(crate) fn describe(&self) -> String {
        let shown = match &self.value {
            Value::List(items) => return format!("array of {} items", items.len()),
            Value::Map(_) => return "object".to_string(),
            Value::Null => return "null".to_string(),
            _ if self.secret => REDACTED.to_string(),
            Value::String(text) => format!("{text:?}"),
            other => scalar_text(other),
        };
        format!("{} {shown}", self.type_name())
    }

    /// The value as JSON, secrets included (for schema checks only).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as Json;
        match &self.value {
            Value::Null => Json::Null,
            Value::Boolean(flag) => Json::Bool(*flag),
            Value::Integer(number) => Json::from(*number),
            Value::Float(number) => serde_json::Number::from_f64(*number)
                .map_or_else(|| Json::String(number.to_string()), Json::Number),
            Value::String(text) => Json::String(text.clone()),
            Value::List(items) => Json::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => Json::Object(
                entries
                    .iter()
                    .map(|(key, node)| (key.clone(), node.to_json()))
                    .collect(),
            ),
        }
    }

    /// A tree from JSON, every value with the same origin.
    pub(crate) fn from_json(json: &serde_json::Value, origin: &Origin) -> Self {
        use serde_json::Value as Json;
        let value = match json {
            Json::Null => Value::Null,
            Json::Bool(flag) => Value::Boolean(*flag),
            Json::Number(number) => match number.as_i64() {
                Some(integer) => Value::Integer(integer),
                None => Value::Float(number.as_f64().unwrap_or(f64::NAN)),
            },
            Json::String(text) => Value::String(text.clone()),
            Json::Array(items) => Value::List(
                items
                    .iter()
                    .map(|item| Self::from_json(item, origin))
                    .collect(),
            ),
            Json::Object(entries) => Value::Map(
                entries
                    .iter()
                    .map(|(key, item)| (key.clone(), Self::from_json(item, origin)))
                    .collect(),
            ),
        };
        Self::new(value, origin.clone())
    }
}

/// The text of a scalar that is not a string.
pub(crate) fn scalar_text(value: &Value) -> String {
    match value {
        Value::Boolean(flag) => flag.to_string(),
        Value::Integer(number) => number.to_string(),
        Value::Float(number) => number.to_string(),
        Value::String(text) => text.clone(),
        Value::Null | Value::List(_) | Value::Map(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(text: &str) -> Node {
        Node::new(Value::String(text.to_string()), Origin::default_value())
    }

    #[test]
    fn origins_name_the_file_and_line_or_the_variable() {
        assert_eq!(
            Origin::file("app-config.yaml".into(), 12).to_string(),
            "app-config.yaml:12"
        );
        assert_eq!(
            Origin::variable("GREENROOM_CONFIG_a").to_string(),
            "environment variable GREENROOM_CONFIG_a"
        );
    }

    #[test]
    fn secrets_are_described_by_type_only() {
        assert_eq!(string("soon").describe(), "string \"soon\"");
        assert_eq!(
            string("hunter2").into_secret().describe(),
            "string <secret>"
        );
    }

    #[test]
    fn marking_a_mapping_secret_marks_what_it_holds() {
        let map = Node::new(
            Value::Map(vec![("token".to_string(), string("hunter2"))]),
            Origin::default_value(),
        );
        let map = map.into_secret();
        assert!(map.get("token").is_some_and(|token| token.secret));
    }

    #[test]
    fn json_round_trips() {
        let json = serde_json::json!({"a": [1, 2.5, "x", true, null], "b": {}});
        let node = Node::from_json(&json, &Origin::default_value());
        assert_eq!(node.to_json(), json);
    }
}
