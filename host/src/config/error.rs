//! Why configuration could not be loaded or read.

use std::fmt;

use camino::Utf8PathBuf;

use super::tree::Origin;

/// Why configuration could not be loaded, or a value could not be read.
///
/// No message ever holds a secret value: values are described by type only
/// when they are secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A configuration file (or a file named by `$file` or `$include`)
    /// could not be read.
    #[error("cannot read {path}: {source}; check the path and its permissions")]
    Read {
        /// The file.
        path: Utf8PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A configuration file (or a file named by `$file` or `$include`) is
    /// not a regular file, is too large, is not UTF-8, or would take the
    /// load past its limits.
    #[error("cannot read {path}: {reason}")]
    Unreadable {
        /// The file.
        path: Utf8PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A file nests mappings and lists too deeply.
    #[error(
        "{path}:{line}: mappings and lists nest more than {limit} levels deep here (counted \
         from the top of the configuration); flatten them"
    )]
    TooDeep {
        /// The file.
        path: Utf8PathBuf,
        /// The line, from 1, where the first level past the limit starts.
        line: usize,
        /// The most levels allowed.
        limit: usize,
    },
    /// A file is not valid YAML.
    #[error("{path}:{line}:{column}: invalid YAML: {reason}; fix the syntax there")]
    Syntax {
        /// The file.
        path: Utf8PathBuf,
        /// The line, from 1.
        line: usize,
        /// The column, from 1.
        column: usize,
        /// What the parser said.
        reason: String,
    },
    /// A file holds more than one YAML document.
    #[error("{path}: holds {count} YAML documents; keep one by removing the extra `---` lines")]
    MultipleDocuments {
        /// The file.
        path: Utf8PathBuf,
        /// How many documents it holds.
        count: usize,
    },
    /// `${VAR}` or `$env: VAR` names a variable that is not set.
    #[error(
        "{origin}: {key}: environment variable {variable} is not set; set it, or give a \
         default with ${{{variable}:-default}}"
    )]
    MissingVariable {
        /// Where the reference is written.
        origin: Origin,
        /// The key whose value names the variable.
        key: String,
        /// The variable.
        variable: String,
    },
    /// `${...}`, `$env`, `$file` or `$include` is written wrongly or names
    /// something unusable.
    #[error("{origin}: {key}: {reason}")]
    Substitution {
        /// Where it is written.
        origin: Origin,
        /// The key it is written under.
        key: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A `GREENROOM_CONFIG_...` variable cannot be applied.
    #[error("environment variable {variable}: {reason}")]
    Override {
        /// The variable.
        variable: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A required key has no value.
    #[error("{key}: missing; set it in a configuration file or with {variable}")]
    Missing {
        /// The full key.
        key: String,
        /// The environment variable that would set it.
        variable: String,
    },
    /// A value has the wrong type.
    #[error("{origin}: {key}: expected {expected}, found {found}")]
    WrongType {
        /// Where the value came from.
        origin: Origin,
        /// The full key.
        key: String,
        /// The type that was asked for.
        expected: &'static str,
        /// The type found, with the value unless it is secret.
        found: String,
    },
    /// A value has the right type but is not allowed.
    #[error("{origin}: {key}: {reason}")]
    Invalid {
        /// Where the value came from.
        origin: Origin,
        /// The full key.
        key: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A key asked for by code is not a dotted key.
    #[error(
        "`{key}` is not a configuration key; use dot-separated names such as backend.listen.port"
    )]
    InvalidKey {
        /// The key as given.
        key: String,
    },
}

/// Every error found while loading configuration, in the order found.
///
/// Loading reports all of them at once so that one run shows everything to
/// fix; no partly loaded configuration is ever returned.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The errors, in the order found.
    pub fn iter(&self) -> impl Iterator<Item = &ConfigError> {
        self.0.iter()
    }

    /// How many errors there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, error) in self.0.iter().enumerate() {
            if position > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        Self(vec![error])
    }
}

impl From<Vec<ConfigError>> for ConfigErrors {
    fn from(errors: Vec<ConfigError>) -> Self {
        Self(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_print_one_a_line() {
        let errors = ConfigErrors(vec![
            ConfigError::InvalidKey {
                key: "a..b".to_string(),
            },
            ConfigError::Override {
                variable: "GREENROOM_CONFIG_".to_string(),
                reason: "names no key".to_string(),
            },
        ]);
        assert_eq!(
            errors.to_string(),
            "`a..b` is not a configuration key; use dot-separated names such as \
             backend.listen.port\nenvironment variable GREENROOM_CONFIG_: names no key"
        );
    }

    #[test]
    fn a_missing_variable_says_how_to_give_a_default() {
        let error = ConfigError::MissingVariable {
            origin: Origin::file("app-config.yaml".into(), 3),
            key: "catalog.token".to_string(),
            variable: "TOKEN".to_string(),
        };
        assert_eq!(
            error.to_string(),
            "app-config.yaml:3: catalog.token: environment variable TOKEN is not set; set it, \
             or give a default with ${TOKEN:-default}"
        );
    }
}
