//! What the catalog serves at one moment: its entities with their indexes,
//! the processing errors and the locations. A snapshot never changes; a
//! refresh builds a new one and swaps it in whole.

use std::collections::HashMap;

use greenroom_catalog_model::{EntityFilter, EntityRef, SearchEntry, search_entries};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An entity that could not be served, or a location that could not be
/// read, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProcessingError {
    /// The entity's ref, when it got far enough to have one.
    pub(crate) entity_ref: Option<String>,
    /// Where the entity was read: `file:/abs/path.yaml`.
    pub(crate) location: String,
    /// What went wrong and how to fix it.
    pub(crate) message: String,
}

/// A location some provider reads entities from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Location {
    /// A stable id derived from type and target.
    pub(crate) id: String,
    /// `file` or `url`.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// The path or URL.
    pub(crate) target: String,
}

/// One served entity with what queries look it up by.
pub(crate) struct Served {
    /// The entity as served.
    pub(crate) entity: Value,
    /// Its ref.
    pub(crate) entity_ref: EntityRef,
    /// Its flattened keys and values, as filters match them.
    pub(crate) entries: Vec<SearchEntry>,
}

/// The catalog's contents at one moment.
#[derive(Default)]
pub(crate) struct Snapshot {
    /// Every entity, in ref order.
    pub(crate) entities: Vec<Served>,
    by_ref: HashMap<String, usize>,
    by_uid: HashMap<String, usize>,
    /// Why entities or locations were left out.
    pub(crate) errors: Vec<ProcessingError>,
    /// The locations the providers read.
    pub(crate) locations: Vec<Location>,
    /// Grows with each change served.
    pub(crate) generation: u64,
}

impl Snapshot {
    /// Indexes `entities` (already stitched, each with a valid ref).
    pub(crate) fn new(
        entities: Vec<Value>,
        errors: Vec<ProcessingError>,
        locations: Vec<Location>,
        generation: u64,
    ) -> Self {
        let mut served: Vec<Served> = entities
            .into_iter()
            .filter_map(|entity| {
                let entity_ref = EntityRef::of(&entity).ok()?;
                let entries = search_entries(&entity);
                Some(Served {
                    entity,
                    entity_ref,
                    entries,
                })
            })
            .collect();
        served.sort_by(|a, b| a.entity_ref.key().cmp(b.entity_ref.key()));
        let by_ref = served
            .iter()
            .enumerate()
            .map(|(index, served)| (served.entity_ref.key().to_string(), index))
            .collect();
        let by_uid = served
            .iter()
            .enumerate()
            .filter_map(|(index, served)| Some((uid(&served.entity)?.to_string(), index)))
            .collect();
        Self {
            entities: served,
            by_ref,
            by_uid,
            errors,
            locations,
            generation,
        }
    }

    /// The entity with `entity_ref`.
    pub(crate) fn by_ref(&self, entity_ref: &EntityRef) -> Option<&Served> {
        self.by_ref
            .get(entity_ref.key())
            .map(|&index| &self.entities[index])
    }

    /// The entity whose `metadata.uid` is `uid`.
    pub(crate) fn by_uid(&self, uid: &str) -> Option<&Served> {
        self.by_uid.get(uid).map(|&index| &self.entities[index])
    }

    /// The entities `filter` matches, in ref order.
    pub(crate) fn matching(&self, filter: &EntityFilter) -> Vec<&Served> {
        self.entities
            .iter()
            .filter(|served| filter.matches(&served.entries))
            .collect()
    }
}

/// An entity's `metadata.uid`.
pub(crate) fn uid(entity: &Value) -> Option<&str> {
    entity.pointer("/metadata/uid").and_then(Value::as_str)
}
