//! Typed access to a plugin's configuration, with errors that name the full
//! key and the file and line the value came from.

use std::{collections::BTreeMap, fmt, sync::Arc};

use greenroom_contract::ConfigOrigin;
use serde_json::Value as Json;

/// What a secret value shows instead of itself.
const REDACTED: &str = "<secret>";

/// The prefix of the variables that set one configuration key.
const OVERRIDE_PREFIX: &str = "GREENROOM_CONFIG_";

/// A plugin's configuration (the app config's value under its id), or one
/// section of it.
///
/// Keys are dotted paths relative to the section, such as
/// `refresh.interval`. Errors name the full key from the top of the
/// configuration (`catalog.refresh.interval`), the file and line the value
/// came from, and the expected and found types; secret values are described
/// by type only.
///
/// # Examples
///
/// ```no_run
/// # async fn init(context: greenroom_sdk::Context) -> Result<(), greenroom_sdk::Error> {
/// let config = context.config();
/// let interval = config.optional_number("refresh.interval")?.unwrap_or(60.0);
/// let targets = config.section("targets")?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    shared: Arc<Shared>,
    path: Vec<Segment>,
    value: Json,
}

#[derive(Debug)]
struct Shared {
    plugin_id: String,
    origins: BTreeMap<String, (String, bool)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// Why a configuration value could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    key: String,
    origin: Option<String>,
    reason: String,
}

impl ConfigError {
    /// The full key, such as `catalog.refresh.interval`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Where the value was written (`app-config.yaml:12`), when known.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Some(origin) => write!(f, "{origin}: {}: {}", self.key, self.reason),
            None => write!(f, "{}: {}", self.key, self.reason),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// The configuration of `plugin_id` from the JSON text and origins the
    /// host handed over; text that is not JSON counts as no configuration.
    pub(crate) fn from_host(plugin_id: &str, json: &str, origins: &[ConfigOrigin]) -> Self {
        let origins = origins
            .iter()
            .map(|origin| {
                let place = origin.origin.as_str().to_string();
                (origin.key.as_str().to_string(), (place, origin.secret))
            })
            .collect();
        Self {
            shared: Arc::new(Shared {
                plugin_id: plugin_id.to_string(),
                origins,
            }),
            path: Vec::new(),
            value: serde_json::from_str(json).unwrap_or(Json::Null),
        }
    }

    /// This section's value as JSON (`null` for a plugin with no
    /// configuration).
    pub fn as_json(&self) -> &Json {
        &self.value
    }

    /// The full key of this section, such as `catalog.refresh`.
    pub fn key(&self) -> String {
        full_key(&self.shared.plugin_id, &self.path)
    }

