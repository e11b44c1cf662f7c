//! Entity validation: the envelope every entity shares and the spec of each
//! built-in kind.

mod spec;
mod syntax;

use serde_json::{Map, Value};

use syntax::{API_VERSION, KEY, KIND, LABEL_VALUE, NAME, NAMESPACE, TAG};

/// Checks an entity and returns every problem found, each naming its field.
///
/// The envelope (`apiVersion`, `kind`, `metadata`) is checked for every
/// entity. The spec is checked too when the `apiVersion` is
/// `backstage.io/v1alpha1` or `backstage.io/v1beta1` and the kind, in any
/// case, is a built-in one: Component, API, System, Domain, Resource,
/// Location, Group or User.
///
/// # Errors
///
/// Every problem, in the order of the fields, such as
/// `metadata.name "Bad Name!" is not a valid name: use 1-63 letters ...`.
pub fn validate(entity: &Value) -> Result<(), Vec<String>> {
    let Some(entity) = entity.as_object() else {
        return Err(vec!["the entity must be a JSON object".to_string()]);
    };
    let mut problems = Vec::new();

    let api_version = text(&mut problems, entity, "apiVersion", true);
    if let Some(api_version) = api_version {
        API_VERSION.check(&mut problems, "apiVersion", api_version);
    }
    let kind = text(&mut problems, entity, "kind", true);
    if let Some(kind) = kind {
        KIND.check(&mut problems, "kind", kind);
    }
    match entity.get("metadata") {
        None => problems.push("metadata is missing".to_string()),
        Some(Value::Object(metadata)) => check_metadata(&mut problems, metadata),
        Some(_) => problems.push("metadata must be an object".to_string()),
    }

    spec::check(&mut problems, entity, api_version, kind);

    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn check_metadata(problems: &mut Vec<String>, metadata: &Map<String, Value>) {
    if let Some(name) = text(problems, metadata, "metadata.name", true) {
        NAME.check(problems, "metadata.name", name);
    }
    if let Some(namespace) = text(problems, metadata, "metadata.namespace", false) {
        NAMESPACE.check(problems, "metadata.namespace", namespace);
    }
    check_string_map(problems, metadata, "metadata.labels", true);
    check_string_map(problems, metadata, "metadata.annotations", false);
    texts(
        problems,
        metadata,
        "metadata.tags",
        false,
        |problems, field, tag| {
            TAG.check(problems, field, tag);
        },
    );
    text(problems, metadata, "metadata.title", false);
    text(problems, metadata, "metadata.description", false);

    let links = match metadata.get("links") {
        None => return,
        Some(Value::Array(links)) => links,
        Some(_) => return problems.push("metadata.links must be an array".to_string()),
    };
    for (index, link) in links.iter().enumerate() {
        let field = format!("metadata.links[{index}]");
        let Some(link) = link.as_object() else {
            problems.push(format!("{field} must be an object"));
            continue;
        };
        text(problems, link, &format!("{field}.url"), true);
        for optional in ["title", "icon", "type"] {
            text(problems, link, &format!("{field}.{optional}"), false);
        }
    }
}

/// Checks `metadata.labels` or `metadata.annotations`: keys of the form
/// `[prefix/]name` and string values, label values being name-like.
fn check_string_map(
    problems: &mut Vec<String>,
    metadata: &Map<String, Value>,
    field: &str,
    labels: bool,
) {
    let map = match metadata.get(last_part(field)) {
        None => return,
        Some(Value::Object(map)) => map,
        Some(_) => return problems.push(format!("{field} must be an object")),
    };
    for (key, value) in map {
        KEY.check(problems, &format!("{field} key"), key);
        let entry = format!("{field}.{key}");
        match value.as_str() {
            None => problems.push(format!("{entry} must be a string")),
            Some(value) if labels => LABEL_VALUE.check(problems, &entry, value),
            Some(_) => {}
        }
    }
}

/// The last dot-separated part of a field path: the key inside its object.
fn last_part(field: &str) -> &str {
    field.rsplit('.').next().unwrap_or(field)
}

/// Reads the string at `field` in `object`, reporting it missing (when
/// `required`) or not a string.
fn text<'a>(
    problems: &mut Vec<String>,
    object: &'a Map<String, Value>,
    field: &str,
    required: bool,
) -> Option<&'a str> {
    match object.get(last_part(field)) {
        None if required => {
            problems.push(format!("{field} is missing"));
            None
        }
        None => None,
        Some(Value::String(text)) => Some(text),
        Some(value) => {
            match placeholder(value) {
                Some(key) => problems.push(format!(
                    "{field} must be a string, not an unresolved {key} placeholder"
                )),
                None => problems.push(format!("{field} must be a string")),
            }
            None
        }
    }
}

/// The key of a placeholder such as `{"$text": "./api.yaml"}`, which a
/// catalog processor replaces with the file's content before validation.
fn placeholder(value: &Value) -> Option<&str> {
    let object = value.as_object().filter(|object| object.len() == 1)?;
    object
        .keys()
        .next()
        .filter(|key| key.starts_with('$'))
        .map(String::as_str)
}

