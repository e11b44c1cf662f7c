//! The catalog's entity model: references, validation, relations, search
//! entries, filters and the pieces of a catalog query.
//!
//! Entities are Backstage entity documents held as [`serde_json::Value`].
//! [`validate`] checks one, [`relations`] reads the relations its spec
//! implies, [`search_entries`] flattens it into the key/value rows that
//! [`EntityFilter`] and [`full_text_matches`] match, and the query helpers
//! ([`project`], [`facets`], [`sort_entities`], [`Cursor`]) serve the
//! catalog's listing endpoints.

mod query;
mod read;
mod reference;
mod relations;
mod search;
mod validate;
pub mod yaml;

#[cfg(test)]
mod properties;

pub use query::{
    Cursor, CursorError, OrderError, OrderField, SortOrder, facets, parse_fields, project,
    sort_entities,
};
pub use read::read_text;
pub use reference::{DEFAULT_NAMESPACE, EntityRef, RefDefaults, RefError};
pub use relations::{Relation, relations};
pub use search::{
    DEFAULT_FULL_TEXT_FIELDS, EntityFilter, FilterError, SearchEntry, full_text_matches,
    search_entries,
};
pub use validate::validate;
