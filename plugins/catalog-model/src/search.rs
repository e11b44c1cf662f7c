//! Search entries: an entity flattened into lowercase key/value rows, and
//! the full-text match over them.

mod filter;

pub use filter::{EntityFilter, FilterError};

use std::collections::HashSet;

use serde_json::Value;

use crate::reference::DEFAULT_NAMESPACE;

/// One row of an entity's search entries: a lowercase dot-path key and its
/// lowercase value, `None` for `null` and for values too long to search.
pub type SearchEntry = (String, Option<String>);

/// Values longer than this many characters are kept as a key without value.
const MAX_VALUE_LENGTH: usize = 200;
/// Keys longer than this many characters are left out.
const MAX_KEY_LENGTH: usize = 200;

/// The fields [`full_text_matches`] looks at when given none.
pub const DEFAULT_FULL_TEXT_FIELDS: [&str; 5] = [
    "metadata.name",
    "metadata.title",
    "kind",
    "spec.type",
    "metadata.description",
];

/// Flattens an entity into the rows that filters and full-text search match.
///
/// Every leaf gets a row keyed by its dot-path, such as `spec.owner`;
/// arrays give one row per element under the array's key, objects inside
/// arrays are flattened below that key, and each string element `x` of an
/// array at `path` also gives `path.x` = `true`, so that a filter can ask
/// for two tags at once. Numbers and booleans become text, `null` no value.
/// The top-level `relations` and `status` are left out; instead each
/// relation `{type, targetRef}` gives `relations.<type>` = its target.
/// `metadata.namespace` is `default` when the entity names none.
///
/// Keys and values are lowercased; a value longer than 200 characters
/// keeps its key but loses its value, and a key longer than 200 characters
/// is left out. Rows are sorted by key, keeping the order of an array's
/// elements, without duplicates.
pub fn search_entries(entity: &Value) -> Vec<SearchEntry> {
    let mut raw = Vec::new();
    if let Some(object) = entity.as_object() {
        for (key, value) in object {
            if key != "relations" && key != "status" {
                visit(key, value, &mut raw);
            }
        }
    }
    if !raw.iter().any(|(key, _)| key == "metadata.namespace") {
        raw.push(("metadata.namespace".into(), Some(DEFAULT_NAMESPACE.into())));
    }
    let relations = entity.get("relations").and_then(Value::as_array);
    for relation in relations.into_iter().flatten() {
        let kind = relation.get("type").and_then(Value::as_str);
        let target = relation.get("targetRef").and_then(Value::as_str);
        if let (Some(kind), Some(target)) = (kind, target) {
            raw.push((format!("relations.{kind}"), Some(target.to_string())));
        }
    }

    let mut seen = HashSet::new();
    let mut entries: Vec<SearchEntry> = Vec::with_capacity(raw.len());
    for (key, value) in raw {
        if key.chars().count() > MAX_KEY_LENGTH {
            continue;
        }
        let value = value.filter(|value| value.chars().count() <= MAX_VALUE_LENGTH);
        let entry = (key.to_lowercase(), value.map(|value| value.to_lowercase()));
        if seen.insert(entry.clone()) {
            entries.push(entry);
        }
    }
    entries.sort_by(|left, right| left.0.cmp(&right.0));
    entries
}

/// Adds the rows of `value` found at `path`.
fn visit(path: &str, value: &Value, rows: &mut Vec<SearchEntry>) {
    match value {
        Value::Null => rows.push((path.to_string(), None)),
        Value::Bool(flag) => rows.push((path.to_string(), Some(flag.to_string()))),
        Value::Number(number) => rows.push((path.to_string(), Some(number.to_string()))),
        Value::String(text) => rows.push((path.to_string(), Some(text.clone()))),
        Value::Array(elements) => {
            for element in elements {
                visit(path, element, rows);
                if let Value::String(text) = element {
                    rows.push((format!("{path}.{text}"), Some("true".to_string())));
                }
            }
        }
        Value::Object(object) => {
            for (key, value) in object {
                visit(&format!("{path}.{key}"), value, rows);
            }
        }
    }
}

