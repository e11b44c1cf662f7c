//! What resolution can find wrong, each said in one line.

use std::fmt;

use semver::{Version, VersionReq};

use super::Node;
use crate::register::{Dependency, DependencyKind, PluginId};

/// Whether a problem stops the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Nothing initializes.
    Error,
    /// Reported; the start goes on.
    Warning,
}

/// Who provides a service or extension point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provider {
    /// The host itself.
    Host,
    /// A plugin or module.
    Feature(Node),
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Host => f.write_str("the host"),
            Self::Feature(node) => node.fmt(f),
        }
    }
}

/// A problem found by resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// Something is provided twice.
    Duplicate {
        /// What, such as "plugin `catalog`".
        what: String,
        /// The first provider (a file or a feature).
        first: String,
        /// The second provider.
        second: String,
    },
    /// A required dependency that nothing provides.
    Missing {
        /// Who needs it.
        who: Node,
        /// What kind of feature.
        kind: DependencyKind,
        /// Its id.
        id: String,
        /// The versions accepted.
        requirement: VersionReq,
    },
    /// A provider whose version does not satisfy the requirement.
    VersionMismatch {
        /// Who needs it.
        who: Node,
        /// What kind of feature.
        kind: DependencyKind,
        /// Its id.
        id: String,
        /// The versions accepted.
        requirement: VersionReq,
        /// Who provides it.
        provider: Provider,
        /// The version provided.
        found: Version,
    },
    /// Features that depend on each other in a ring.
    Cycle {
        /// The ring, its first node repeated at the end.
        chain: Vec<Node>,
    },
    /// A module whose plugin is not installed.
    OrphanModule {
        /// The module.
        module: Node,
        /// A warning unless configured as an error.
        severity: Severity,
    },
    /// A plugin that depends on an extension point.
    PluginUsesExtensionPoint {
        /// The plugin.
        plugin: Node,
        /// The extension point.
        id: String,
    },
    /// A feature that provides or wraps one of the host's own services,
    /// which the host does not hand over.
    HostService {
        /// The feature.
        provider: Node,
        /// The service.
        id: String,
    },
    /// A replacement or wrapper of a host service at another major version
    /// than the host's interface for it.
    HostServiceVersion {
        /// The feature.
        provider: Node,
        /// The service.
        id: String,
        /// The version it declared.
        declared: semver::Version,
        /// The version of the host's interface.
        host: semver::Version,
    },
    /// A module that uses another plugin's extension point.
    ForeignExtensionPoint {
        /// The module.
        module: Node,
        /// The extension point.
        id: String,
        /// The plugin that owns it.
        owner: PluginId,
    },
}

impl Problem {
    pub(super) fn missing(who: &Node, dependency: &Dependency) -> Self {
        Self::Missing {
            who: who.clone(),
            kind: dependency.kind,
            id: dependency.id.clone(),
            requirement: dependency.version_req.clone(),
        }
    }

    /// Whether the problem stops the start.
    pub fn severity(&self) -> Severity {
        match self {
            Self::OrphanModule { severity, .. } => *severity,
            _ => Severity::Error,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Duplicate {
                what,
                first,
                second,
            } => write!(
                f,
                "{what} is provided twice, by {first} and by {second}; remove one of them"
            ),
            Self::Missing {
                who,
                kind,
                id,
                requirement,
            } => write!(
                f,
                "{who} needs {kind} `{id}` {requirement}, which nothing installed provides; \
                 install what provides it, or declare the dependency optional"
            ),
            Self::VersionMismatch {
                who,
                kind,
                id,
                requirement,
                provider,
                found,
            } => write!(
                f,
                "{who} needs {kind} `{id}` {requirement}, but {provider} provides version \
                 {found}; upgrade one side or change the requirement"
            ),
            Self::Cycle { chain } => {
                let chain: Vec<String> = chain.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "dependency cycle: {}; remove one of these dependencies",
                    chain.join(" -> ")
                )
            }
            Self::OrphanModule { module, .. } => write!(
                f,
                "{module} extends plugin `{}`, which is not installed; the module will not run",
                module.plugin_id()
            ),
            Self::PluginUsesExtensionPoint { plugin, id } => write!(
                f,
                "{plugin} depends on extension point `{id}`, but only modules may use \
                 extension points; move that code into a module"
            ),
            Self::HostService { provider, id } => write!(
                f,
                "{provider} provides service `{id}`, which the host provides itself and keeps; \
                 of the host's services only {} may be replaced or wrapped (by one plugin \
                 each, not as a multiton); give the plugin's service an id of its own",
                greenroom_contract::REPLACEABLE_SERVICES.join(", ")
            ),
            Self::HostServiceVersion {
                provider,
                id,
                declared,
                host,
            } => write!(
                f,
                "{provider} provides service `{id}` at {declared}, but the host's interface for \
                 it is {host}; declare it at {}.x, the version of the greenroom_contract type it \
                 provides",
                host.major
            ),
            Self::ForeignExtensionPoint { module, id, owner } => write!(
                f,
                "{module} uses extension point `{id}` of plugin `{owner}`, but a module may \
                 only use its own plugin's extension points"
            ),
        }
    }
}
