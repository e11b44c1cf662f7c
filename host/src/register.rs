//! Stage four: ask a loaded library what it provides, and validate the
//! answer.
//!
//! Nothing a library returns is trusted: ids must follow the naming rules,
//! versions and requirements must parse, and the plugins and modules it
//! registers must be exactly the ones its declaration named (the host has
//! already decided exclusions and duplicates from the declaration).

use std::{collections::BTreeSet, fmt};

use abi_stable::std_types::RResult;
use greenroom_contract::{self as contract, ErrorCode, ParsedDeclaration, PluginError};
use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

/// What a dependency points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DependencyKind {
    /// A service, by service id.
    Service,
    /// An extension point, by extension point id (modules only).
    ExtensionPoint,
    /// Another plugin, by plugin id.
    Plugin,
}

impl From<contract::DependencyKind> for DependencyKind {
    fn from(kind: contract::DependencyKind) -> Self {
        match kind {
            contract::DependencyKind::Service => Self::Service,
            contract::DependencyKind::ExtensionPoint => Self::ExtensionPoint,
            contract::DependencyKind::Plugin => Self::Plugin,
        }
    }
}

impl fmt::Display for DependencyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Service => "service",
            Self::ExtensionPoint => "extension point",
            Self::Plugin => "plugin",
        })
    }
}

/// Whether one service instance serves the whole host or each plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceScope {
    /// One instance for the whole host.
    Root,
    /// One instance for each plugin that asks for it.
    Plugin,
}

impl From<contract::ServiceScope> for ServiceScope {
    fn from(scope: contract::ServiceScope) -> Self {
        match scope {
            contract::ServiceScope::Root => Self::Root,
            contract::ServiceScope::Plugin => Self::Plugin,
        }
    }
}

impl fmt::Display for ServiceScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Root => "root",
            Self::Plugin => "plugin",
        })
    }
}

/// Why a library's registration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// The registration entry point panicked.
    #[error("registration panicked: {message}")]
    Panicked {
        /// The panic message.
        message: String,
    },
    /// The registration entry point returned an error.
    #[error("registration failed: {message}")]
    Failed {
        /// The library's message.
        message: String,
    },
    /// An id breaks the naming rules.
    #[error("{what} `{id}` is not a valid id: {rule}")]
    InvalidId {
        /// What the id names.
        what: &'static str,
        /// The id.
        id: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// A version or version requirement does not parse.
    #[error("{what} has an invalid {field} `{value}`: {reason}")]
    InvalidVersion {
        /// What the version belongs to.
        what: String,
        /// Which field it is.
        field: &'static str,
        /// The text.
        value: String,
        /// What the parser said.
        reason: String,
    },
    /// A configuration schema is not JSON.
    #[error("{what} has a configuration schema that is not valid JSON Schema: {reason}")]
    InvalidSchema {
        /// Whose schema it is.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// A registration lists more than any library needs.
    #[error(
        "{what} lists {count} {items}, more than the {limit} allowed; the library is damaged or \
         declares far too much"
    )]
    TooMany {
        /// Whose list it is.
        what: String,
        /// What the list holds.
        items: &'static str,
        /// How many it lists.
        count: usize,
        /// The most allowed.
        limit: usize,
    },
    /// Registered features differ from the declaration in the file.
    #[error(
        "the library registers {registered} but its declaration lists {declared}; rebuild it with greenroom_sdk::export!"
    )]
    Mismatch {
        /// What it registered.
        registered: String,
        /// What its declaration lists.
        declared: String,
    },
}

impl From<PluginError> for RegisterError {
    fn from(error: PluginError) -> Self {
        let message = error.message.into_string();
        if error.code == ErrorCode::PANICKED {
            Self::Panicked { message }
        } else {
            Self::Failed { message }
        }
    }
}

/// A validated plugin or module id: lowercase letters, digits and dashes,
/// starting with a letter.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PluginId(String);

/// The longest id accepted.
const MAX_ID_LEN: usize = 100;

