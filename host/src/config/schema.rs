//! Checking configuration against JSON Schemas: each plugin's slice (the
//! value under the top-level key equal to its id) and the host's own keys.
//!
//! Every problem is reported at once, each with the file and line of the
//! value, its full key and the rule it breaks. Keys a schema does not
//! declare (where it lists `properties` and leaves `additionalProperties`
//! unset) are warnings, or errors when checking strictly. Secret values,
//! from the environment, a `$file` or marked `"visibility": "secret"`, are
//! described by type only.

use std::fmt;

use jsonschema::{ValidationError, error::ValidationErrorKind, paths::LocationSegment};
use serde_json::Value as Json;

use super::{
    access::Config,
    host::{HOST_KEY, host_schema},
    key::KeyPath,
    secret::mark_schema_secrets,
    tree::{Node, Origin, REDACTED, Source, Value},
    unknown::unknown_keys,
};

/// One way the configuration breaks a schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Where the value (or, for a missing key, its parent) is written.
    pub origin: Option<Origin>,
    /// The full key.
    pub key: String,
    /// The rule broken, naming the expected and found values (found values
    /// that are secret show only their type).
    pub rule: String,
    /// What kind of problem it is.
    pub kind: ProblemKind,
}

/// What kind of problem a [`ConfigProblem`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// A value breaks a rule of its schema.
    BrokenRule,
    /// A key the schema does not declare: a warning unless strict.
    UnknownKey,
    /// The schema itself is not valid JSON Schema.
    InvalidSchema,
}

impl ConfigProblem {
    /// Whether the problem stops the host from starting: everything but
    /// unknown keys, which count only when `strict`.
    pub fn is_error(&self, strict: bool) -> bool {
        self.kind != ProblemKind::UnknownKey || strict
    }

    /// A problem at `origin`; a built-in default (such as the empty slice
    /// of an unconfigured plugin) counts as no place at all.
    pub(crate) fn new(origin: &Origin, key: &KeyPath, rule: String, kind: ProblemKind) -> Self {
        Self {
            origin: (origin.source != Source::Default).then(|| origin.clone()),
            key: key.to_string(),
            rule,
            kind,
        }
    }

    /// The file (or variable) and line, for sorting problems by place.
    fn place(&self) -> (String, usize) {
        match &self.origin {
            Some(origin) => (
                Origin {
                    line: None,
                    ..origin.clone()
                }
                .to_string(),
                origin.line.unwrap_or(0),
            ),
            None => (String::new(), 0),
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Some(origin) => write!(f, "{origin}: {}: {}", self.key, self.rule),
            None => write!(f, "{}: {}", self.key, self.rule),
        }
    }
}

/// Checks each plugin's slice of `config` against its schema.
///
/// `schemas` pairs plugin ids with their schemas. A plugin with no slice is
/// checked as if its slice were an empty mapping, so required keys are
/// reported.
pub fn check_plugins(config: &Config, schemas: &[(&str, &Json)]) -> Vec<ConfigProblem> {
    let mut config = config.clone();
    mark_schema_secrets(&mut config, schemas);
    schemas
        .iter()
        .flat_map(|(id, schema)| check_slice(&config, id, schema))
        .collect()
}

/// Checks the host's own keys, under `backend`, against
/// [`host_schema`].
pub fn check_host(config: &Config) -> Vec<ConfigProblem> {
    check_plugins(config, &[(HOST_KEY, &host_schema())])
}

/// Reports every top-level key that is neither `backend` nor in `claimed`
/// (the ids of the plugins loaded) as unknown.
pub fn check_unclaimed_keys(config: &Config, claimed: &[&str]) -> Vec<ConfigProblem> {
    let Value::Map(entries) = &config.node().value else {
        return Vec::new();
    };
    entries
        .iter()
        .filter(|(key, _)| key != HOST_KEY && !claimed.contains(&key.as_str()))
        .map(|(key, node)| {
            let rule = "unknown key: no loaded plugin has this id and the host does not use it; \
                        check the spelling or install the plugin";
            ConfigProblem::new(
                &node.origin,
                &config.path().child(key),
                rule.to_string(),
                ProblemKind::UnknownKey,
            )
        })
        .collect()
}