/// Whether `term` occurs, ignoring case, in the value of any entry whose
/// key is one of `fields`, or of [`DEFAULT_FULL_TEXT_FIELDS`] when `fields`
/// is empty.
///
/// `entries` are expected to come from [`search_entries`], already in
/// lowercase. A term that is empty or only spaces matches every entity.
pub fn full_text_matches<S: AsRef<str>>(entries: &[SearchEntry], term: &str, fields: &[S]) -> bool {
    let term = term.trim().to_lowercase();
    if term.is_empty() {
        return true;
    }
    let mut fields: Vec<String> = fields
        .iter()
        .map(|f| f.as_ref().trim().to_lowercase())
        .collect();
    if fields.is_empty() {
        fields = DEFAULT_FULL_TEXT_FIELDS.map(String::from).to_vec();
    }
    entries.iter().any(|(key, value)| {
        let value = value.as_deref().unwrap_or_default();
        fields.contains(key) && value.contains(&term)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(key: &str, value: &str) -> SearchEntry {
        (key.to_string(), Some(value.to_string()))
    }

    fn petstore() -> Value {
        json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": {
                "name": "PetStore",
                "description": "The Petstore is an example API",
                "tags": ["java", "REST"],
                "links": [{ "url": "https://example.com/petstore", "title": "Docs" }],
                "etag": null,
            },
            "spec": {
                "type": "service",
                "lifecycle": "experimental",
                "owner": "team-c",
                "replicas": 3,
                "public": true,
            },
            "relations": [
                { "type": "ownedBy", "targetRef": "group:default/Team-C" },
                { "type": "providesApi", "targetRef": "api:default/petstore" },
            ],
            "status": { "items": [{ "type": "x" }] },
        })
    }

    #[test]
    fn flattens_every_leaf_in_lowercase() {
        assert_eq!(
            search_entries(&petstore()),
            [
                entry("apiversion", "backstage.io/v1alpha1"),
                entry("kind", "component"),
                entry("metadata.description", "the petstore is an example api"),
                ("metadata.etag".to_string(), None),
                entry("metadata.links.title", "docs"),
                entry("metadata.links.url", "https://example.com/petstore"),
                entry("metadata.name", "petstore"),
                entry("metadata.namespace", "default"),
                entry("metadata.tags", "java"),
                entry("metadata.tags", "rest"),
                entry("metadata.tags.java", "true"),
                entry("metadata.tags.rest", "true"),
                entry("relations.ownedby", "group:default/team-c"),
                entry("relations.providesapi", "api:default/petstore"),
                entry("spec.lifecycle", "experimental"),
                entry("spec.owner", "team-c"),
                entry("spec.public", "true"),
                entry("spec.replicas", "3"),
                entry("spec.type", "service"),
            ]
        );
    }

    #[test]
    fn an_explicit_namespace_is_kept() {
        let entity = json!({ "kind": "API", "metadata": { "name": "a", "namespace": "Audio" } });
        assert_eq!(
            search_entries(&entity),
            [
                entry("kind", "api"),
                entry("metadata.name", "a"),
                entry("metadata.namespace", "audio"),
            ]
        );
    }

    #[test]
    fn over_long_values_keep_their_key_without_value() {
        let long = "x".repeat(201);
        let just_fits = "y".repeat(200);
        let entity = json!({
            "metadata": { "description": long, "title": just_fits, "namespace": "default" },
            "spec": { &long: "dropped" },
        });
        assert_eq!(
            search_entries(&entity),
            [
                ("metadata.description".to_string(), None),
                entry("metadata.namespace", "default"),
                entry("metadata.title", &just_fits),
            ]
        );
    }

    #[test]
    fn full_text_looks_in_the_default_fields() {
        let entries = search_entries(&petstore());
        let none: [&str; 0] = [];
        assert!(full_text_matches(&entries, "STORE", &none));
        assert!(full_text_matches(&entries, "example api", &none));
        assert!(full_text_matches(&entries, "  ", &none));
        assert!(!full_text_matches(&entries, "team-c", &none));
    }

    #[test]
    fn full_text_looks_only_in_the_given_fields() {
        let entries = search_entries(&petstore());
        assert!(full_text_matches(&entries, "Team", &["Spec.Owner"]));
        assert!(full_text_matches(&entries, "jav", &["metadata.tags"]));
        assert!(!full_text_matches(
            &entries,
            "petstore",
            &["spec.owner", "kind"]
        ));
    }
}
