//! Facet counts: how many entities have each value at a dot-path.

use std::borrow::Borrow;
use std::collections::HashMap;

use serde_json::Value;

use super::values_at;

/// Counts, for a dot-path such as `kind`, `spec.type`, `metadata.tags` or
/// `relations.ownedBy`, each distinct value among the entities, once per
/// entity that has it.
///
/// Values keep their original case (for relations, the `targetRef`); keys
/// match ignoring case. The counts are sorted by count, highest first, then
/// by value.
pub fn facets<I>(entities: I, facet: &str) -> Vec<(String, usize)>
where
    I: IntoIterator,
    I::Item: Borrow<Value>,
{
    let mut counts: HashMap<String, usize> = HashMap::new();
    for entity in entities {
        let mut values = values_at(entity.borrow(), facet);
        values.sort();
        values.dedup();
        for value in values {
            *counts.entry(value).or_default() += 1;
        }
    }

    let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
    counts.sort_by(|left, right| right.1.cmp(&left.1).then_with(|| left.0.cmp(&right.0)));
    counts
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entities() -> Vec<Value> {
        vec![
            json!({
                "kind": "Component",
                "metadata": { "name": "petstore", "tags": ["java", "rest", "java"] },
                "spec": { "type": "service" },
                "relations": [{ "type": "ownedBy", "targetRef": "group:default/team-c" }],
            }),
            json!({
                "kind": "Component",
                "metadata": { "name": "playback-lib", "namespace": "audio", "tags": ["Java"] },
                "spec": { "type": "library" },
                "relations": [{ "type": "ownedBy", "targetRef": "group:default/team-c" }],
            }),
            json!({
                "kind": "API",
                "metadata": { "name": "streetlights", "tags": ["rest"] },
                "spec": { "type": "asyncapi" },
            }),
            json!({
                "kind": "Component",
                "metadata": { "name": "wayback-search" },
                "spec": { "type": "service" },
                "relations": [{ "type": "ownedBy", "targetRef": "group:default/team-a" }],
            }),
        ]
    }

    fn counts(pairs: &[(&str, usize)]) -> Vec<(String, usize)> {
        pairs
            .iter()
            .map(|&(value, count)| (value.to_string(), count))
            .collect()
    }

    #[test]
    fn counts_kinds_and_types() {
        let entities = entities();
        assert_eq!(
            facets(&entities, "kind"),
            counts(&[("Component", 3), ("API", 1)])
        );
        assert_eq!(
            facets(&entities, "spec.type"),
            counts(&[("service", 2), ("asyncapi", 1), ("library", 1)])
        );
    }

    #[test]
    fn counts_array_values_once_per_entity_in_their_case() {
        assert_eq!(
            facets(entities(), "metadata.tags"),
            counts(&[("rest", 2), ("Java", 1), ("java", 1)])
        );
    }

    #[test]
    fn counts_relation_targets_and_default_namespaces() {
        let entities = entities();
        let references: Vec<&Value> = entities.iter().collect();
        assert_eq!(
            facets(references.iter().copied(), "relations.ownedBy"),
            counts(&[("group:default/team-c", 2), ("group:default/team-a", 1)])
        );
        assert_eq!(
            facets(&entities, "metadata.namespace"),
            counts(&[("default", 3), ("audio", 1)])
        );
    }

    #[test]
    fn an_unknown_facet_has_no_values() {
        assert!(facets(entities(), "spec.lifecycle").is_empty());
        assert!(facets(Vec::<Value>::new(), "kind").is_empty());
    }
}