/// Reads the array of strings at `field` in `object`, reporting it missing
/// (when `required`), not an array, or holding something else than strings;
/// calls `each` with every string and its own field name, such as
/// `metadata.tags[0]`, in order.
fn texts<F>(
    problems: &mut Vec<String>,
    object: &Map<String, Value>,
    field: &str,
    required: bool,
    mut each: F,
) where
    F: FnMut(&mut Vec<String>, &str, &str),
{
    let elements = match object.get(last_part(field)) {
        None if required => return problems.push(format!("{field} is missing")),
        None => return,
        Some(Value::Array(elements)) => elements,
        Some(_) => return problems.push(format!("{field} must be an array of strings")),
    };
    for (index, element) in elements.iter().enumerate() {
        let element_field = format!("{field}[{index}]");
        match element.as_str() {
            Some(text) => each(problems, &element_field, text),
            None => problems.push(format!("{element_field} must be a string")),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn petstore() -> Value {
        json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": {
                "name": "petstore",
                "description": "The Petstore is an example API.",
                "tags": ["java", "c++"],
                "labels": { "tier": "gold", "backstage.io/flag": "" },
                "annotations": { "backstage.io/techdocs-ref": "dir:." },
                "links": [{
                    "url": "https://github.com/swagger-api/swagger-petstore",
                    "title": "GitHub Repo",
                    "icon": "github",
                }],
            },
            "spec": {
                "type": "service",
                "lifecycle": "experimental",
                "owner": "team-c",
                "system": "podcast",
                "providesApis": ["petstore", "streetlights", "hello-world"],
            },
        })
    }

    fn problems(entity: &Value) -> Vec<String> {
        validate(entity).unwrap_err()
    }

    #[test]
    fn a_real_component_is_valid() {
        assert_eq!(validate(&petstore()), Ok(()));
    }

    #[test]
    fn not_an_object() {
        assert_eq!(problems(&json!([1])), ["the entity must be a JSON object"]);
    }

    #[test]
    fn an_empty_object_misses_the_envelope() {
        assert_eq!(
            problems(&json!({})),
            [
                "apiVersion is missing",
                "kind is missing",
                "metadata is missing"
            ]
        );
    }

    #[test]
    fn bad_envelope_values_name_their_field() {
        let entity = json!({
            "apiVersion": "v1",
            "kind": "My-Kind",
            "metadata": { "name": "Bad Name!", "namespace": "Prod" },
        });
        assert_eq!(
            problems(&entity),
            [
                "apiVersion \"v1\" is not a valid api version: use <group>/<version> \
                 such as backstage.io/v1alpha1",
                "kind \"My-Kind\" is not a valid kind: use 1-63 letters and digits, \
                 starting with a letter",
                "metadata.name \"Bad Name!\" is not a valid name: use 1-63 letters and digits, \
                 with single \"-\", \"_\" or \".\" between them",
                "metadata.namespace \"Prod\" is not a valid namespace: use 1-63 lowercase \
                 letters and digits, with single \"-\" between them",
            ]
        );
    }

    #[test]
    fn wrong_types_are_reported() {
        let entity = json!({
            "apiVersion": 1,
            "kind": ["Component"],
            "metadata": {
                "name": 7,
                "title": false,
                "description": {},
                "labels": [],
                "annotations": { "ok": 1 },
                "tags": "java",
                "links": [{ "title": "no url" }, "https://example.com"],
            },
        });
        assert_eq!(
            problems(&entity),
            [
                "apiVersion must be a string",
                "kind must be a string",
                "metadata.name must be a string",
                "metadata.labels must be an object",
                "metadata.annotations.ok must be a string",
                "metadata.tags must be an array of strings",
                "metadata.title must be a string",
                "metadata.description must be a string",
                "metadata.links[0].url is missing",
                "metadata.links[1] must be an object",
            ]
        );
    }

    #[test]
    fn labels_annotations_and_tags_follow_their_rules() {
        let mut entity = petstore();
        entity["metadata"]["labels"] = json!({ "Bad Key/x": "v", "tier": "not gold" });
        entity["metadata"]["annotations"] = json!({ "example.com/": "anything goes" });
        entity["metadata"]["tags"] = json!(["java", "Java", 3]);
        assert_eq!(
            problems(&entity),
            [
                "metadata.labels key \"Bad Key/x\" is not a valid key: use [<prefix>/]<name> \
                 where the prefix is a lowercase DNS name of at most 253 characters and the name \
                 is 1-63 letters and digits, with single \"-\", \"_\" or \".\" between them",
                "metadata.labels.tier \"not gold\" is not a valid label value: use at most 63 \
                 letters and digits, with single \"-\", \"_\" or \".\" between them",
                &format!(
                    "metadata.annotations key \"example.com/\" is not a valid key: {}",
                    KEY.how
                ),
                "metadata.tags[1] \"Java\" is not a valid tag: use 1-63 lowercase letters, \
                 digits, \":\", \"+\" or \"#\", with single \"-\" between them",
                "metadata.tags[2] must be a string",
            ]
        );
    }

    #[test]
    fn long_label_values_are_refused_and_long_annotations_allowed() {
        let mut entity = petstore();
        let long_value = "a".repeat(64);
        entity["metadata"]["labels"] = json!({ "tier": long_value });
        entity["metadata"]["annotations"] = json!({ "note": long_value });
        assert_eq!(
            problems(&entity),
            [format!(
                "metadata.labels.tier \"{long_value}\" is not a valid label value: {}",
                LABEL_VALUE.how
            )]
        );
    }

    #[test]
    fn unknown_kinds_pass_on_the_envelope_alone() {
        let entity = json!({
            "apiVersion": "example.com/v1",
            "kind": "Template",
            "metadata": { "name": "react-app" },
            "spec": { "anything": ["goes"] },
        });
        assert_eq!(validate(&entity), Ok(()));
        let component_elsewhere = json!({
            "apiVersion": "example.com/v1",
            "kind": "Component",
            "metadata": { "name": "petstore" },
        });
        assert_eq!(validate(&component_elsewhere), Ok(()));
    }

    #[test]
    fn a_non_object_spec_is_reported_for_any_kind() {
        let entity = json!({
            "apiVersion": "example.com/v1",
            "kind": "Template",
            "metadata": { "name": "react-app" },
            "spec": "text",
        });
        assert_eq!(problems(&entity), ["spec must be an object"]);
    }
}