/// The rule a too long id breaks.
const LENGTH_RULE: &str = "use at most 100 characters";

/// The most plugins and modules one library may register.
const MAX_FEATURES: usize = 256;

/// The most dependencies, extension points or services one feature may
/// list.
const MAX_ENTRIES: usize = 1024;

/// The largest configuration schema accepted, in bytes.
const MAX_SCHEMA_BYTES: usize = 1024 * 1024;

/// `id` for an error message: whole when short, its start otherwise.
fn shown(id: &str) -> String {
    if id.len() <= MAX_ID_LEN {
        return id.to_string();
    }
    let end = (0..=MAX_ID_LEN)
        .rev()
        .find(|at| id.is_char_boundary(*at))
        .unwrap_or(0);
    format!("{}… ({} bytes)", &id[..end], id.len())
}

impl PluginId {
    const RULE: &'static str = "use lowercase letters, digits and dashes, starting with a letter";

    /// Validates `id`.
    ///
    /// # Errors
    ///
    /// Returns an error naming the rule when `id` breaks it.
    pub fn parse(what: &'static str, id: &str) -> Result<Self, RegisterError> {
        let mut chars = id.chars();
        let valid = id.len() <= MAX_ID_LEN
            && chars.next().is_some_and(|first| first.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if valid {
            Ok(Self(id.to_string()))
        } else {
            Err(RegisterError::InvalidId {
                what,
                id: shown(id),
                rule: if id.len() > MAX_ID_LEN {
                    LENGTH_RULE
                } else {
                    Self::RULE
                },
            })
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for PluginId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PluginId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated extension point or service id: words of lowercase letters,
/// digits and dashes, each starting with a letter, joined by dots.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FeatureId(String);

impl FeatureId {
    const RULE: &'static str = "use words of lowercase letters, digits and dashes, each starting with a letter, joined by dots";

    /// Validates `id`.
    ///
    /// # Errors
    ///
    /// Returns an error naming the rule when `id` breaks it.
    pub fn parse(what: &'static str, id: &str) -> Result<Self, RegisterError> {
        if id.len() <= MAX_ID_LEN
            && id
                .split('.')
                .all(|word| PluginId::parse(what, word).is_ok())
        {
            Ok(Self(id.to_string()))
        } else {
            Err(RegisterError::InvalidId {
                what,
                id: shown(id),
                rule: if id.len() > MAX_ID_LEN {
                    LENGTH_RULE
                } else {
                    Self::RULE
                },
            })
        }
    }
}

impl FeatureId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FeatureId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything one library provides, validated.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Features {
    /// Its plugins.
    pub plugins: Vec<Plugin>,
    /// Its modules.
    pub modules: Vec<Module>,
}

/// A validated plugin.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plugin {
    /// Its id.
    pub id: PluginId,
    /// Its own version.
    pub version: Version,
    /// The JSON Schema of its configuration, if it declared one.
    pub config_schema: Option<serde_json::Value>,
    /// What it needs, what it provides.
    #[serde(flatten)]
    pub features: FeatureSet,
}

/// A validated module.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Module {
    /// The plugin it extends.
    pub plugin_id: PluginId,
    /// Its id within that plugin.
    pub module_id: PluginId,
    /// What it needs, what it provides.
    #[serde(flatten)]
    pub features: FeatureSet,
}

/// Dependencies and provisions of a plugin or module.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FeatureSet {
    /// What it needs.
    pub dependencies: Vec<Dependency>,
    /// The extension points it offers.
    pub extension_points: Vec<Provided>,
    /// The services it provides.
    pub services: Vec<Service>,
}

/// A validated dependency.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Dependency {
    /// What kind of feature it points at.
    pub kind: DependencyKind,
    /// The id of that feature.
    pub id: String,
    /// The versions accepted.
    pub version_req: VersionReq,
    /// Whether initialization may go on without it.
    pub optional: bool,
}

/// A provided extension point.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Provided {
    /// Its id.
    pub id: FeatureId,
    /// Its interface version.
    pub version: Version,
}

