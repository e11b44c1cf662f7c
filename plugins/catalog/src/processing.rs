//! Turning what providers read into what the catalog serves: each entity
//! has its placeholders resolved, is validated, goes through every
//! processor and gets its relations; then all of them are stitched (uids,
//! etags, relations in both directions), saved and swapped in at once.
//!
//! An entity that fails any step is left out with a processing error, and
//! so is the second definition of a ref; nothing else is lost.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    sync::{Arc, RwLock},
};

use greenroom_catalog_api::{Contribution, EntitySource, FullMutation, ProvidedEntity};
use greenroom_catalog_model::{EntityRef, Relation, relations, validate};
use greenroom_sdk::{Service, abi_stable::std_types::RResult};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::{
    placeholder,
    reader::Reader,
    snapshot::{Location, ProcessingError, Snapshot},
    store::{Store, Stored},
};

/// A processor some module registered.
pub(crate) struct Processor {
    /// The module that registered it.
    pub(crate) module_id: String,
    /// The registration (always [`Contribution::Processor`]).
    pub(crate) contribution: Service<Contribution>,
}

/// An entity that went through every step.
#[derive(Clone)]
struct Processed {
    entity: Value,
    entity_ref: EntityRef,
    relations: Vec<Relation>,
    location: String,
}

/// The catalog's processing: what each provider provided, and how to turn
/// it into a snapshot.
pub(crate) struct Engine {
    processors: Vec<Processor>,
    reader: Reader,
    store: Option<Store>,
    /// Each provider's latest mutation, by the provider's position.
    provided: BTreeMap<usize, FullMutation>,
    /// The uid each ref was served with, kept across refreshes.
    uids: HashMap<String, String>,
    /// The processing errors last served, to log only new ones.
    logged: HashSet<(String, String)>,
    /// Each entity as last processed, by ref key.
    previous: HashMap<String, Processed>,
    /// Whether what is served could not be saved.
    unsaved: bool,
}

impl Engine {
    /// An engine with these processors and reader, saving to `store`, and
    /// keeping the uids of the `served` entities.
    pub(crate) fn new(
        processors: Vec<Processor>,
        reader: Reader,
        store: Option<Store>,
        served: &Snapshot,
    ) -> Self {
        let uids = served
            .entities
            .iter()
            .filter_map(|served| {
                let uid = crate::snapshot::uid(&served.entity)?;
                Some((served.entity_ref.key().to_string(), uid.to_string()))
            })
            .collect();
        Self {
            processors,
            reader,
            store,
            provided: BTreeMap::new(),
            uids,
            logged: HashSet::new(),
            previous: HashMap::new(),
            unsaved: false,
        }
    }

    /// Replaces what provider number `provider` provided, and serves the
    /// result in `served` (even when it cannot be saved; the next refresh
    /// saves it).
    pub(crate) fn apply(
        &mut self,
        provider: usize,
        mutation: FullMutation,
        served: &RwLock<Arc<Snapshot>>,
    ) {
        self.provided.insert(provider, mutation);
        let stored = self.build();
        if !self.unsaved && same(&served.read().unwrap_or_else(|p| p.into_inner()), &stored) {
            tracing::debug!("catalog refreshed: nothing changed");
            return;
        }
        if let Some(store) = &self.store {
            // What was read is served even when it cannot be saved; the
            // next refresh tries again.
            self.unsaved = match store.save(&stored) {
                Ok(()) => false,
                Err(error) => {
                    tracing::error!("{error}; serving what was read, saving again next refresh");
                    true
                }
            };
        }
        self.log_new_errors(&stored.errors);
        let mut served = served
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let changed = etags(&served) != stored_etags(&stored.entities);
        let generation = served.generation + u64::from(changed);
        tracing::info!(
            entities = stored.entities.len(),
            errors = stored.errors.len(),
            "catalog refreshed"
        );
        *served = Arc::new(Snapshot::new(
            stored.entities,
            stored.errors,
            stored.locations,
            generation,
        ));
    }

