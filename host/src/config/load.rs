//! Finding the configuration files, reading each with its dynamic values
//! resolved, and layering them and the environment's overrides into one
//! [`Config`].
//!
//! Without `--config`, the files are, in a base directory and in this order:
//! `app-config.yaml`, `app-config.local.yaml`, and, when the variable
//! [`ENVIRONMENT_VARIABLE`] names an environment such as `production`,
//! `app-config.production.yaml` and `app-config.production.local.yaml`.
//! Missing ones are skipped. Files given with `--config` replace them all,
//! must exist, and the last one wins. Overrides from the environment (see
//! [`super::env`]) come last and win over every file.
//!
//! Loading has limits, so that no file can hang it, crash it or make it
//! take minutes or gigabytes: every file (including those named by
//! `$include` and `$file`) must be a regular file of at most 16 MiB; one
//! load reads at most 1000 files and 64 MiB and holds at most a million
//! keys and values (see [`read`]); and mappings and lists nest at most 128
//! levels deep.

pub(super) mod read;

use std::collections::{BTreeMap, BTreeSet};

use camino::{Utf8Path, Utf8PathBuf};

use self::read::{Budget, Unreadable};
use super::{
    access::Config,
    env,
    error::{ConfigError, ConfigErrors},
    key::KeyPath,
    merge::{merge, remove_nulls},
    substitute::Substitution,
    tree::{Node, Origin, Value},
    yaml,
};

/// The variable naming the environment whose files are added, such as
/// `production` for `app-config.production.yaml`.
pub const ENVIRONMENT_VARIABLE: &str = "GREENROOM_ENV";

/// One configuration file to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigFile {
    /// Its path.
    pub path: Utf8PathBuf,
    /// Whether loading fails when it does not exist (files given with
    /// `--config`) or skips it (the default files).
    pub required: bool,
}

/// Loads configuration: which files, from where, with which environment.
///
/// The environment is a snapshot taken by [`ConfigLoader::process_env`] or
/// given with [`ConfigLoader::env`]; loading never reads the process's
/// environment by itself.
#[derive(Clone, Debug, Default)]
pub struct ConfigLoader {
    base_dir: Utf8PathBuf,
    files: Vec<Utf8PathBuf>,
    env: BTreeMap<String, String>,
}

impl ConfigLoader {
    /// A loader for the default files in the working directory, with an
    /// empty environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Looks for the default files in `dir` instead of the working
    /// directory.
    pub fn base_dir(mut self, dir: impl Into<Utf8PathBuf>) -> Self {
        self.base_dir = dir.into();
        self
    }

    /// Reads `path` instead of the default files; with several, the last
    /// one wins.
    pub fn file(mut self, path: impl Into<Utf8PathBuf>) -> Self {
        self.files.push(path.into());
        self
    }