/// A provided service.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Service {
    /// Its id.
    pub id: FeatureId,
    /// Its interface version.
    pub version: Version,
    /// Whether there is one instance or one per plugin.
    pub scope: ServiceScope,
    /// Whether this is one of many contributions to the service.
    pub multiton: bool,
    /// Whether this wraps the service's existing implementation.
    pub wraps: bool,
}

/// Calls a library's registration entry point and validates what it returns
/// against its declaration.
///
/// # Errors
///
/// Returns an error when registration panics or fails, or returns features
/// that break a rule or differ from the declaration.
pub fn register(
    entry: impl FnOnce() -> RResult<contract::Registration, PluginError>,
    declaration: &ParsedDeclaration,
) -> Result<Features, RegisterError> {
    let registration = entry().into_result()?;
    let features = validate(registration)?;
    check_against_declaration(&features, declaration)?;
    Ok(features)
}

/// Validates a registration on its own.
///
/// # Errors
///
/// Returns the first rule a feature breaks.
pub fn validate(registration: contract::Registration) -> Result<Features, RegisterError> {
    bounded(
        "the library",
        "plugins and modules",
        registration.plugins.len() + registration.modules.len(),
        MAX_FEATURES,
    )?;
    let plugins = registration
        .plugins
        .into_iter()
        .map(|plugin| {
            let id = PluginId::parse("plugin id", &plugin.id)?;
            let what = format!("plugin `{id}`");
            Ok(Plugin {
                version: parse_version(&what, "version", &plugin.version)?,
                config_schema: parse_schema(&what, &plugin.config_schema)?,
                features: feature_set(
                    &what,
                    plugin.dependencies,
                    plugin.extension_points,
                    plugin.services,
                )?,
                id,
            })
        })
        .collect::<Result<_, RegisterError>>()?;
    let modules = registration
        .modules
        .into_iter()
        .map(|module| {
            let plugin_id = PluginId::parse("plugin id", &module.plugin_id)?;
            let module_id = PluginId::parse("module id", &module.module_id)?;
            let what = format!("module `{plugin_id}/{module_id}`");
            Ok(Module {
                features: feature_set(
                    &what,
                    module.dependencies,
                    module.extension_points,
                    module.services,
                )?,
                plugin_id,
                module_id,
            })
        })
        .collect::<Result<_, RegisterError>>()?;
    Ok(Features { plugins, modules })
}

fn bounded(
    what: &str,
    items: &'static str,
    count: usize,
    limit: usize,
) -> Result<(), RegisterError> {
    if count > limit {
        return Err(RegisterError::TooMany {
            what: what.to_string(),
            items,
            count,
            limit,
        });
    }
    Ok(())
}

fn feature_set(
    what: &str,
    dependencies: abi_stable::std_types::RVec<contract::Dependency>,
    extension_points: abi_stable::std_types::RVec<contract::ExtensionPointDescriptor>,
    services: abi_stable::std_types::RVec<contract::ServiceDescriptor>,
) -> Result<FeatureSet, RegisterError> {
    bounded(what, "dependencies", dependencies.len(), MAX_ENTRIES)?;
    bounded(
        what,
        "extension points",
        extension_points.len(),
        MAX_ENTRIES,
    )?;
    bounded(what, "services", services.len(), MAX_ENTRIES)?;
    let dependencies = dependencies
        .into_iter()
        .map(|dependency| {
            let id = dependency.id.into_string();
            let kind = DependencyKind::from(dependency.kind);
            match kind {
                DependencyKind::Plugin => PluginId::parse("plugin id", &id).map(drop)?,
                _ => FeatureId::parse("dependency id", &id).map(drop)?,
            }
            let version_req = VersionReq::parse(&dependency.version_req).map_err(|error| {
                RegisterError::InvalidVersion {
                    what: format!("{what}'s dependency on `{id}`"),
                    field: "version requirement",
                    value: shown(&dependency.version_req),
                    reason: error.to_string(),
                }
            })?;
            Ok(Dependency {
                kind,
                id,
                version_req,
                optional: dependency.optional,
            })
        })
        .collect::<Result<_, RegisterError>>()?;
    let extension_points = extension_points
        .into_iter()
        .map(|point| {
            Ok(Provided {
                id: FeatureId::parse("extension point id", &point.id)?,
                version: parse_version(what, "extension point version", &point.version)?,
            })
        })
        .collect::<Result<_, RegisterError>>()?;
    let services = services
        .into_iter()
        .map(|service| {
            Ok(Service {
                id: FeatureId::parse("service id", &service.id)?,
                version: parse_version(what, "service version", &service.version)?,
                scope: service.scope.into(),
                multiton: service.multiton,
                wraps: service.wraps,
            })
        })
        .collect::<Result<_, RegisterError>>()?;
    Ok(FeatureSet {
        dependencies,
        extension_points,
        services,
    })
}

