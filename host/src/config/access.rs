//! Typed access to a loaded configuration by dotted key.

use super::{
    env::variable_for,
    error::ConfigError,
    key::KeyPath,
    tree::{Node, Origin, Value, scalar_text},
    yaml,
};

/// A loaded configuration, or one section of it.
///
/// Keys are dotted paths such as `backend.listen.port`, relative to the
/// section. Every error names the full key from the top of the
/// configuration, the file (or variable) and line the value came from, and
/// the expected and found types; secret values are described by type only.
///
/// # Examples
///
/// ```
/// use greenroom_host::config::ConfigLoader;
///
/// let dir = std::env::temp_dir().join(format!("greenroom-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("app-config.yaml"), "backend:\n  listen:\n    port: 7007\n")?;
/// let base = camino::Utf8PathBuf::try_from(dir.clone())?;
///
/// let config = ConfigLoader::new().base_dir(base).load()?;
/// assert_eq!(config.integer("backend.listen.port")?, 7007);
/// let listen = config.section("backend.listen")?;
/// assert_eq!(listen.optional_string("host")?, None);
/// # std::fs::remove_dir_all(dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    node: Node,
    path: KeyPath,
}

impl Default for Config {
    fn default() -> Self {
        Self::empty()
    }
}

impl Config {
    /// A configuration with no keys.
    pub fn empty() -> Self {
        Self::from_root(Node::new(Value::Map(Vec::new()), Origin::default_value()))
    }

    pub(crate) fn from_root(node: Node) -> Self {
        Self {
            node,
            path: KeyPath::default(),
        }
    }

    /// The string at `key`.
    ///
    /// # Errors
    ///
    /// Returns an error when the key is missing or holds another type.
    pub fn string(&self, key: &str) -> Result<String, ConfigError> {
        self.required(key, self.optional_string(key)?)
    }

    /// The string at `key`, or `None` when it is not set.
    ///
    /// # Errors
    ///
    /// Returns an error when the key holds another type.
    pub fn optional_string(&self, key: &str) -> Result<Option<String>, ConfigError> {
        self.typed(key, "string", |value| match value {
            Value::String(text) => Some(text.clone()),
            _ => None,
        })
    }

    /// The number at `key`.
    ///
    /// # Errors
    ///
    /// Returns an error when the key is missing or holds another type.
    pub fn number(&self, key: &str) -> Result<f64, ConfigError> {
        self.required(key, self.optional_number(key)?)
    }

