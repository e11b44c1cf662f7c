//! The host's own settings, read from `backend`, each with its default:
//!
//! ```yaml
//! backend:
//!   listen:
//!     host: 127.0.0.1        # an IP address or `localhost`
//!     port: 7007             # 0 picks a free port
//!   plugins:
//!     dir: plugins           # where plugin libraries are found
//!     include: [cat*]        # see PluginSelection
//!     exclude: [legacy]
//!   startup:
//!     initTimeout: 30s       # one plugin's or module's initialization
//!     hookTimeout: 10s       # one startup or shutdown hook
//!     default: {onPluginBootFailure: abort}   # see StartupPolicy
//!   http:
//!     bodyLimit: 10485760    # bytes; a larger request body gets 413
//!     requestTimeout: 30s    # a slower plugin answer gets 504
//!     drainTimeout: 10s      # how long shutdown waits for requests
//!   resolve:
//!     orphanModules: warn    # or error: a module whose plugin is absent
//! ```
//!
//! A duration is a number of seconds or a number with a unit: `500ms`,
//! `30s`, `2m`, `1h`. Command-line options win over these keys.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::Duration,
};

use camino::Utf8PathBuf;

use super::{
    access::{Config, wrong_type},
    command::PLUGINS_DIR_KEY,
    error::{ConfigError, ConfigErrors},
    selection::PluginSelection,
    startup::StartupPolicy,
    tree::Value,
};
use crate::serve::HttpOptions;

/// The host's settings from `backend`, with defaults for what is not set.
#[derive(Clone, Debug)]
pub struct HostSettings {
    /// `backend.plugins.dir`, when set.
    pub plugins_dir: Option<Utf8PathBuf>,
    /// `backend.listen.host` and `port`.
    pub listen: SocketAddr,
    /// `backend.startup.initTimeout`.
    pub init_timeout: Duration,
    /// `backend.startup.hookTimeout`.
    pub hook_timeout: Duration,
    /// `backend.http.*`, with [`HostSettings::listen`] as the address.
    pub http: HttpOptions,
    /// `backend.resolve.orphanModules` is `error`.
    pub orphan_modules_are_errors: bool,
    /// `backend.plugins.include` and `exclude`.
    pub selection: PluginSelection,
    /// `backend.startup`'s failure policy.
    pub policy: StartupPolicy,
    /// `backend.database`: where plugins' databases live.
    pub database: crate::services::DatabaseClient,
    /// `backend.plugins.sha256`: the hashes plugin files must have.
    pub pins: crate::check::Pins,
}

impl Default for HostSettings {
    fn default() -> Self {
        let http = HttpOptions::default();
        Self {
            plugins_dir: None,
            listen: http.listen,
            init_timeout: Duration::from_secs(30),
            hook_timeout: Duration::from_secs(10),
            http,
            orphan_modules_are_errors: false,
            selection: PluginSelection::all(),
            policy: StartupPolicy::default(),
            database: crate::services::DatabaseClient::default(),
            pins: crate::check::Pins::default(),
        }
    }
}

impl HostSettings {
    /// Reads the settings from `config`.
    ///
    /// # Errors
    ///
    /// Returns every bad value at once, each naming its key, file and line
    /// and what was expected.
    pub fn from_config(config: &Config) -> Result<Self, ConfigErrors> {
        let mut errors = Vec::new();
        let defaults = Self::default();
        let mut take = |result: Result<(), ConfigError>| {
            if let Err(error) = result {
                errors.push(error);
            }
        };
        let mut settings = defaults.clone();
        take(config.optional_string(PLUGINS_DIR_KEY).map(|dir| {
            settings.plugins_dir = dir.map(Utf8PathBuf::from);
        }));
        take(listen_address(config).map(|listen| settings.listen = listen));
        take(duration(
            config,
            "backend.startup.initTimeout",
            &mut settings.init_timeout,
        ));
        take(duration(
            config,
            "backend.startup.hookTimeout",
            &mut settings.hook_timeout,
        ));
        take(body_limit(config).map(|limit| {
            if let Some(limit) = limit {
                settings.http.body_limit = limit;
            }
        }));
        let http = &mut settings.http;
        take(duration(
            config,
            "backend.http.requestTimeout",
            &mut http.request_timeout,
        ));
        take(duration(
            config,
            "backend.http.drainTimeout",
            &mut http.drain_timeout,
        ));
        take(orphan_modules(config).map(|errors| settings.orphan_modules_are_errors = errors));
        match super::auth::auth_policy(config) {
            Ok(policy) => settings.http.auth = policy,
            Err(found) => errors.extend(found),
        }
        match super::auth::cors(config) {
            Ok(cors) => settings.http.cors = cors,
            Err(found) => errors.extend(found),
        }
        match super::auth::tls(config) {
            Ok(tls) => settings.http.tls = tls,
            Err(found) => errors.extend(found),
        }
        match database(config) {
            Ok(database) => settings.database = database,
            Err(error) => errors.push(error),
        }
        match pins(config) {
            Ok(pins) => settings.pins = pins,
            Err(error) => errors.push(error),
        }
        settings.http.listen = settings.listen;

        match PluginSelection::from_config(config) {
            Ok(selection) => settings.selection = selection,
            Err(found) => errors.extend(found.0),
        }
        match StartupPolicy::from_config(config) {
            Ok(policy) => settings.policy = policy,
            Err(found) => errors.extend(found.0),
        }
        if errors.is_empty() {
            Ok(settings)
        } else {
            Err(ConfigErrors(errors))
        }
    }
}

