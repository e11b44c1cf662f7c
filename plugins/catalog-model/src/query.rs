//! The pieces of a catalog query: field projection, facet counts, ordering
//! and page cursors.

mod cursor;
mod facets;
mod fields;
mod order;

pub use cursor::{Cursor, CursorError};
pub use facets::facets;
pub use fields::{parse_fields, project};
pub use order::{OrderError, OrderField, SortOrder, sort_entities};

use serde_json::Value;

use crate::reference::DEFAULT_NAMESPACE;

/// The text values at a dot-path of an entity, in their original case.
///
/// Keys match ignoring case and arrays on the way are looked into, so
/// `metadata.tags` gives every tag. `relations.<type>` gives the
/// `targetRef` of every relation of that type, and `metadata.namespace`
/// gives `default` when the entity names none. Numbers and booleans become
/// text; `null`, objects and empty arrays give nothing.
fn values_at(entity: &Value, path: &str) -> Vec<String> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut found = Vec::new();
    if let [first, relation] = parts[..]
        && first.eq_ignore_ascii_case("relations")
    {
        relation_targets(entity, relation, &mut found);
        return found;
    }

    collect(entity, &parts, &mut found);
    if found.is_empty() && path.eq_ignore_ascii_case("metadata.namespace") {
        found.push(DEFAULT_NAMESPACE.to_string());
    }
    found
}

fn relation_targets(entity: &Value, relation: &str, found: &mut Vec<String>) {
    let relations = entity.get("relations").and_then(Value::as_array);
    for relation_value in relations.into_iter().flatten() {
        let kind = relation_value.get("type").and_then(Value::as_str);
        let target = relation_value.get("targetRef").and_then(Value::as_str);
        if let (Some(kind), Some(target)) = (kind, target)
            && same_key(kind, relation)
        {
            found.push(target.to_string());
        }
    }
}

fn collect(value: &Value, parts: &[&str], found: &mut Vec<String>) {
    match (value, parts) {
        (Value::Array(elements), _) => {
            for element in elements {
                collect(element, parts, found);
            }
        }
        (Value::Object(object), [_, ..]) => {
            // A key may hold dots itself (`backstage.io/managed-by-location`):
            // it matches as many parts of the path as it has.
            for (key, value) in object {
                let key_parts: Vec<&str> = key.split('.').collect();
                if key_parts.len() <= parts.len()
                    && key_parts
                        .iter()
                        .zip(parts)
                        .all(|(key_part, part)| same_key(key_part, part))
                {
                    collect(value, &parts[key_parts.len()..], found);
                }
            }
        }
        (Value::String(text), []) => found.push(text.clone()),
        (Value::Number(number), []) => found.push(number.to_string()),
        (Value::Bool(flag), []) => found.push(flag.to_string()),
        _ => {}
    }
}

/// Whether two keys are equal ignoring case.
fn same_key(left: &str, right: &str) -> bool {
    left.eq_ignore_ascii_case(right) || left.to_lowercase() == right.to_lowercase()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entity() -> Value {
        json!({
            "kind": "Component",
            "metadata": {
                "name": "PetStore",
                "tags": ["java", "REST"],
                "links": [{ "url": "https://a.example" }, { "url": "https://b.example" }],
                "labels": { "tier": null },
            },
            "spec": { "replicas": 3, "public": true, "empty": [], "nested": { "x": "y" } },
            "relations": [
                { "type": "ownedBy", "targetRef": "group:default/Team-C" },
                { "type": "providesApi", "targetRef": "api:default/petstore" },
                { "type": "providesApi", "targetRef": "api:default/streetlights" },
            ],
        })
    }

    #[test]
    fn values_keep_their_case_and_keys_ignore_it() {
        let entity = entity();
        assert_eq!(values_at(&entity, "Metadata.Name"), ["PetStore"]);
        assert_eq!(values_at(&entity, "metadata.tags"), ["java", "REST"]);
        assert_eq!(
            values_at(&entity, "metadata.links.url"),
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(values_at(&entity, "spec.replicas"), ["3"]);
        assert_eq!(values_at(&entity, "spec.public"), ["true"]);
    }

    #[test]
    fn keys_with_dots_match_as_many_parts_as_they_have() {
        let entity = json!({"metadata": {"annotations": {
            "backstage.io/managed-by-location": "file:/c/a.yaml",
            "backstage.io": "not this one",
        }}});

        assert_eq!(
            values_at(
                &entity,
                "metadata.annotations.backstage.io/managed-by-location"
            ),
            ["file:/c/a.yaml"]
        );
        assert_eq!(
            values_at(&entity, "metadata.annotations.backstage.io"),
            ["not this one"]
        );
    }

    #[test]
    fn nulls_objects_and_missing_paths_give_nothing() {
        let entity = entity();
        for path in [
            "metadata.labels.tier",
            "spec.empty",
            "spec.nested",
            "spec.owner",
            "kind.x",
        ] {
            assert!(values_at(&entity, path).is_empty(), "{path}");
        }
    }

    #[test]
    fn relations_give_their_targets() {
        let entity = entity();
        assert_eq!(
            values_at(&entity, "relations.ownedby"),
            ["group:default/Team-C"]
        );
        assert_eq!(
            values_at(&entity, "relations.providesApi"),
            ["api:default/petstore", "api:default/streetlights"]
        );
        assert!(values_at(&entity, "relations.hasPart").is_empty());
    }

    #[test]
    fn the_namespace_defaults() {
        assert_eq!(values_at(&entity(), "metadata.namespace"), ["default"]);
        let namespaced = json!({ "metadata": { "namespace": "audio" } });
        assert_eq!(values_at(&namespaced, "metadata.namespace"), ["audio"]);
    }
}