    /// Processes and stitches everything every provider provided.
    fn build(&mut self) -> Stored {
        let mut errors = Vec::new();
        let mut locations = BTreeSet::new();
        let mut processed: Vec<Processed> = Vec::new();
        let mut defined: HashMap<String, String> = HashMap::new();
        for mutation in self.provided.values() {
            errors.extend(mutation.errors.iter().map(|error| ProcessingError {
                entity_ref: None,
                location: error.location.to_string(),
                message: error.message.to_string(),
            }));
            locations.extend(
                mutation
                    .locations
                    .iter()
                    .map(|spec| (spec.kind.to_string(), spec.target.to_string())),
            );
            for provided in &mutation.entities {
                let entity = match self.process(provided) {
                    Ok(entity) => entity,
                    Err(mut error) => {
                        let kept = self.last_good(&error);
                        if kept.is_some() {
                            error.message.push_str(
                                "; the entity as last processed is served until this is fixed",
                            );
                        }
                        errors.push(error);
                        match kept {
                            Some(kept) => kept,
                            None => continue,
                        }
                    }
                };
                let key = entity.entity_ref.key().to_string();
                if let Some(first) = defined.get(&key) {
                    errors.push(conflict(&entity, first));
                } else {
                    defined.insert(key, entity.location.clone());
                    processed.push(entity);
                }
            }
        }
        self.previous = processed
            .iter()
            .map(|entity| (entity.entity_ref.key().to_string(), entity.clone()))
            .collect();
        Stored {
            entities: self.stitch(processed),
            errors,
            locations: locations
                .into_iter()
                .map(|(kind, target)| Location {
                    id: location_id(&kind, &target),
                    kind,
                    target,
                })
                .collect(),
        }
    }

    /// The entity a failure was about as last processed from the same
    /// location, which stays served, as Backstage keeps it; the failure's
    /// message says so.
    fn last_good(&self, error: &ProcessingError) -> Option<Processed> {
        let entity_ref = EntityRef::parse(error.entity_ref.as_deref()?, Default::default()).ok()?;
        self.previous
            .get(entity_ref.key())
            .filter(|previous| previous.location == error.location)
            .cloned()
    }

    /// Takes one entity through every step.
    fn process(&self, provided: &ProvidedEntity) -> Result<Processed, ProcessingError> {
        let location = provided.location.to_string();
        let mut entity: Value = serde_json::from_str(&provided.entity).map_err(|error| {
            failure(
                None,
                &location,
                format!("the provider gave invalid JSON: {error}"),
            )
        })?;
        let named = EntityRef::of(&entity)
            .ok()
            .map(|entity_ref| entity_ref.to_string());
        let fail = |message: String| failure(named.clone(), &location, message);

        let source = placeholder::Source {
            location: &provided.location,
            origin: &provided.origin,
        };
        placeholder::resolve(&mut entity, &source, &self.reader).map_err(fail)?;
        validate(&entity).map_err(|problems| fail(problems.join("; ")))?;
        let source = EntitySource {
            location: provided.location.clone(),
            origin: provided.origin.clone(),
        };
        for processor in &self.processors {
            entity = self.run(processor, &entity, &source).map_err(fail)?;
        }
        validate(&entity).map_err(|problems| {
            fail(format!("invalid after processing: {}", problems.join("; ")))
        })?;
        let entity_ref = EntityRef::of(&entity).map_err(|error| fail(error.to_string()))?;
        let relations = relations(&entity).map_err(|problems| fail(problems.join("; ")))?;
        Ok(Processed {
            entity,
            entity_ref,
            relations,
            location,
        })
    }

    /// Runs one processor on `entity`.
    fn run(
        &self,
        processor: &Processor,
        entity: &Value,
        source: &EntitySource,
    ) -> Result<Value, String> {
        let Contribution::Processor(inner) = &*processor.contribution else {
            return Ok(entity.clone());
        };
        let name = format!(
            "processor {} of module {}",
            crate::service::name_of(inner.name()),
            processor.module_id
        );
        match inner.process(entity.to_string().into(), source.clone()) {
            RResult::ROk(text) => serde_json::from_str(&text)
                .map_err(|error| format!("{name} returned invalid JSON: {error}")),
            RResult::RErr(error) => Err(format!("{name} failed: {}", error.message)),
        }
    }