fn listen_address(config: &Config) -> Result<SocketAddr, ConfigError> {
    let port = match config.lookup("backend.listen.port")? {
        None => 7007,
        Some((node, path)) => match node.value {
            Value::Integer(port) => u16::try_from(port)
                .map_err(|_| wrong_type(node, &path, "port number from 0 to 65535"))?,
            _ => return Err(wrong_type(node, &path, "port number from 0 to 65535")),
        },
    };
    let host = match config.lookup("backend.listen.host")? {
        None => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some((node, path)) => match &node.value {
            Value::String(host) if host == "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Value::String(host) => host
                .parse()
                .map_err(|_| wrong_type(node, &path, "IP address or `localhost`"))?,
            _ => return Err(wrong_type(node, &path, "IP address or `localhost`")),
        },
    };
    Ok(SocketAddr::new(host, port))
}

/// Sets `slot` from the duration at `key`, when it is set.
fn duration(config: &Config, key: &str, slot: &mut Duration) -> Result<(), ConfigError> {
    let Some((node, path)) = config.lookup(key)? else {
        return Ok(());
    };
    let expected = "duration such as 30, 30s, 500ms or 2m";
    let parsed = match &node.value {
        Value::Integer(seconds) => u64::try_from(*seconds).ok().map(Duration::from_secs),
        Value::Float(seconds) => Duration::try_from_secs_f64(*seconds).ok(),
        Value::String(text) => parse_duration(text),
        _ => None,
    };
    match parsed {
        Some(duration) if !duration.is_zero() => {
            *slot = duration;
            Ok(())
        }
        _ => Err(wrong_type(node, &path, expected)),
    }
}

/// Parses `500ms`, `30s`, `2m`, `1h` or a bare number of seconds.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}

fn body_limit(config: &Config) -> Result<Option<usize>, ConfigError> {
    let Some((node, path)) = config.lookup("backend.http.bodyLimit")? else {
        return Ok(None);
    };
    match node.value {
        Value::Integer(bytes) => usize::try_from(bytes)
            .map(Some)
            .map_err(|_| wrong_type(node, &path, "number of bytes")),
        _ => Err(wrong_type(node, &path, "number of bytes")),
    }
}

/// Reads `backend.plugins.sha256`: file names (dots and all) or plugin
/// ids to hashes.
fn pins(config: &Config) -> Result<crate::check::Pins, ConfigError> {
    let mut pins = crate::check::Pins::default();
    let Some((node, path)) = config.lookup("backend.plugins.sha256")? else {
        return Ok(pins);
    };
    let Value::Map(entries) = &node.value else {
        return Err(wrong_type(
            node,
            &path,
            "mapping of file names or plugin ids to hashes",
        ));
    };
    for (name, entry) in entries {
        let Value::String(hash) = &entry.value else {
            return Err(wrong_type(entry, &path.child(name), "string"));
        };
        pins.insert(name, hash)
            .map_err(|reason| ConfigError::Invalid {
                origin: entry.origin.clone(),
                key: path.child(name).to_string(),
                reason,
            })?;
    }
    Ok(pins)
}

