//! The interface of the `catalog` plugin, shared by the catalog, its modules
//! and the plugins that read it.
//!
//! - Modules register [`Contribution`]s into the extension point
//!   [`PROCESSING`]: entity providers, which feed the catalog entities from
//!   some source, and processors, which see each entity before it is
//!   served.
//! - Other plugins call the catalog through the service [`SERVICE`], a
//!   [`CatalogBox`].
//!
//! Entities cross as JSON text in Backstage's shape, so both sides may use
//! any JSON library and the interface stays small.

#![allow(
    non_local_definitions,
    unsafe_code,
    reason = "abi_stable's sabi_trait expands to unsafe impl blocks inside constants"
)]

use abi_stable::{
    StableAbi, sabi_trait,
    std_types::{RArc, RBox, ROption, RResult, RString, RVec},
};
use greenroom_sdk::PluginError;

/// The extension point through which modules extend the catalog.
pub const PROCESSING: &str = "catalog.processing";

/// The version of [`PROCESSING`]'s interface this crate defines.
pub const PROCESSING_VERSION: &str = "2.0.0";

/// The service through which other plugins read the catalog.
pub const SERVICE: &str = "catalog.entities";

/// The version of [`SERVICE`]'s interface this crate defines.
pub const SERVICE_VERSION: &str = "2.0.0";

/// What a module registers into [`PROCESSING`].
#[repr(u8)]
#[derive(StableAbi)]
pub enum Contribution {
    /// A source of entities.
    Provider(EntityProviderBox),
    /// A step every entity goes through before it is served.
    Processor(ProcessorBox),
}

/// A source of entities, such as files or another system's API.
#[sabi_trait]
pub trait EntityProvider: Send + Sync {
    /// A name unique among providers, used in logs and processing errors.
    fn name(&self) -> RResult<RString, PluginError>;

    /// Called once the catalog takes entities: the provider keeps
    /// `connection` and applies what it read through it, now and whenever
    /// its source changes.
    fn connect(&self, connection: ConnectionBox) -> RResult<(), PluginError>;

    /// Reads the source again and applies the result; the catalog calls it
    /// on its refresh schedule.
    #[sabi(last_prefix_field)]
    fn refresh(&self) -> RResult<(), PluginError>;
}

/// An entity provider as it crosses the boundary.
pub type EntityProviderBox = EntityProvider_TO<'static, RBox<()>>;

/// The catalog, as one provider sees it.
#[sabi_trait]
pub trait Connection: Send + Sync + Clone {
    /// Replaces everything this provider provided before with `mutation`.
    #[sabi(last_prefix_field)]
    fn apply_full(&self, mutation: FullMutation) -> RResult<(), PluginError>;
}

/// A connection as it crosses the boundary; providers may clone it.
pub type ConnectionBox = Connection_TO<'static, RArc<()>>;

/// Everything one provider currently provides.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, Default)]
pub struct FullMutation {
    /// The entities, unprocessed, in the order they were read.
    pub entities: RVec<ProvidedEntity>,
    /// The locations the provider reads from, for `GET /locations`.
    pub locations: RVec<LocationSpec>,
    /// What could not be read, each with where.
    pub errors: RVec<LocationError>,
}

/// One entity as a provider read it.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct ProvidedEntity {
    /// The entity as JSON text, placeholders (`$text`, `$json`, `$yaml`)
    /// not yet resolved.
    pub entity: RString,
    /// Where it was read: `file:/abs/path/catalog-info.yaml`.
    pub location: RString,
    /// The configured location it was reached from.
    pub origin: RString,
}

/// A location a provider reads entities from.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct LocationSpec {
    /// Its type, such as `file` or `url`.
    pub kind: RString,
    /// Where it is: a path for `file`, a URL for `url`.
    pub target: RString,
}

/// A location, or part of one, that could not be read.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct LocationError {
    /// Where: `file:/abs/path/catalog-info.yaml`.
    pub location: RString,
    /// What went wrong and how to fix it.
    pub message: RString,
}

/// A step every entity goes through before it is served.
#[sabi_trait]
pub trait Processor: Send + Sync {
    /// A name unique among processors, used in logs and processing errors.
    fn name(&self) -> RResult<RString, PluginError>;

    /// Processes one valid entity (JSON text) read at `source`, returning
    /// it, changed or not. An error keeps the entity from being served and
    /// becomes a processing error.
    #[sabi(last_prefix_field)]
    fn process(&self, entity: RString, source: EntitySource) -> RResult<RString, PluginError>;
}

/// A processor as it crosses the boundary.
pub type ProcessorBox = Processor_TO<'static, RBox<()>>;

/// Where an entity being processed came from.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct EntitySource {
    /// The location it was read at: `file:/abs/path/catalog-info.yaml`.
    pub location: RString,
    /// The configured location it was reached from.
    pub origin: RString,
}

/// The catalog, as other plugins call it.
#[sabi_trait]
pub trait Catalog: Send + Sync {
    /// The entity with the ref `entity_ref` (`kind:namespace/name`, kind
    /// and namespace defaulting to `component` and `default`) as JSON text.
    fn entity(&self, entity_ref: RString) -> RResult<ROption<RString>, PluginError>;

    /// The entities matching `filters` (each like one `filter` query
    /// parameter of `GET /entities`; several are ORed; none matches all),
    /// each as JSON text, ordered by ref.
    fn entities(&self, filters: RVec<RString>) -> RResult<RVec<RString>, PluginError>;

    /// A number that grows each time the set of entities served changes.
    #[sabi(last_prefix_field)]
    fn generation(&self) -> RResult<u64, PluginError>;
}

/// The catalog as it crosses the boundary.
pub type CatalogBox = Catalog_TO<'static, RBox<()>>;
