//! Dynamic values in configuration files, resolved once while loading.
//!
//! - `${VAR}` inside a string is replaced by the environment variable
//!   `VAR`; `${VAR:-default}` uses `default` when `VAR` is unset or empty;
//!   `$${...}` is written as a literal `${...}`.
//! - `{ $env: VAR }` is the variable's value, as a string.
//! - `{ $file: path }` is the whole text of the file at `path`.
//! - `{ $include: other.yaml#a.b }` is the value under `a.b` in
//!   `other.yaml` (YAML or JSON; without `#a.b`, the whole file). Dynamic
//!   values in the included file are resolved too, relative to it.
//!
//! A `$env` or `$file` value is located at the key holding it. Paths are
//! relative to the directory of the file that names them. A variable that is
//! not set is an error naming the variable, the key and the file: nothing
//! starts half configured. Every value read from the environment or from a
//! `$file` is secret.
//!
//! Files named by `$file` and `$include` are read within the load's limits
//! (see [`super::load`]): regular files only, of bounded size, and a
//! bounded number of reads in all, each `$include` counted every time it
//! is reached. An included file's nesting counts from the key that
//! includes it.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};

use super::{
    error::ConfigError,
    interpolate::{Interpolated, Problem, interpolate},
    key::{KeyPath, Segment},
    load::read::{Budget, Unreadable},
    tree::{Node, Origin, Value},
    yaml,
};

/// The keys that make a one-key mapping a dynamic value.
const DIRECTIVES: [&str; 3] = ["$env", "$file", "$include"];

/// How deeply `$include` may nest before it is taken for a cycle.
const MAX_INCLUDE_DEPTH: usize = 16;

/// Resolves the dynamic values of one file and collects every error.
pub(crate) struct Substitution<'load> {
    env: &'load BTreeMap<String, String>,
    budget: &'load mut Budget,
    including: Vec<Utf8PathBuf>,
    pub(crate) errors: Vec<ConfigError>,
}

