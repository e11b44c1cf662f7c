//! Feature descriptors: what a plugin library says it provides and needs.
//!
//! A library's registration entry point returns one [`Registration`]. The
//! host turns it into owned, validated values at once; nothing here is
//! trusted until the host has checked it.

use abi_stable::{
    StableAbi,
    std_types::{RString, RVec},
};

/// Everything one plugin library provides.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, Default, PartialEq, Eq)]
pub struct Registration {
    /// The plugins in the library.
    pub plugins: RVec<PluginDescriptor>,
    /// The modules in the library, each extending one plugin.
    pub modules: RVec<ModuleDescriptor>,
}

/// A plugin: a unit with its own id, routes and lifecycle.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct PluginDescriptor {
    /// Lowercase letters, digits and dashes, starting with a letter.
    pub id: RString,
    /// The plugin's own semantic version.
    pub version: RString,
    /// What the plugin needs before it can initialize.
    pub dependencies: RVec<Dependency>,
    /// The extension points the plugin offers to its modules.
    pub extension_points: RVec<ExtensionPointDescriptor>,
    /// The services the plugin provides to others.
    pub services: RVec<ServiceDescriptor>,
    /// A JSON Schema (as JSON text) for the plugin's configuration: the
    /// value under the plugin's id at the top level of the app config.
    /// Empty when the plugin takes no configuration.
    pub config_schema: RString,
}

/// A module: extends one plugin through that plugin's extension points.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct ModuleDescriptor {
    /// The id of the plugin this module extends.
    pub plugin_id: RString,
    /// The module's id, unique within its plugin.
    pub module_id: RString,
    /// What the module needs before it can initialize.
    pub dependencies: RVec<Dependency>,
    /// Extension points the module offers to the other modules of its plugin.
    pub extension_points: RVec<ExtensionPointDescriptor>,
    /// The services the module provides to others.
    pub services: RVec<ServiceDescriptor>,
}

/// An extension point offered by a plugin or one of its modules.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct ExtensionPointDescriptor {
    /// Dot-separated words, such as `catalog.processing`.
    pub id: RString,
    /// The semantic version of the extension point's interface.
    pub version: RString,
}

/// Whether one service instance serves the whole host or each plugin.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceScope {
    /// One instance for the whole host.
    Root,
    /// One instance for each plugin that asks for it.
    Plugin,
}

/// A service provided by a plugin library.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct ServiceDescriptor {
    /// Dot-separated words, such as `catalog.entities`.
    pub id: RString,
    /// The semantic version of the service's interface.
    pub version: RString,
    /// Whether there is one instance or one per plugin.
    pub scope: ServiceScope,
    /// Whether this is one of many contributions to the service (consumers
    /// get all of them) rather than its single implementation.
    pub multiton: bool,
    /// Whether this wraps the service's existing implementation: the
    /// provider gets that implementation first, and everyone initialized
    /// after it gets the wrapper instead.
    pub wraps: bool,
}

/// What a dependency points at.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DependencyKind {
    /// A service, by service id.
    Service,
    /// An extension point, by extension point id (modules only).
    ExtensionPoint,
    /// Another plugin, by plugin id.
    Plugin,
}

/// A declared, versioned dependency.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    /// What kind of feature is needed.
    pub kind: DependencyKind,
    /// The id of the needed feature.
    pub id: RString,
    /// A semver requirement such as `^1.2`.
    pub version_req: RString,
    /// Whether initialization may go on without it.
    pub optional: bool,
}