    /// The number at `key`, or `None` when it is not set.
    ///
    /// # Errors
    ///
    /// Returns an error when the key holds another type.
    pub fn optional_number(&self, key: &str) -> Result<Option<f64>, ConfigError> {
        self.typed(key, "number", |value| match value {
            #[expect(
                clippy::cast_precision_loss,
                reason = "configuration numbers are small"
            )]
            Value::Integer(number) => Some(*number as f64),
            Value::Float(number) => Some(*number),
            _ => None,
        })
    }

    /// The whole number at `key`.
    ///
    /// # Errors
    ///
    /// Returns an error when the key is missing or holds another type.
    pub fn integer(&self, key: &str) -> Result<i64, ConfigError> {
        self.required(key, self.optional_integer(key)?)
    }

    /// The whole number at `key`, or `None` when it is not set.
    ///
    /// # Errors
    ///
    /// Returns an error when the key holds another type.
    pub fn optional_integer(&self, key: &str) -> Result<Option<i64>, ConfigError> {
        self.typed(key, "integer", |value| match value {
            Value::Integer(number) => Some(*number),
            _ => None,
        })
    }

    /// The boolean at `key`.
    ///
    /// # Errors
    ///
    /// Returns an error when the key is missing or holds another type.
    pub fn boolean(&self, key: &str) -> Result<bool, ConfigError> {
        self.required(key, self.optional_boolean(key)?)
    }

    /// The boolean at `key`, or `None` when it is not set.
    ///
    /// # Errors
    ///
    /// Returns an error when the key holds another type.
    pub fn optional_boolean(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        self.typed(key, "boolean", |value| match value {
            Value::Boolean(flag) => Some(*flag),
            _ => None,
        })
    }

    /// The list of strings at `key`.
    ///
    /// # Errors
    ///
    /// Returns an error when the key is missing, is not a list, or holds an
    /// item that is not a string (naming that item).
    pub fn strings(&self, key: &str) -> Result<Vec<String>, ConfigError> {
        self.required(key, self.optional_strings(key)?)
    }

    /// The list of strings at `key`, or `None` when it is not set.
    ///
    /// # Errors
    ///
    /// Returns an error when the key is not a list or holds an item that is
    /// not a string (naming that item).
    pub fn optional_strings(&self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        let Some((node, path)) = self.lookup(key)? else {
            return Ok(None);
        };
        let Value::List(items) = &node.value else {
            return Err(wrong_type(node, &path, "array of strings"));
        };
        let strings = items
            .iter()
            .enumerate()
            .map(|(index, item)| match &item.value {
                Value::String(text) => Ok(text.clone()),
                _ => Err(wrong_type(item, &path.item(index), "string")),
            });
        strings.collect::<Result<_, _>>().map(Some)
    }

    /// The section at `key`, whose keys are relative to it and whose errors
    /// still name full keys.
    ///
    /// # Errors
    ///
    /// Returns an error when the key is missing or is not a mapping.
    pub fn section(&self, key: &str) -> Result<Config, ConfigError> {
        self.required(key, self.optional_section(key)?)
    }

    /// The section at `key`, or `None` when it is not set.
    ///
    /// # Errors
    ///
    /// Returns an error when the key is not a mapping.
    pub fn optional_section(&self, key: &str) -> Result<Option<Config>, ConfigError> {
        let Some((node, path)) = self.lookup(key)? else {
            return Ok(None);
        };
        match node.value {
            Value::Map(_) => Ok(Some(Config {
                node: node.clone(),
                path,
            })),
            _ => Err(wrong_type(node, &path, "object")),
        }
    }

    /// The keys of this section, in the order they were first written.
    pub fn keys(&self) -> Vec<&str> {
        match &self.node.value {
            Value::Map(entries) => entries.iter().map(|(key, _)| key.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    /// Whether `key` is set.
    pub fn has(&self, key: &str) -> bool {
        matches!(self.lookup(key), Ok(Some(_)))
    }

    /// Where the value at `key` came from: file and line, or variable.
    pub fn origin(&self, key: &str) -> Option<&Origin> {
        self.lookup(key)
            .ok()
            .flatten()
            .map(|(node, _)| &node.origin)
    }

    /// Whether the value at `key` is secret: it came from the environment
    /// or a `$file`, or a schema marks it so.
    pub fn is_secret(&self, key: &str) -> bool {
        self.lookup(key)
            .ok()
            .flatten()
            .is_some_and(|(node, _)| node.secret)
    }

    /// The full key of this section (`(top level)` for the whole
    /// configuration).
    pub fn key(&self) -> String {
        self.path.to_string()
    }

    /// This section as YAML, every secret value written as `<secret>`.
    pub fn to_redacted_yaml(&self) -> String {
        yaml::to_redacted_yaml(&self.node)
    }

    /// The text of every secret scalar, so that a logger can hide them.
    pub fn secret_values(&self) -> Vec<String> {
        let mut values = Vec::new();
        collect_secrets(&self.node, &mut values);
        values
    }

    pub(crate) fn node(&self) -> &Node {
        &self.node
    }

    pub(crate) fn node_mut(&mut self) -> &mut Node {
        &mut self.node
    }

    pub(crate) fn path(&self) -> &KeyPath {
        &self.path
    }

    /// The node at `key` and its full path, `None` when it is not set.
    pub(crate) fn lookup(&self, key: &str) -> Result<Option<(&Node, KeyPath)>, ConfigError> {
        let relative = KeyPath::parse_dotted(key).ok_or_else(|| ConfigError::InvalidKey {
            key: key.to_string(),
        })?;
        let mut node = &self.node;
        let mut path = self.path.clone();
        for segment in relative.segments() {
            let super::key::Segment::Key(name) = segment else {
                return Err(ConfigError::InvalidKey {
                    key: key.to_string(),
                });
            };
            if !matches!(node.value, Value::Map(_)) {
                return Err(wrong_type(node, &path, "object"));
            }
            path = path.child(name);
            match node.get(name) {
                Some(child) => node = child,
                None => return Ok(None),
            }
        }
        Ok(Some((node, path)))
    }

    fn typed<T>(
        &self,
        key: &str,
        expected: &'static str,
        read: impl Fn(&Value) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        let Some((node, path)) = self.lookup(key)? else {
            return Ok(None);
        };
        read(&node.value)
            .map(Some)
            .ok_or_else(|| wrong_type(node, &path, expected))
    }

    fn required<T>(&self, key: &str, value: Option<T>) -> Result<T, ConfigError> {
        value.ok_or_else(|| {
            let path = KeyPath::parse_dotted(key)
                .map_or_else(KeyPath::default, |relative| self.path.join(&relative));
            ConfigError::Missing {
                key: path.to_string(),
                variable: variable_for(&path),
            }
        })
    }
}

/// The error for `node` at `path` not being `expected`.
pub(crate) fn wrong_type(node: &Node, path: &KeyPath, expected: &'static str) -> ConfigError {
    ConfigError::WrongType {
        origin: node.origin.clone(),
        key: path.to_string(),
        expected,
        found: node.describe(),
    }
}

fn collect_secrets(node: &Node, values: &mut Vec<String>) {
    match &node.value {
        Value::List(items) => items.iter().for_each(|item| collect_secrets(item, values)),
        Value::Map(entries) => entries
            .iter()
            .for_each(|(_, item)| collect_secrets(item, values)),
        Value::Null => {}
        scalar if node.secret => values.push(scalar_text(scalar)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::from_root(yaml::parse(text, "app-config.yaml".into()).expect("valid YAML"))
    }

    #[test]
    fn typed_values_are_read_by_dotted_key() {
        let config = config("a:\n  s: text\n  n: 1.5\n  i: 7\n  b: true\n  l: [x, y]\n");
        assert_eq!(config.string("a.s").expect("string"), "text");
        assert_eq!(config.number("a.n").expect("number"), 1.5);
        assert_eq!(config.number("a.i").expect("an integer is a number"), 7.0);
        assert_eq!(config.integer("a.i").expect("integer"), 7);
        assert!(config.boolean("a.b").expect("boolean"));
        assert_eq!(config.strings("a.l").expect("strings"), ["x", "y"]);
        assert_eq!(config.optional_string("a.missing").expect("absent"), None);
    }

    #[test]
    fn a_wrong_type_names_file_line_key_and_both_types() {
        let error = config("a:\n  port: soon\n")
            .integer("a.port")
            .expect_err("not a number");
        assert_eq!(
            error.to_string(),
            "app-config.yaml:2: a.port: expected integer, found string \"soon\""
        );
    }

    #[test]
    fn a_bad_list_item_is_named_by_position() {
        let error = config("l:\n  - x\n  - 3\n")
            .strings("l")
            .expect_err("not strings");
        assert_eq!(
            error.to_string(),
            "app-config.yaml:3: l[1]: expected string, found number 3"
        );
    }

    #[test]
    fn sections_keep_full_keys_in_errors() {
        let section = config("a:\n  b:\n    c: 1\n")
            .section("a.b")
            .expect("section");
        assert_eq!(section.key(), "a.b");
        let error = section.string("c").expect_err("not a string");
        assert_eq!(
            error.to_string(),
            "app-config.yaml:3: a.b.c: expected string, found number 1"
        );
        let missing = section.string("d").expect_err("missing");
        assert_eq!(
            missing.to_string(),
            "a.b.d: missing; set it in a configuration file or with GREENROOM_CONFIG_a_b_d"
        );
    }

    #[test]
    fn reaching_through_a_scalar_names_the_scalar() {
        let error = config("a: 1\n")
            .string("a.b")
            .expect_err("a is not a mapping");
        assert_eq!(
            error.to_string(),
            "app-config.yaml:1: a: expected object, found number 1"
        );
    }

    #[test]
    fn malformed_keys_are_refused() {
        assert!(matches!(
            config("a: 1\n").string("a..b"),
            Err(ConfigError::InvalidKey { .. })
        ));
    }
}