impl<'load> Substitution<'load> {
    /// A substitution reading variables from `env` and files within
    /// `budget`.
    pub(crate) fn new(env: &'load BTreeMap<String, String>, budget: &'load mut Budget) -> Self {
        Self {
            env,
            budget,
            including: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Resolves every dynamic value in `node`, which was read from `file`
    /// and sits under `key` in the configuration.
    pub(crate) fn resolve_file(&mut self, node: Node, file: &Utf8Path, key: &KeyPath) -> Node {
        self.including.push(identity(file));
        let node = self.resolve(node, file, key);
        self.including.pop();
        node
    }

    fn resolve(&mut self, node: Node, file: &Utf8Path, key: &KeyPath) -> Node {
        let Node {
            value,
            origin,
            secret,
        } = node;
        let value = match value {
            Value::String(text) => return self.interpolate(&text, origin, key),
            Value::List(items) => Value::List(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(index, item)| self.resolve(item, file, &key.item(index)))
                    .collect(),
            ),
            Value::Map(entries) if is_directive(&entries) => {
                return self.directive(entries, origin, file, key);
            }
            Value::Map(entries) => Value::Map(
                entries
                    .into_iter()
                    .map(|(name, item)| {
                        let item = self.resolve(item, file, &key.child(&name));
                        (name, item)
                    })
                    .collect(),
            ),
            scalar => scalar,
        };
        Node {
            value,
            origin,
            secret,
        }
    }

    fn directive(
        &mut self,
        mut entries: Vec<(String, Node)>,
        origin: Origin,
        file: &Utf8Path,
        key: &KeyPath,
    ) -> Node {
        if entries.len() > 1 {
            let reason = "`$env`, `$file` and `$include` must each be the only key of their \
                          mapping; move the other keys elsewhere";
            return self.fail(origin, key, reason.to_string());
        }
        let (name, argument) = entries.remove(0);
        let Value::String(text) = &argument.value else {
            let reason = format!("`{name}` takes a string, found {}", argument.describe());
            return self.fail(argument.origin, key, reason);
        };
        match name.as_str() {
            "$env" => self.environment(text, origin, key),
            "$file" => self.file_text(text, origin, file, key),
            _ => self.include(text, origin, file, key),
        }
    }

    fn environment(&mut self, variable: &str, origin: Origin, key: &KeyPath) -> Node {
        match self.env.get(variable) {
            Some(value) => Node::new(Value::String(value.clone()), origin).into_secret(),
            None => {
                self.errors.push(ConfigError::MissingVariable {
                    origin: origin.clone(),
                    key: key.to_string(),
                    variable: variable.to_string(),
                });
                Node::new(Value::Null, origin)
            }
        }
    }

    fn file_text(&mut self, path: &str, origin: Origin, file: &Utf8Path, key: &KeyPath) -> Node {
        let path = relative_to(file, path);
        match self.budget.read(&path) {
            Ok(text) => Node::new(Value::String(text), origin).into_secret(),
            Err(problem) => self.unreadable(&path, "$file", &problem, origin, key),
        }
    }

    fn include(&mut self, target: &str, origin: Origin, file: &Utf8Path, key: &KeyPath) -> Node {
        let (path, inner) = target.split_once('#').unwrap_or((target, ""));
        let path = relative_to(file, path);
        if self.including.len() >= MAX_INCLUDE_DEPTH || self.including.contains(&identity(&path)) {
            let reason = format!("`$include` of {path} includes itself again; break the cycle");
            return self.fail(origin, key, reason);
        }
        let Some(inner_key) = KeyPath::parse_dotted(inner) else {
            let reason = format!("`{inner}` after `#` is not a dotted key such as a.b");
            return self.fail(origin, key, reason);
        };
        let text = match self.budget.read(&path) {
            Ok(text) => text,
            Err(problem) => return self.unreadable(&path, "$include", &problem, origin, key),
        };
        let depth = key.segments().len();
        match yaml::parse_within(&text, &path, depth, self.budget) {
            Ok(node) => {
                let node = self.resolve_file(node, &path, key);
                self.select(node, &inner_key, origin, &path, key)
            }
            Err(ConfigError::Unreadable { path, reason }) => {
                let reason = format!("cannot read {path} named by `$include`: {reason}");
                self.fail(origin, key, reason)
            }
            Err(error) => {
                self.errors.push(error);
                Node::new(Value::Null, origin)
            }
        }
    }

    /// Records why the file at `path`, named by `directive`, cannot be
    /// read, unless a limit of the load was reached and reported before.
    fn unreadable(
        &mut self,
        path: &Utf8Path,
        directive: &str,
        problem: &Unreadable,
        origin: Origin,
        key: &KeyPath,
    ) -> Node {
        if let Unreadable::Exhausted = problem {
            return Node::new(Value::Null, origin);
        }
        let reason = format!("cannot read {path} named by `{directive}`: {problem}");
        self.fail(origin, key, reason)
    }

    /// The value under `inner` in an included file.
    fn select(
        &mut self,
        node: Node,
        inner: &KeyPath,
        origin: Origin,
        path: &Utf8Path,
        key: &KeyPath,
    ) -> Node {
        let mut current = node;
        for segment in inner.segments() {
            let found = match (current.value, segment) {
                (Value::Map(entries), Segment::Key(name)) => entries
                    .into_iter()
                    .find(|(entry, _)| entry == name)
                    .map(|(_, item)| item),
                _ => None,
            };
            match found {
                Some(item) => current = item,
                None => {
                    let reason = format!("{path} has no key `{inner}`; check the part after `#`");
                    return self.fail(origin, key, reason);
                }
            }
        }
        current
    }

    /// Replaces every `${VAR}` in `text`.
    fn interpolate(&mut self, text: &str, origin: Origin, key: &KeyPath) -> Node {
        match interpolate(text, self.env) {
            Ok(Interpolated {
                text,
                from_environment,
            }) => {
                let node = Node::new(Value::String(text), origin);
                if from_environment {
                    node.into_secret()
                } else {
                    node
                }
            }
            Err(problems) => {
                for problem in problems {
                    self.errors.push(match problem {
                        Problem::Unset(variable) => ConfigError::MissingVariable {
                            origin: origin.clone(),
                            key: key.to_string(),
                            variable,
                        },
                        Problem::Malformed(reason) => ConfigError::Substitution {
                            origin: origin.clone(),
                            key: key.to_string(),
                            reason,
                        },
                    });
                }
                Node::new(Value::Null, origin)
            }
        }
    }

    /// Records an error and returns a placeholder for the value.
    fn fail(&mut self, origin: Origin, key: &KeyPath, reason: String) -> Node {
        self.errors.push(ConfigError::Substitution {
            origin: origin.clone(),
            key: key.to_string(),
            reason,
        });
        Node::new(Value::Null, origin)
    }
}

fn is_directive(entries: &[(String, Node)]) -> bool {
    entries
        .iter()
        .any(|(name, _)| DIRECTIVES.contains(&name.as_str()))
}

/// `path` as named in `file`: relative paths start at the file's directory.
fn relative_to(file: &Utf8Path, path: &str) -> Utf8PathBuf {
    file.parent().unwrap_or(Utf8Path::new("")).join(path.trim())
}

/// A path that names one file however it was written, where possible.
fn identity(path: &Utf8Path) -> Utf8PathBuf {
    std::fs::canonicalize(path)
        .ok()
        .and_then(|path| Utf8PathBuf::from_path_buf(path).ok())
        .unwrap_or_else(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str, env: &[(&str, &str)]) -> (Node, Vec<ConfigError>) {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let node = yaml::parse(text, "conf/app-config.yaml".into()).expect("valid YAML");
        let mut budget = Budget::default();
        let mut substitution = Substitution::new(&env, &mut budget);
        let node =
            substitution.resolve_file(node, "conf/app-config.yaml".into(), &KeyPath::default());
        (node, substitution.errors)
    }

    #[test]
    fn env_directives_and_references_become_secret_strings() {
        let (node, errors) = resolve(
            "a:\n  $env: TOKEN\nb: x-${TOKEN}\nc: plain\n",
            &[("TOKEN", "t")],
        );
        assert!(errors.is_empty());
        assert_eq!(
            node.to_json(),
            serde_json::json!({"a": "t", "b": "x-t", "c": "plain"})
        );
        assert!(node.get("a").is_some_and(|a| a.secret));
        assert!(node.get("b").is_some_and(|b| b.secret));
        assert!(node.get("c").is_some_and(|c| !c.secret));
    }

    #[test]
    fn every_missing_variable_is_an_error_naming_key_and_file() {
        let (_, errors) = resolve("a:\n  $env: ONE\nb:\n  - ${TWO}\n", &[]);
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), 2);
        assert!(
            messages[0]
                .starts_with("conf/app-config.yaml:1: a: environment variable ONE is not set")
        );
        assert!(
            messages[1]
                .starts_with("conf/app-config.yaml:4: b[0]: environment variable TWO is not set")
        );
    }

    #[test]
    fn a_directive_must_be_alone_and_take_a_string() {
        let (_, errors) = resolve("a:\n  $env: X\n  other: 1\nb:\n  $file: 3\n", &[("X", "x")]);
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            messages[0].contains("a: `$env`, `$file` and `$include` must each be the only key")
        );
        assert_eq!(
            messages[1],
            "conf/app-config.yaml:5: b: `$file` takes a string, found number 3"
        );
    }
}