fn parse_schema(what: &str, text: &str) -> Result<Option<serde_json::Value>, RegisterError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    if text.len() > MAX_SCHEMA_BYTES {
        return Err(RegisterError::InvalidSchema {
            what: what.to_string(),
            reason: format!(
                "it holds {} bytes, more than the {MAX_SCHEMA_BYTES} a schema may",
                text.len()
            ),
        });
    }
    let schema: serde_json::Value =
        serde_json::from_str(text).map_err(|error| RegisterError::InvalidSchema {
            what: what.to_string(),
            reason: error.to_string(),
        })?;
    if !schema.is_object() && !schema.is_boolean() {
        return Err(RegisterError::InvalidSchema {
            what: what.to_string(),
            reason: "a schema is a JSON object or a boolean".to_string(),
        });
    }
    Ok(Some(schema))
}

fn parse_version(what: &str, field: &'static str, value: &str) -> Result<Version, RegisterError> {
    Version::parse(value).map_err(|error| RegisterError::InvalidVersion {
        what: what.to_string(),
        field,
        value: shown(value),
        reason: error.to_string(),
    })
}

fn check_against_declaration(
    features: &Features,
    declaration: &ParsedDeclaration,
) -> Result<(), RegisterError> {
    let registered: BTreeSet<String> = features
        .plugins
        .iter()
        .map(|plugin| format!("plugin `{}`", plugin.id))
        .chain(
            features
                .modules
                .iter()
                .map(|module| format!("module `{}/{}`", module.plugin_id, module.module_id)),
        )
        .collect();
    let declared: BTreeSet<String> = declaration
        .plugins
        .iter()
        .map(|id| format!("plugin `{id}`"))
        .chain(
            declaration
                .modules
                .iter()
                .map(|(plugin, module)| format!("module `{plugin}/{module}`")),
        )
        .collect();
    let count = features.plugins.len() + features.modules.len();
    if registered == declared && registered.len() == count {
        return Ok(());
    }
    let list = |set: &BTreeSet<String>| {
        if set.is_empty() {
            "nothing".to_string()
        } else {
            set.iter().cloned().collect::<Vec<_>>().join(", ")
        }
    };
    Err(RegisterError::Mismatch {
        registered: list(&registered),
        declared: list(&declared),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_ids_follow_the_rule() {
        for good in ["a", "hello", "catalog-backend", "x2"] {
            assert!(PluginId::parse("plugin id", good).is_ok(), "{good}");
        }
        for bad in ["", "Hello", "2x", "-a", "a_b", "a.b", "ü"] {
            let error = PluginId::parse("plugin id", bad).unwrap_err().to_string();
            assert_eq!(
                error,
                format!(
                    "plugin id `{bad}` is not a valid id: use lowercase letters, digits and \
                     dashes, starting with a letter"
                )
            );
        }
    }

    #[test]
    fn feature_ids_are_dotted_words() {
        for good in ["catalog", "catalog.processing", "core.root-logger"] {
            assert!(FeatureId::parse("service id", good).is_ok(), "{good}");
        }
        for bad in ["", "catalog.", ".catalog", "catalog..x", "Catalog.x"] {
            assert!(FeatureId::parse("service id", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn huge_lists_and_ids_are_refused_with_their_size_not_their_contents() {
        let plugin = |id: &str, dependencies: usize| contract::PluginDescriptor {
            id: id.into(),
            version: "1.0.0".into(),
            dependencies: (0..dependencies)
                .map(|number| contract::Dependency {
                    kind: contract::DependencyKind::Service,
                    id: format!("s{number}").into(),
                    version_req: "^1".into(),
                    optional: false,
                })
                .collect(),
            extension_points: Default::default(),
            services: Default::default(),
            config_schema: "".into(),
        };
        let registration = |plugins: Vec<contract::PluginDescriptor>| contract::Registration {
            plugins: plugins.into(),
            modules: Default::default(),
        };

        let many = validate(registration(vec![plugin("a", MAX_ENTRIES + 1)]));
        assert_eq!(
            many.unwrap_err().to_string(),
            "plugin `a` lists 1025 dependencies, more than the 1024 allowed; the library is \
             damaged or declares far too much"
        );
        let long = "a".repeat(1_000_000);
        let error = validate(registration(vec![plugin(&long, 0)]))
            .unwrap_err()
            .to_string();
        assert!(error.len() < 300, "{}", &error[..300]);
        assert!(
            error.ends_with("… (1000000 bytes)` is not a valid id: use at most 100 characters")
        );
        let plugins = (0..=MAX_FEATURES)
            .map(|n| plugin(&format!("p{n}"), 0))
            .collect();
        assert!(matches!(
            validate(registration(plugins)),
            Err(RegisterError::TooMany { count: 257, .. })
        ));
    }

    mod properties {
        use proptest::{
            prelude::*,
            test_runner::{Config, RngSeed},
        };

        use super::super::*;

        fn config() -> Config {
            Config {
                cases: 256,
                rng_seed: RngSeed::Fixed(0x7265_6769_7374_6572),
                failure_persistence: None,
                ..Config::default()
            }
        }

        /// Text that is sometimes an id, sometimes almost one.
        fn text() -> impl Strategy<Value = String> {
            prop_oneof![
                "[a-z][a-z0-9-]{0,12}",
                "[a-z]{1,6}\\.[a-z]{1,6}",
                "\\PC{0,16}"
            ]
        }

        fn dependency() -> impl Strategy<Value = contract::Dependency> {
            (
                0_u8..3,
                text(),
                prop_oneof!["\\^1", "\\PC{0,8}"],
                any::<bool>(),
            )
                .prop_map(|(kind, id, version_req, optional)| contract::Dependency {
                    kind: match kind {
                        0 => contract::DependencyKind::Plugin,
                        1 => contract::DependencyKind::Service,
                        _ => contract::DependencyKind::ExtensionPoint,
                    },
                    id: id.into(),
                    version_req: version_req.into(),
                    optional,
                })
        }

        fn plugin() -> impl Strategy<Value = contract::PluginDescriptor> {
            (
                text(),
                prop_oneof!["1\\.0\\.0", "\\PC{0,8}"],
                prop::collection::vec(dependency(), 0..4),
                prop_oneof!["", "\\{\\}", "\\PC{0,12}"],
            )
                .prop_map(|(id, version, dependencies, schema)| {
                    contract::PluginDescriptor {
                        id: id.into(),
                        version: version.into(),
                        dependencies: dependencies.into(),
                        extension_points: Default::default(),
                        services: Default::default(),
                        config_schema: schema.into(),
                    }
                })
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn any_registration_validates_or_is_refused_with_a_reason(
                plugins in prop::collection::vec(plugin(), 0..4),
            ) {
                let registration = contract::Registration {
                    plugins: plugins.into(),
                    modules: Default::default(),
                };
                match validate(registration) {
                    Ok(features) => prop_assert!(features.plugins.len() < 4),
                    Err(error) => prop_assert!(!error.to_string().is_empty()),
                }
            }
        }
    }
}