    /// Uses this process's environment variables (those that are UTF-8).
    pub fn process_env(self) -> Self {
        let vars = std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        });
        self.env(vars)
    }

    /// Uses exactly these environment variables.
    pub fn env<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.env = vars
            .into_iter()
            .map(|(name, value)| (name.into(), value.into()))
            .collect();
        self
    }

    /// Adds or replaces one environment variable.
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(name.into(), value.into());
        self
    }

    /// The files that will be read, lowest priority first.
    pub fn files(&self) -> Vec<ConfigFile> {
        if !self.files.is_empty() {
            return self
                .files
                .iter()
                .map(|path| ConfigFile {
                    path: path.clone(),
                    required: true,
                })
                .collect();
        }
        let mut names = vec![
            "app-config.yaml".to_string(),
            "app-config.local.yaml".to_string(),
        ];
        if let Some(environment) = self.env.get(ENVIRONMENT_VARIABLE).filter(|e| !e.is_empty()) {
            names.push(format!("app-config.{environment}.yaml"));
            names.push(format!("app-config.{environment}.local.yaml"));
        }
        names
            .into_iter()
            .map(|name| ConfigFile {
                path: self.base_dir.join(name),
                required: false,
            })
            .collect()
    }

    /// Reads every file and override and merges them.
    ///
    /// # Errors
    ///
    /// Returns every error found in every file and variable (unreadable,
    /// malformed or too large files, unset variables, bad `$include`s,
    /// overrides naming no key); a partly loaded configuration is never
    /// returned.
    pub fn load(&self) -> Result<Config, ConfigErrors> {
        self.load_reading().0
    }

    /// As [`ConfigLoader::load`], with every file the load tried to read:
    /// the main files and those `$include` and `$file` name, so that a
    /// watcher can follow all of them.
    pub fn load_reading(&self) -> (Result<Config, ConfigErrors>, BTreeSet<Utf8PathBuf>) {
        let mut budget = Budget::default();
        let config = self.load_within(&mut budget);
        (config, std::mem::take(&mut budget.tried))
    }

    fn load_within(&self, budget: &mut Budget) -> Result<Config, ConfigErrors> {
        let mut errors = Vec::new();
        let mut layers = Vec::new();
        for file in self.files() {
            match self.read(&file, budget) {
                Ok(Some(layer)) => layers.push(layer),
                Ok(None) => tracing::debug!(file = %file.path, "no configuration file here"),
                Err(found) => errors.extend(found),
            }
        }
        let (overrides, override_errors) = env::overrides(&self.env);
        errors.extend(override_errors);
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }

        let empty = Node::new(Value::Map(Vec::new()), Origin::default_value());
        let mut root = layers.into_iter().chain(overrides).fold(empty, merge);
        remove_nulls(&mut root);
        Ok(Config::from_root(root))
    }

    /// One file with its dynamic values resolved; `None` when an optional
    /// file does not exist.
    fn read(
        &self,
        file: &ConfigFile,
        budget: &mut Budget,
    ) -> Result<Option<Node>, Vec<ConfigError>> {
        let text = match budget.read(&file.path) {
            Ok(text) => text,
            Err(problem) => return unread(file, problem),
        };
        let node = yaml::parse_within(&text, &file.path, 0, budget).map_err(|error| vec![error])?;

        let mut substitution = Substitution::new(&self.env, budget);
        let node = substitution.resolve_file(node, &file.path, &KeyPath::default());
        if !substitution.errors.is_empty() {
            return Err(substitution.errors);
        }
        top_level_mapping(node, &file.path)
            .map(Some)
            .map_err(|error| vec![error])
    }
}

/// What a file that cannot be read gives: nothing when it is an optional
/// file that does not exist, else its error (none when a limit of the load
/// was reached, which is reported already).
fn unread(file: &ConfigFile, problem: Unreadable) -> Result<Option<Node>, Vec<ConfigError>> {
    let path = file.path.clone();
    match problem {
        Unreadable::Io(error) if error.kind() == std::io::ErrorKind::NotFound && !file.required => {
            Ok(None)
        }
        Unreadable::Io(source) => Err(vec![ConfigError::Read { path, source }]),
        Unreadable::Exhausted => Err(Vec::new()),
        problem => {
            let reason = problem.to_string();
            Err(vec![ConfigError::Unreadable { path, reason }])
        }
    }
}

/// The top of a file must be a mapping; an empty document counts as one.
fn top_level_mapping(node: Node, path: &Utf8Path) -> Result<Node, ConfigError> {
    match node.value {
        Value::Map(_) => Ok(node),
        Value::Null => Ok(Node::new(Value::Map(Vec::new()), Origin::file(path, 1))),
        _ => Err(ConfigError::Invalid {
            origin: node.origin.clone(),
            key: KeyPath::default().to_string(),
            reason: format!(
                "the file must hold a mapping of keys, found {}; write `key: value` lines",
                node.describe()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(loader: &ConfigLoader) -> Vec<String> {
        loader
            .files()
            .into_iter()
            .map(|file| file.path.to_string())
            .collect()
    }

    #[test]
    fn default_files_are_the_base_and_local_ones() {
        assert_eq!(
            paths(&ConfigLoader::new()),
            ["app-config.yaml", "app-config.local.yaml"]
        );
    }

    #[test]
    fn an_environment_adds_its_two_files() {
        let loader = ConfigLoader::new()
            .base_dir("conf")
            .var(ENVIRONMENT_VARIABLE, "production");
        assert_eq!(
            paths(&loader),
            [
                "conf/app-config.yaml",
                "conf/app-config.local.yaml",
                "conf/app-config.production.yaml",
                "conf/app-config.production.local.yaml"
            ]
        );
        assert!(loader.files().iter().all(|file| !file.required));
    }

    #[test]
    fn config_files_replace_the_defaults_and_are_required() {
        let loader = ConfigLoader::new().file("a.yaml").file("b.yaml");
        assert_eq!(paths(&loader), ["a.yaml", "b.yaml"]);
        assert!(loader.files().iter().all(|file| file.required));
    }

    #[test]
    fn nothing_to_read_is_an_empty_configuration() {
        let loader = ConfigLoader::new().base_dir("/nonexistent/greenroom");
        assert_eq!(loader.load().expect("loads").keys(), Vec::<&str>::new());
    }
}