/// Checks the host's keys and each plugin's slice, and reports top-level
/// keys that belong to neither.
pub fn check_all(config: &Config, schemas: &[(&str, &Json)]) -> Vec<ConfigProblem> {
    let claimed: Vec<&str> = schemas.iter().map(|(id, _)| *id).collect();
    let mut problems = check_host(config);
    problems.extend(check_plugins(config, schemas));
    problems.extend(check_unclaimed_keys(config, &claimed));
    problems
}

fn check_slice(config: &Config, id: &str, schema: &Json) -> Vec<ConfigProblem> {
    let path = config.path().child(id);
    let empty = Node::new(Value::Map(Vec::new()), Origin::default_value());
    let slice = config.node().get(id).unwrap_or(&empty);
    let validator = match jsonschema::validator_for(schema) {
        Ok(validator) => validator,
        Err(error) => {
            let rule = format!(
                "the configuration schema of `{id}` is not valid JSON Schema: {error}; fix the \
                 plugin's schema"
            );
            return vec![ConfigProblem {
                origin: None,
                key: path.to_string(),
                rule,
                kind: ProblemKind::InvalidSchema,
            }];
        }
    };

    let instance = slice.to_json();
    let mut problems: Vec<ConfigProblem> = validator
        .iter_errors(&instance)
        .flat_map(|error| problems_for(&error, slice, &path))
        .collect();
    unknown_keys(slice, &path, schema, schema, &mut problems);
    problems.sort_by_key(ConfigProblem::place);
    problems
}

/// The problems one validation error stands for, each located in the tree.
fn problems_for(error: &ValidationError<'_>, slice: &Node, path: &KeyPath) -> Vec<ConfigProblem> {
    let (node, path) = locate(slice, path, error);
    let broken = |origin: &Origin, key: &KeyPath, rule: String| {
        ConfigProblem::new(origin, key, rule, ProblemKind::BrokenRule)
    };
    match error.kind() {
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                jsonschema::error::TypeKind::Single(single) => single.to_string(),
                jsonschema::error::TypeKind::Multiple(set) => set
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            vec![broken(
                &node.origin,
                &path,
                format!("expected {expected}, found {}", node.describe()),
            )]
        }
        ValidationErrorKind::Enum { options } => {
            let rule = format!("expected one of {options}, found {}", node.describe());
            vec![broken(&node.origin, &path, rule)]
        }
        ValidationErrorKind::Required { property } => {
            let key = path.child(property.as_str().unwrap_or_default());
            vec![broken(
                &node.origin,
                &key,
                "missing; the schema requires it".to_string(),
            )]
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|key| {
                let origin = node.get(key).map_or(&node.origin, |child| &child.origin);
                let rule = "unknown key: the schema allows no other keys here; check the spelling";
                broken(origin, &path.child(key), rule.to_string())
            })
            .collect(),
        _ if node.contains_secret() => {
            vec![broken(
                &node.origin,
                &path,
                error.masked_with(REDACTED).to_string(),
            )]
        }
        _ => vec![broken(&node.origin, &path, error.to_string())],
    }
}