    /// Gives each entity its namespace, uid, relations and etag.
    fn stitch(&mut self, processed: Vec<Processed>) -> Vec<Value> {
        let mut by_source: HashMap<String, BTreeSet<(String, String)>> = HashMap::new();
        for relation in processed.iter().flat_map(|entity| &entity.relations) {
            by_source
                .entry(relation.source.key().to_string())
                .or_default()
                .insert((relation.relation.to_string(), relation.target.to_string()));
        }
        let mut uids = HashMap::with_capacity(processed.len());
        let entities = processed
            .into_iter()
            .map(
                |Processed {
                     mut entity,
                     entity_ref,
                     ..
                 }| {
                    let key = entity_ref.key().to_string();
                    let uid = self
                        .uids
                        .get(&key)
                        .cloned()
                        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                    let relations = by_source.remove(&key).unwrap_or_default();
                    stitch_one(&mut entity, &entity_ref, &uid, relations);
                    uids.insert(key, uid);
                    entity
                },
            )
            .collect();
        self.uids = uids;
        entities
    }

    fn log_new_errors(&mut self, errors: &[ProcessingError]) {
        let current: HashSet<(String, String)> = errors
            .iter()
            .map(|error| (error.location.clone(), error.message.clone()))
            .collect();
        for error in errors {
            if !self
                .logged
                .contains(&(error.location.clone(), error.message.clone()))
            {
                tracing::warn!(
                    entity_ref = error.entity_ref.as_deref().unwrap_or("-"),
                    location = %error.location,
                    "catalog processing error: {}",
                    error.message
                );
            }
        }
        self.logged = current;
    }
}

fn stitch_one(
    entity: &mut Value,
    entity_ref: &EntityRef,
    uid: &str,
    relations: BTreeSet<(String, String)>,
) {
    let relations: Vec<Value> = relations
        .into_iter()
        .map(|(relation, target)| {
            let target_ref = EntityRef::parse(&target, Default::default()).ok();
            json!({
                "type": relation,
                "targetRef": target,
                "target": target_ref.map(|target| json!({
                    "kind": target.kind(),
                    "namespace": target.namespace(),
                    "name": target.name(),
                })),
            })
        })
        .collect();
    if let Some(metadata) = entity.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("namespace".into(), entity_ref.namespace().into());
        metadata.insert("uid".into(), uid.into());
        metadata.remove("etag");
    }
    if let Some(object) = entity.as_object_mut() {
        object.insert("relations".into(), relations.into());
    }
    let etag = hex(&Sha256::digest(entity.to_string().as_bytes())[..20]);
    if let Some(metadata) = entity.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("etag".into(), etag.into());
    }
}

fn failure(entity_ref: Option<String>, location: &str, message: String) -> ProcessingError {
    ProcessingError {
        entity_ref,
        location: location.to_string(),
        message,
    }
}

fn conflict(entity: &Processed, first: &str) -> ProcessingError {
    failure(
        Some(entity.entity_ref.to_string()),
        &entity.location,
        format!(
            "{} is already defined at {first}; this definition is ignored (remove one of them)",
            entity.entity_ref
        ),
    )
}

/// A stable, uuid-shaped id for a location.
fn location_id(kind: &str, target: &str) -> String {
    let hash = hex(&Sha256::digest(format!("{kind}:{target}").as_bytes())[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &hash[..8],
        &hash[8..12],
        &hash[12..16],
        &hash[16..20],
        &hash[20..]
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Whether `stored` serves exactly what `snapshot` serves.
fn same(snapshot: &Snapshot, stored: &Stored) -> bool {
    snapshot.errors == stored.errors
        && snapshot.locations == stored.locations
        && snapshot.entities.len() == stored.entities.len()
        && etags(snapshot) == stored_etags(&stored.entities)
}

fn etags(snapshot: &Snapshot) -> Vec<&str> {
    snapshot
        .entities
        .iter()
        .filter_map(|served| {
            served
                .entity
                .pointer("/metadata/etag")
                .and_then(Value::as_str)
        })
        .collect()
}

fn stored_etags(entities: &[Value]) -> Vec<&str> {
    let mut etags: Vec<(String, &str)> = entities
        .iter()
        .filter_map(|entity| {
            let key = EntityRef::of(entity).ok()?.key().to_string();
            Some((
                key,
                entity.pointer("/metadata/etag").and_then(Value::as_str)?,
            ))
        })
        .collect();
    etags.sort_unstable();
    etags.into_iter().map(|(_, etag)| etag).collect()
}
