//! The interface version policy: which plugins this host accepts.
//!
//! A host providing interface `H` accepts a library built against `P` when
//! `H` matches `^P`. Libraries built against an older minor version export
//! an older, shorter root module, read through its frozen copy.

use greenroom_contract::{
    ABI_STABLE_LINE, ASYNC_FFI_LINE, INTERFACE_VERSION, ParsedDeclaration, frozen,
};
use semver::{Version, VersionReq};

/// Which revision of the root module a library exports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InterfaceRevision {
    /// Interface 1.0: registration only.
    V1_0,
    /// The current interface.
    Current,
}

impl InterfaceRevision {
    /// The capabilities the current interface has and this revision lacks.
    pub fn missing_capabilities(self) -> &'static [&'static str] {
        match self {
            Self::V1_0 => &["shutdown", "init"],
            Self::Current => &[],
        }
    }
}

/// Why a library's interface version is not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InterfaceError {
    /// The declared version is not semver.
    #[error(
        "library `{library}` declares interface version `{found}`, which is not a semantic version; rebuild it with greenroom-sdk"
    )]
    Invalid {
        /// The library's name.
        library: String,
        /// The declared text.
        found: String,
    },
    /// Built against a newer minor (or patch) version of this major.
    #[error(
        "{plugins} was built against interface {plugin}, newer than this host's {host}; \
         upgrade greenroom, or rebuild the plugin with a greenroom-sdk for interface {host}"
    )]
    Newer {
        /// The plugins in the library, described for people.
        plugins: String,
        /// The plugin's interface version.
        plugin: Version,
        /// The host's interface version.
        host: Version,
    },
    /// Built against another major version.
    #[error(
        "{plugins} was built against interface {plugin}, another major version than this \
         host's {host}; rebuild the {side}"
    )]
    OtherMajor {
        /// The plugins in the library, described for people.
        plugins: String,
        /// The plugin's interface version.
        plugin: Version,
        /// The host's interface version.
        host: Version,
        /// Which side to rebuild.
        side: &'static str,
    },
    /// Built with another release line of a crate whose types cross the
    /// boundary.
    #[error(
        "{plugins} was built with {dependency} {found}, but this host uses {expected}; rebuild \
         the plugin with a greenroom-sdk for interface {host}"
    )]
    Dependency {
        /// The plugins in the library, described for people.
        plugins: String,
        /// The crate.
        dependency: &'static str,
        /// The library's release line of the crate.
        found: String,
        /// The host's release line of the crate.
        expected: &'static str,
        /// The host's interface version.
        host: &'static str,
    },
}

/// Decides whether this host loads the library, and through which revision.
///
/// # Errors
///
/// Returns the reason when the library's interface is not accepted.
pub fn select_revision(
    declaration: &ParsedDeclaration,
) -> Result<InterfaceRevision, InterfaceError> {
    let host = Version::parse(INTERFACE_VERSION).expect("the contract's version is semver");
    let plugin = Version::parse(&declaration.interface).map_err(|_| InterfaceError::Invalid {
        library: declaration.library.clone(),
        found: declaration.interface.clone(),
    })?;
    let plugins = describe(declaration);

    let requirement =
        VersionReq::parse(&format!("^{plugin}")).expect("a version makes a requirement");
    if !requirement.matches(&host) {
        return Err(if plugin.major != host.major {
            let side = if plugin.major < host.major {
                "plugin against this host's greenroom-sdk"
            } else {
                "host with a newer greenroom"
            };
            InterfaceError::OtherMajor {
                plugins,
                plugin,
                host,
                side,
            }
        } else {
            InterfaceError::Newer {
                plugins,
                plugin,
                host,
            }
        });
    }
    if declaration.abi_stable != ABI_STABLE_LINE {
        return Err(InterfaceError::Dependency {
            plugins,
            dependency: "abi_stable",
            found: declaration.abi_stable.clone(),
            expected: ABI_STABLE_LINE,
            host: INTERFACE_VERSION,
        });
    }
    if let Some(found) = declaration
        .async_ffi
        .as_ref()
        .filter(|line| *line != ASYNC_FFI_LINE)
    {
        return Err(InterfaceError::Dependency {
            plugins,
            dependency: "async-ffi",
            found: found.clone(),
            expected: ASYNC_FFI_LINE,
            host: INTERFACE_VERSION,
        });
    }

    let v1_0 = Version::parse(frozen::v1_0::INTERFACE_VERSION).expect("frozen versions are semver");
    Ok(
        if (plugin.major, plugin.minor) == (v1_0.major, v1_0.minor) {
            InterfaceRevision::V1_0
        } else {
            InterfaceRevision::Current
        },
    )
}

