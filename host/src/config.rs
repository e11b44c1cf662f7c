//! Configuration: layered YAML files and environment overrides, checked
//! against schemas before anything starts.
//!
//! Loading ([`ConfigLoader`]) reads the files in order, resolves their
//! dynamic values (`${VAR}`, `$env`, `$file`, `$include`), lays them over one
//! another (mappings merge, lists and scalars replace, `null` removes), and
//! applies `GREENROOM_CONFIG_...` overrides last. It returns every error at
//! once or a complete [`Config`]; nothing starts half configured.
//!
//! Each value remembers where it came from (file and line, or variable), so
//! that typed access ([`Config::string`] and friends) and schema checks name
//! the file and line of a bad value. Values from the environment or a
//! `$file`, and values a schema marks secret, are never shown: messages and
//! printed configuration say `<secret>` instead.

mod access;
mod auth;
mod command;
mod env;
mod error;
mod host;
mod interpolate;
mod key;
mod load;
mod merge;
#[cfg(test)]
mod properties;
mod schema;
mod secret;
mod selection;
mod settings;
mod slice;
mod startup;
mod substitute;
mod tree;
mod unknown;
mod walk;
mod yaml;

pub use access::Config;
pub use command::{
    CheckReport, PLUGINS_DIR_KEY, PluginSchemas, check_config, plugins_dir, print_config,
};
pub use env::OVERRIDE_PREFIX;
pub use error::{ConfigError, ConfigErrors};
pub use host::{HOST_KEY, host_schema};
pub use load::{ConfigFile, ConfigLoader, ENVIRONMENT_VARIABLE};
pub use schema::{
    ConfigProblem, ProblemKind, check_all, check_host, check_plugins, check_unclaimed_keys,
};
pub use secret::{SECRET_ANNOTATION, mark_schema_secrets};
pub use selection::{EXCLUDE_KEY, INCLUDE_KEY, PluginSelection, glob_matches};
pub use settings::HostSettings;
pub use slice::{PluginSlice, ValueOrigin};
pub use startup::{BootFailure, StartupPolicy};
pub use tree::{Origin, REDACTED, Source};
