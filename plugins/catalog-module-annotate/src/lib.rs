//! A module of the `catalog` plugin: a processor that annotates each entity
//! with where it came from, as Backstage does:
//! `backstage.io/managed-by-location` (the file it was read from) and
//! `backstage.io/managed-by-origin-location` (the configured location that
//! led there). An annotation the entity sets itself is kept.

use greenroom_catalog_api::{Contribution, EntitySource, PROCESSING, Processor, ProcessorBox};
use greenroom_sdk::{
    Context, Error, ErrorCode, ModuleRegistrar, PluginError,
    abi_stable::{
        sabi_trait::TD_Opaque,
        std_types::{RResult, RString},
    },
    contained,
};
use serde_json::{Map, Value};

greenroom_sdk::export! {
    modules: { ("catalog", "annotate") => register },
}

/// The annotation naming the file an entity was read from.
const MANAGED_BY_LOCATION: &str = "backstage.io/managed-by-location";

/// The annotation naming the configured location that led to it.
const MANAGED_BY_ORIGIN_LOCATION: &str = "backstage.io/managed-by-origin-location";

fn register(module: &mut ModuleRegistrar) -> Result<(), Error> {
    module
        .depends_on_extension_point(PROCESSING, "^2")
        .init(|context: Context| async move {
            let processor = ProcessorBox::from_value(LocationAnnotations, TD_Opaque);
            context.register_extension(PROCESSING, Contribution::Processor(processor))
        });
    Ok(())
}

/// The processor.
struct LocationAnnotations;

#[contained]
impl Processor for LocationAnnotations {
    fn name(&self) -> RResult<RString, PluginError> {
        RResult::ROk("location-annotations".into())
    }

    fn process(&self, entity: RString, source: EntitySource) -> RResult<RString, PluginError> {
        annotate(&entity, &source)
            .map(RString::from)
            .map_err(|message| PluginError::new(ErrorCode::FAILED, message))
            .into()
    }
}

/// `entity` (JSON text) with its location annotations.
fn annotate(entity: &str, source: &EntitySource) -> Result<String, String> {
    let mut entity: Value =
        serde_json::from_str(entity).map_err(|error| format!("not an entity: {error}"))?;
    let metadata = entity
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .ok_or("the entity has no metadata")?;
    let annotations = metadata
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or("metadata.annotations is not an object")?;
    for (key, value) in [
        (MANAGED_BY_LOCATION, &source.location),
        (MANAGED_BY_ORIGIN_LOCATION, &source.origin),
    ] {
        annotations
            .entry(key)
            .or_insert_with(|| Value::String(value.to_string()));
    }
    Ok(entity.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn locations_are_added_and_an_entitys_own_annotation_is_kept() {
        let source = EntitySource {
            location: "file:/c/a.yaml".into(),
            origin: "file:/c/all.yaml".into(),
        };
        let entity = json!({"metadata": {"name": "a", "annotations": {
            "backstage.io/managed-by-origin-location": "url:https://example.com/x",
        }}});

        let annotated: Value =
            serde_json::from_str(&annotate(&entity.to_string(), &source).expect("annotated"))
                .expect("JSON");

        assert_eq!(
            annotated["metadata"]["annotations"],
            json!({
                "backstage.io/managed-by-location": "file:/c/a.yaml",
                "backstage.io/managed-by-origin-location": "url:https://example.com/x",
            })
        );
    }

    #[test]
    fn an_entity_without_metadata_is_refused() {
        let source = EntitySource {
            location: "file:/c/a.yaml".into(),
            origin: "file:/c/a.yaml".into(),
        };

        assert_eq!(
            annotate("{\"kind\": \"Component\"}", &source),
            Err("the entity has no metadata".to_string())
        );
    }
}