/// Reads `backend.database`: `client` (`sqlite`, the default, or
/// `postgres`), `directory` for SQLite files, `connection` for PostgreSQL.
fn database(config: &Config) -> Result<crate::services::DatabaseClient, ConfigError> {
    use crate::services::DatabaseClient;

    match config
        .optional_string("backend.database.client")?
        .as_deref()
    {
        None | Some("sqlite") => {
            let directory = config
                .optional_string("backend.database.directory")?
                .unwrap_or_else(|| "data".to_string());
            Ok(DatabaseClient::Sqlite {
                directory: directory.into(),
            })
        }
        Some("postgres" | "pg") => Ok(DatabaseClient::Postgres {
            connection: config.string("backend.database.connection")?,
        }),
        Some(_) => {
            let (node, path) = config
                .lookup("backend.database.client")?
                .expect("the key was just read");
            Err(wrong_type(node, &path, "`sqlite` or `postgres`"))
        }
    }
}

fn orphan_modules(config: &Config) -> Result<bool, ConfigError> {
    match config.optional_string("backend.resolve.orphanModules")? {
        None => Ok(false),
        Some(value) if value == "warn" => Ok(false),
        Some(value) if value == "error" => Ok(true),
        Some(_) => {
            let (node, path) = config
                .lookup("backend.resolve.orphanModules")?
                .expect("the key was just read");
            Err(wrong_type(node, &path, "`warn` or `error`"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::yaml::parse;

    fn settings(text: &str) -> Result<HostSettings, ConfigErrors> {
        let node = parse(text, "app-config.yaml".into()).expect("valid YAML");
        HostSettings::from_config(&Config::from_root(node))
    }

    #[test]
    fn nothing_set_gives_the_documented_defaults() {
        let settings = settings("{}\n").expect("valid");
        assert_eq!(settings.listen, SocketAddr::from(([127, 0, 0, 1], 7007)));
        assert_eq!(settings.init_timeout, Duration::from_secs(30));
        assert_eq!(settings.hook_timeout, Duration::from_secs(10));
        assert_eq!(settings.http.body_limit, 10 * 1024 * 1024);
        assert_eq!(settings.http.request_timeout, Duration::from_secs(30));
        assert!(!settings.orphan_modules_are_errors);
        assert_eq!(settings.plugins_dir, None);
    }

    #[test]
    fn every_key_is_read() {
        let settings = settings(
            "backend:\n  listen:\n    host: 0.0.0.0\n    port: 8080\n  plugins:\n    dir: p\n  \
             startup:\n    initTimeout: 2m\n    hookTimeout: 1.5\n  http:\n    bodyLimit: 1024\n    \
             requestTimeout: 500ms\n    drainTimeout: 3s\n  resolve:\n    orphanModules: error\n",
        )
        .expect("valid");
        assert_eq!(settings.listen, SocketAddr::from(([0, 0, 0, 0], 8080)));
        assert_eq!(settings.http.listen, settings.listen);
        assert_eq!(settings.plugins_dir, Some("p".into()));
        assert_eq!(settings.init_timeout, Duration::from_secs(120));
        assert_eq!(settings.hook_timeout, Duration::from_millis(1500));
        assert_eq!(settings.http.body_limit, 1024);
        assert_eq!(settings.http.request_timeout, Duration::from_millis(500));
        assert_eq!(settings.http.drain_timeout, Duration::from_secs(3));
        assert!(settings.orphan_modules_are_errors);
    }

    #[test]
    fn bad_values_are_all_reported_with_key_file_and_line() {
        let errors = settings(
            "backend:\n  listen:\n    host: somewhere\n  startup:\n    initTimeout: soon\n    \
             hookTimeout: 0\n  resolve:\n    orphanModules: maybe\n",
        )
        .expect_err("bad values");
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "app-config.yaml:3: backend.listen.host: expected IP address or `localhost`, \
                 found string \"somewhere\"",
                "app-config.yaml:5: backend.startup.initTimeout: expected duration such as 30, \
                 30s, 500ms or 2m, found string \"soon\"",
                "app-config.yaml:6: backend.startup.hookTimeout: expected duration such as 30, \
                 30s, 500ms or 2m, found number 0",
                "app-config.yaml:8: backend.resolve.orphanModules: expected `warn` or `error`, \
                 found string \"maybe\"",
            ]
        );
    }

    #[test]
    fn durations_take_a_unit_or_mean_seconds() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("2 weeks"), None);
        assert_eq!(parse_duration(""), None);
    }
}
