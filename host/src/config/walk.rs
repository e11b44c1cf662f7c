//! Following a JSON Schema down a configuration tree: which schema applies
//! to a key of a mapping or an item of a list.
//!
//! This is what finds unknown keys and values a schema marks secret. It
//! understands `properties`, `additionalProperties`, `items` and local
//! `$ref`s (`#/definitions/...`). Below keywords it cannot follow without
//! validating (`allOf`, `anyOf`, `oneOf`, `if`, `patternProperties`, remote
//! `$ref`s and the like) every key counts as allowed and nothing is marked.

use serde_json::Value;

/// How many local `$ref`s may chain before the walk gives up.
const MAX_REF_CHAIN: usize = 8;

/// Keywords under which the walk cannot tell which keys are declared.
const OPAQUE_KEYWORDS: [&str; 9] = [
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "dependentSchemas",
    "patternProperties",
    "unevaluatedProperties",
    "$ref",
];

/// What a schema says about one key of a mapping.
#[derive(Debug, PartialEq)]
pub(crate) enum Child<'schema> {
    /// The key's schema, from `properties` or `additionalProperties`.
    Declared(&'schema Value),
    /// The key is allowed but its schema cannot be followed here.
    Allowed,
    /// `properties` lists other keys and `additionalProperties` is not set:
    /// probably a typo (a warning, or an error when strict).
    Undeclared,
    /// `additionalProperties` is `false`: validation reports the key.
    Forbidden,
}

/// `schema` with local `$ref`s followed, against the document `root`.
pub(crate) fn resolve<'schema>(root: &'schema Value, schema: &'schema Value) -> &'schema Value {
    let mut current = schema;
    for _ in 0..MAX_REF_CHAIN {
        let target = current
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|reference| reference.strip_prefix('#'))
            .and_then(|pointer| root.pointer(pointer));
        match target {
            Some(target) => current = target,
            None => return current,
        }
    }
    current
}

/// What `schema` says about `key`.
pub(crate) fn child<'schema>(
    root: &'schema Value,
    schema: &'schema Value,
    key: &str,
) -> Child<'schema> {
    let resolved = resolve(root, schema);
    let Some(object) = resolved.as_object() else {
        return Child::Allowed;
    };
    if let Some(declared) = object
        .get("properties")
        .and_then(|properties| properties.get(key))
    {
        return Child::Declared(declared);
    }
    if OPAQUE_KEYWORDS
        .iter()
        .any(|keyword| object.contains_key(*keyword))
    {
        return Child::Allowed;
    }
    match object.get("additionalProperties") {
        Some(Value::Bool(false)) => Child::Forbidden,
        Some(additional @ Value::Object(_)) => Child::Declared(additional),
        None if object.contains_key("properties") => Child::Undeclared,
        _ => Child::Allowed,
    }
}

/// The schema of every item of a list, when `items` is one schema.
pub(crate) fn items<'schema>(
    root: &'schema Value,
    schema: &'schema Value,
) -> Option<&'schema Value> {
    resolve(root, schema)
        .get("items")
        .filter(|items| items.is_object())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn declared_keys_have_their_schema() {
        let schema = json!({"properties": {"a": {"type": "string"}}});
        assert_eq!(
            child(&schema, &schema, "a"),
            Child::Declared(&json!({"type": "string"}))
        );
        assert_eq!(child(&schema, &schema, "b"), Child::Undeclared);
    }

    #[test]
    fn additional_properties_decide_other_keys() {
        let closed = json!({"properties": {}, "additionalProperties": false});
        assert_eq!(child(&closed, &closed, "b"), Child::Forbidden);
        let open = json!({"properties": {}, "additionalProperties": true});
        assert_eq!(child(&open, &open, "b"), Child::Allowed);
        let typed = json!({"additionalProperties": {"type": "number"}});
        assert_eq!(
            child(&typed, &typed, "b"),
            Child::Declared(&json!({"type": "number"}))
        );
    }

    #[test]
    fn a_schema_without_properties_allows_anything() {
        let schema = json!({"type": "object"});
        assert_eq!(child(&schema, &schema, "b"), Child::Allowed);
    }

    #[test]
    fn keys_below_opaque_keywords_are_allowed() {
        let schema = json!({"properties": {"a": {}}, "anyOf": [{"required": ["a"]}]});
        assert_eq!(child(&schema, &schema, "b"), Child::Allowed);
    }

    #[test]
    fn local_refs_are_followed() {
        let root = json!({
            "definitions": {"token": {"type": "string", "visibility": "secret"}},
            "properties": {"token": {"$ref": "#/definitions/token"}},
        });
        let Child::Declared(token) = child(&root, &root, "token") else {
            panic!("declared");
        };
        assert_eq!(resolve(&root, token)["visibility"], "secret");
    }

    #[test]
    fn items_have_one_schema() {
        let schema = json!({"items": {"type": "string"}});
        assert_eq!(items(&schema, &schema), Some(&json!({"type": "string"})));
        assert_eq!(
            items(&json!({"items": [{}]}), &json!({"items": [{}]})),
            None
        );
    }
}