/// The node an error is about and its full key.
fn locate<'n>(slice: &'n Node, path: &KeyPath, error: &ValidationError<'_>) -> (&'n Node, KeyPath) {
    let mut node = slice;
    let mut path = path.clone();
    for segment in error.instance_path().iter() {
        let next = match (&node.value, &segment) {
            (Value::Map(_), LocationSegment::Property(key)) => {
                path = path.child(key);
                node.get(key)
            }
            (Value::List(items), LocationSegment::Index(index)) => {
                path = path.item(*index);
                items.get(*index)
            }
            _ => None,
        };
        match next {
            Some(next) => node = next,
            None => break,
        }
    }
    (node, path)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::yaml::parse;

    fn config(text: &str) -> Config {
        Config::from_root(parse(text, "app-config.yaml".into()).expect("valid YAML"))
    }

    fn messages(problems: &[ConfigProblem]) -> Vec<String> {
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_type_error_names_file_line_key_and_types() {
        let schema =
            json!({"properties": {"refresh": {"properties": {"interval": {"type": "number"}}}}});
        let config = config("catalog:\n  refresh:\n    interval: soon\n");
        assert_eq!(
            messages(&check_plugins(&config, &[("catalog", &schema)])),
            ["app-config.yaml:3: catalog.refresh.interval: expected number, found string \"soon\""]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let schema = json!({
            "required": ["url"],
            "properties": {
                "url": {"type": "string"},
                "mode": {"enum": ["fast", "slow"]},
                "retries": {"type": "integer", "minimum": 0},
            },
            "additionalProperties": false,
        });
        let config = config("app:\n  mode: quick\n  retries: -1\n  extra: 1\n");
        assert_eq!(
            messages(&check_plugins(&config, &[("app", &schema)])),
            [
                "app-config.yaml:1: app.url: missing; the schema requires it",
                "app-config.yaml:2: app.mode: expected one of [\"fast\",\"slow\"], found \
                 string \"quick\"",
                "app-config.yaml:3: app.retries: -1 is less than the minimum of 0",
                "app-config.yaml:4: app.extra: unknown key: the schema allows no other keys \
                 here; check the spelling",
            ]
        );
    }

    #[test]
    fn a_missing_slice_is_checked_as_empty() {
        let schema = json!({"required": ["url"]});
        let problems = check_plugins(&Config::empty(), &[("app", &schema)]);
        assert_eq!(
            messages(&problems),
            ["app.url: missing; the schema requires it"]
        );
    }

    #[test]
    fn secret_values_are_described_by_type_only() {
        let schema = json!({"properties": {
            "token": {"type": "integer", "visibility": "secret"},
            "key": {"type": "string", "minLength": 40, "visibility": "secret"},
        }});
        let config = config("app:\n  token: hunter2\n  key: short-secret\n");
        let text = messages(&check_plugins(&config, &[("app", &schema)])).join("\n");
        assert!(
            text.contains("app.token: expected integer, found string <secret>"),
            "{text}"
        );
        assert!(
            text.contains("app.key: <secret> is shorter than 40 characters"),
            "{text}"
        );
        assert!(
            !text.contains("hunter2") && !text.contains("short-secret"),
            "{text}"
        );
    }

    #[test]
    fn unknown_keys_are_warnings_unless_strict() {
        let schema = json!({"properties": {"url": {}}});
        let problems = check_plugins(&config("app:\n  urll: x\n"), &[("app", &schema)]);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].kind, ProblemKind::UnknownKey);
        assert!(!problems[0].is_error(false));
        assert!(problems[0].is_error(true));
    }

    #[test]
    fn an_invalid_schema_is_an_error_naming_the_plugin() {
        let problems = check_plugins(&Config::empty(), &[("app", &json!({"type": 5}))]);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].kind, ProblemKind::InvalidSchema);
        assert!(
            problems[0]
                .to_string()
                .starts_with("app: the configuration schema of `app` is not valid")
        );
    }

    #[test]
    fn the_host_keys_are_checked() {
        let config = config(
            "backend:\n  listen:\n    port: 70000\n  startup:\n    default:\n      \
             onPluginBootFailure: stop\n",
        );
        assert_eq!(
            messages(&check_host(&config)),
            [
                "app-config.yaml:3: backend.listen.port: 70000 is greater than the maximum of \
                 65535",
                "app-config.yaml:6: backend.startup.default.onPluginBootFailure: expected one of \
                 [\"abort\",\"continue\"], found string \"stop\"",
            ]
        );
    }

    #[test]
    fn top_level_keys_nobody_claims_are_unknown() {
        let config = config("backend: {}\ncatalog: {}\ncatalgo: {}\n");
        let problems = check_unclaimed_keys(&config, &["catalog"]);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0]
                .to_string()
                .starts_with("app-config.yaml:3: catalgo: unknown key")
        );
    }
}