/// Names a library's plugins for an error message.
fn describe(declaration: &ParsedDeclaration) -> String {
    let ids: Vec<String> = declaration
        .plugins
        .iter()
        .map(|id| format!("`{id}`"))
        .chain(
            declaration
                .modules
                .iter()
                .map(|(plugin, module)| format!("`{plugin}/{module}`")),
        )
        .collect();
    match ids.len() {
        0 => format!("library `{}`", declaration.library),
        1 => format!("plugin {} (library `{}`)", ids[0], declaration.library),
        _ => format!(
            "plugins {} (library `{}`)",
            ids.join(", "),
            declaration.library
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declaration(interface: &str) -> ParsedDeclaration {
        ParsedDeclaration {
            library: "hello-plugin".to_string(),
            interface: interface.to_string(),
            sdk: "1.0.0".to_string(),
            abi_stable: ABI_STABLE_LINE.to_string(),
            async_ffi: Some(ASYNC_FFI_LINE.to_string()),
            plugins: vec!["hello".to_string()],
            modules: Vec::new(),
        }
    }

    #[test]
    fn the_current_version_loads_as_current() {
        let revision = select_revision(&declaration(INTERFACE_VERSION)).unwrap();
        assert_eq!(revision, InterfaceRevision::Current);
    }

    #[test]
    fn an_older_minor_loads_through_its_frozen_copy() {
        assert_eq!(
            select_revision(&declaration("1.0.0")).unwrap(),
            InterfaceRevision::V1_0
        );
        assert_eq!(
            select_revision(&declaration("1.0.7")).unwrap(),
            InterfaceRevision::V1_0
        );
    }

    #[test]
    fn a_newer_minor_is_refused_naming_both_versions() {
        let error = select_revision(&declaration("1.2.0"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            format!(
                "plugin `hello` (library `hello-plugin`) was built against interface 1.2.0, \
                 newer than this host's {INTERFACE_VERSION}; upgrade greenroom, or rebuild the \
                 plugin with a greenroom-sdk for interface {INTERFACE_VERSION}"
            )
        );
    }

    #[test]
    fn another_major_is_refused_naming_the_side_to_rebuild() {
        let newer = select_revision(&declaration("2.0.0"))
            .unwrap_err()
            .to_string();
        assert!(
            newer.ends_with("rebuild the host with a newer greenroom"),
            "{newer}"
        );

        let older = select_revision(&declaration("0.9.0"))
            .unwrap_err()
            .to_string();
        assert!(
            older.ends_with("rebuild the plugin against this host's greenroom-sdk"),
            "{older}"
        );
    }

    #[test]
    fn another_abi_stable_line_is_refused() {
        let mut declaration = declaration(INTERFACE_VERSION);
        declaration.abi_stable = "0.12".to_string();
        let error = select_revision(&declaration).unwrap_err().to_string();
        assert!(
            error.contains("built with abi_stable 0.12, but this host uses 0.11"),
            "{error}"
        );
    }

    #[test]
    fn another_async_ffi_line_is_refused() {
        let mut declaration = declaration(INTERFACE_VERSION);
        declaration.async_ffi = Some("0.4".to_string());
        let error = select_revision(&declaration).unwrap_err().to_string();
        assert!(
            error.contains("built with async-ffi 0.4, but this host uses 0.5"),
            "{error}"
        );
    }

    #[test]
    fn a_version_that_is_not_semver_is_refused() {
        let error = select_revision(&declaration("one"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`one`, which is not a semantic version"),
            "{error}"
        );
    }
}