    /// The keys of this section, in the order they were written.
    pub fn keys(&self) -> Vec<String> {
        match &self.value {
            Json::Object(entries) => entries.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Whether `key` is set.
    pub fn has(&self, key: &str) -> bool {
        matches!(self.lookup(key), Ok(Some(_)))
    }

    /// Where the value at `key` was written, such as `app-config.yaml:12`.
    pub fn origin(&self, key: &str) -> Option<String> {
        let (_, path) = self.lookup(key).ok().flatten()?;
        self.origin_of(&path).map(|(place, _)| place.clone())
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
        self.typed(key, "string", |value| value.as_str().map(str::to_string))
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
        self.typed(key, "number", Json::as_f64)
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
        self.typed(key, "integer", Json::as_i64)
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
        self.typed(key, "boolean", Json::as_bool)
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
        let Some((value, path)) = self.lookup(key)? else {
            return Ok(None);
        };
        let Json::Array(items) = value else {
            return Err(self.wrong_type(value, &path, "array of strings"));
        };
        let strings = items.iter().enumerate().map(|(index, item)| {
            let mut item_path = path.clone();
            item_path.push(Segment::Index(index));
            item.as_str()
                .map(str::to_string)
                .ok_or_else(|| self.wrong_type(item, &item_path, "string"))
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
        let Some((value, path)) = self.lookup(key)? else {
            return Ok(None);
        };
        if !value.is_object() {
            return Err(self.wrong_type(value, &path, "object"));
        }
        Ok(Some(Config {
            shared: self.shared.clone(),
            path,
            value: value.clone(),
        }))
    }

    /// The list of mappings at `key`, each a section whose errors name its
    /// item (`catalog.locations[1].target`).
    ///
    /// # Errors
    ///
    /// Returns an error when the key is missing, is not a list, or holds an
    /// item that is not a mapping (naming that item).
    pub fn sections(&self, key: &str) -> Result<Vec<Config>, ConfigError> {
        self.required(key, self.optional_sections(key)?)
    }

    /// The list of mappings at `key`, or `None` when it is not set.
    ///
    /// # Errors
    ///
    /// As [`Config::sections`], except for a missing key.
    pub fn optional_sections(&self, key: &str) -> Result<Option<Vec<Config>>, ConfigError> {
        let Some((value, path)) = self.lookup(key)? else {
            return Ok(None);
        };
        let Json::Array(items) = value else {
            return Err(self.wrong_type(value, &path, "array of objects"));
        };
        let sections = items.iter().enumerate().map(|(index, item)| {
            let mut item_path = path.clone();
            item_path.push(Segment::Index(index));
            if !item.is_object() {
                return Err(self.wrong_type(item, &item_path, "object"));
            }
            Ok(Config {
                shared: self.shared.clone(),
                path: item_path,
                value: item.clone(),
            })
        });
        sections.collect::<Result<_, _>>().map(Some)
    }

    /// The value at `key` and its path from the slice, `None` when unset.
    fn lookup(&self, key: &str) -> Result<Option<(&Json, Vec<Segment>)>, ConfigError> {
        let parts: Vec<&str> = if key.is_empty() {
            Vec::new()
        } else {
            key.split('.').collect()
        };
        if parts.iter().any(|part| part.is_empty()) {
            let mut path = self.path.clone();
            path.push(Segment::Key(key.to_string()));
            return Err(ConfigError {
                key: full_key(&self.shared.plugin_id, &path),
                origin: None,
                reason: "not a valid key: write keys as `a.b.c`, without empty parts".to_string(),
            });
        }
        if self.value.is_null() && !parts.is_empty() {
            // A plugin without configuration has nothing set.
            return Ok(None);
        }
        let mut value = &self.value;
        let mut path = self.path.clone();
        for part in parts {
            let Json::Object(entries) = value else {
                return Err(self.wrong_type(value, &path, "object"));
            };
            path.push(Segment::Key(part.to_string()));
            match entries.get(part) {
                Some(child) => value = child,
                None => return Ok(None),
            }
        }
        Ok(Some((value, path)))
    }

    fn typed<T>(
        &self,
        key: &str,
        expected: &str,
        read: impl Fn(&Json) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        let Some((value, path)) = self.lookup(key)? else {
            return Ok(None);
        };
        read(value)
            .map(Some)
            .ok_or_else(|| self.wrong_type(value, &path, expected))
    }

    fn required<T>(&self, key: &str, value: Option<T>) -> Result<T, ConfigError> {
        value.ok_or_else(|| {
            let mut path = self.path.clone();
            path.extend(key.split('.').map(|part| Segment::Key(part.to_string())));
            let variable = variable_for(&self.shared.plugin_id, &path);
            ConfigError {
                key: full_key(&self.shared.plugin_id, &path),
                origin: None,
                reason: format!("missing; set it in a configuration file or with {variable}"),
            }
        })
    }

    fn origin_of(&self, path: &[Segment]) -> Option<&(String, bool)> {
        self.shared.origins.get(&relative_key(path))
    }

    fn wrong_type(&self, value: &Json, path: &[Segment], expected: &str) -> ConfigError {
        let origin = self.origin_of(path);
        let secret = origin.is_some_and(|(_, secret)| *secret);
        ConfigError {
            key: full_key(&self.shared.plugin_id, path),
            origin: origin.map(|(place, _)| place.clone()),
            reason: format!("expected {expected}, found {}", describe(value, secret)),
        }
    }
}

/// The key relative to the slice, as the host writes it in origins.
fn relative_key(path: &[Segment]) -> String {
    let mut key = String::new();
    for segment in path {
        match segment {
            Segment::Key(name) if key.is_empty() => key.push_str(name),
            Segment::Key(name) => {
                key.push('.');
                key.push_str(name);
            }
            Segment::Index(index) => key.push_str(&format!("[{index}]")),
        }
    }
    key
}

fn full_key(plugin_id: &str, path: &[Segment]) -> String {
    let relative = relative_key(path);
    if relative.is_empty() {
        plugin_id.to_string()
    } else if relative.starts_with('[') {
        format!("{plugin_id}{relative}")
    } else {
        format!("{plugin_id}.{relative}")
    }
}

/// The variable that sets the key at `path` of the plugin's slice.
fn variable_for(plugin_id: &str, path: &[Segment]) -> String {
    let keys: Vec<String> = std::iter::once(plugin_id.replace('_', "__"))
        .chain(path.iter().map(|segment| match segment {
            Segment::Key(key) => key.replace('_', "__"),
            Segment::Index(index) => index.to_string(),
        }))
        .collect();
    format!("{OVERRIDE_PREFIX}{}", keys.join("_"))
}

/// The type and, unless secret, the value: `string "soon"`, `number 3`.
fn describe(value: &Json, secret: bool) -> String {
    match value {
        Json::Null => "null".to_string(),
        Json::Array(items) => format!("array of {} items", items.len()),
        Json::Object(_) => "object".to_string(),
        _ if secret => format!("{} {REDACTED}", type_name(value)),
        Json::String(text) => format!("string {text:?}"),
        other => format!("{} {other}", type_name(other)),
    }
}

fn type_name(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use abi_stable::std_types::RString;

    use super::*;

    fn origin(key: &str, place: &str, secret: bool) -> ConfigOrigin {
        ConfigOrigin {
            key: RString::from(key),
            origin: RString::from(place),
            secret,
        }
    }

    fn config() -> Config {
        let json = r#"{"refresh": {"interval": "soon", "tags": ["a", 3]}, "token": 5, "on": true}"#;
        Config::from_host(
            "catalog",
            json,
            &[
                origin("refresh", "app-config.yaml:2", false),
                origin("refresh.interval", "app-config.yaml:3", false),
                origin("refresh.tags[1]", "app-config.yaml:5", false),
                origin(
                    "token",
                    "environment variable GREENROOM_CONFIG_catalog_token",
                    true,
                ),
            ],
        )
    }

    #[test]
    fn values_are_read_by_dotted_key() {
        let config = config();
        assert!(config.boolean("on").expect("a boolean"));
        assert_eq!(config.integer("token").expect("an integer"), 5);
        assert_eq!(config.optional_string("absent").expect("absent"), None);
        assert_eq!(
            config.origin("refresh.interval").as_deref(),
            Some("app-config.yaml:3")
        );
    }

    #[test]
    fn a_wrong_type_names_origin_full_key_and_both_types() {
        let error = config().number("refresh.interval").expect_err("a string");
        assert_eq!(
            error.to_string(),
            "app-config.yaml:3: catalog.refresh.interval: expected number, found string \"soon\""
        );
    }

    #[test]
    fn sections_keep_full_keys_and_list_items_are_named_by_position() {
        let section = config().section("refresh").expect("a section");
        assert_eq!(section.key(), "catalog.refresh");
        let error = section.strings("tags").expect_err("not all strings");
        assert_eq!(
            error.to_string(),
            "app-config.yaml:5: catalog.refresh.tags[1]: expected string, found number 3"
        );
        let missing = section.string("url").expect_err("missing");
        assert_eq!(
            missing.to_string(),
            "catalog.refresh.url: missing; set it in a configuration file or with \
             GREENROOM_CONFIG_catalog_refresh_url"
        );
    }

    #[test]
    fn a_list_of_mappings_reads_as_sections_named_by_position() {
        let json = r#"{"locations": [{"type": "file", "target": 3}, "loose"]}"#;
        let config = Config::from_host(
            "catalog",
            json,
            &[origin("locations[0].target", "app-config.yaml:4", false)],
        );

        let error = config
            .sections("locations")
            .expect_err("an item is a string");
        assert_eq!(
            error.to_string(),
            "catalog.locations[1]: expected object, found string \"loose\""
        );
        let json = r#"{"locations": [{"type": "file", "target": 3}]}"#;
        let config = Config::from_host(
            "catalog",
            json,
            &[origin("locations[0].target", "app-config.yaml:4", false)],
        );
        let sections = config.sections("locations").expect("sections");
        assert_eq!(sections[0].string("type").expect("a string"), "file");
        assert_eq!(
            sections[0]
                .string("target")
                .expect_err("a number")
                .to_string(),
            "app-config.yaml:4: catalog.locations[0].target: expected string, found number 3"
        );
        assert!(config.optional_sections("absent").expect("unset").is_none());
    }

    #[test]
    fn secrets_are_described_by_type_only() {
        let error = config().string("token").expect_err("a number");
        assert_eq!(
            error.to_string(),
            "environment variable GREENROOM_CONFIG_catalog_token: catalog.token: expected string, \
             found number <secret>"
        );
    }

    #[test]
    fn no_configuration_reads_as_nothing_set() {
        let config = Config::from_host("catalog", "null", &[]);
        assert_eq!(config.optional_number("a.b").expect("unset"), None);
        assert!(config.string("a").is_err());
    }
}
