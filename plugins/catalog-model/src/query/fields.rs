//! Field projection: an entity cut down to the dot-paths a client asked for.

use serde_json::{Map, Value};

/// Splits a `fields` query value such as `kind,metadata.name` into its
/// dot-paths, trimming spaces and dropping empty ones.
pub fn parse_fields(text: &str) -> Vec<String> {
    let fields = text.split(',').map(str::trim);
    fields
        .filter(|field| !field.is_empty())
        .map(String::from)
        .collect()
}

/// Keeps only the given dot-paths of an entity, such as `kind`,
/// `metadata.name` or `metadata.annotations`, each with everything below it.
///
/// Paths name object keys exactly and do not look into arrays; paths the
/// entity lacks are left out. An empty `fields` keeps the whole entity.
pub fn project<S: AsRef<str>>(entity: &Value, fields: &[S]) -> Value {
    if fields.is_empty() {
        return entity.clone();
    }
    let mut projected = Value::Object(Map::new());
    for field in fields {
        let parts: Vec<&str> = field.as_ref().split('.').collect();
        if let Some(value) = lookup(entity, &parts) {
            insert(&mut projected, &parts, value.clone());
        }
    }
    projected
}

fn lookup<'a>(value: &'a Value, parts: &[&str]) -> Option<&'a Value> {
    parts
        .iter()
        .try_fold(value, |value, part| value.as_object()?.get(*part))
}

/// Puts `value` at `parts` below `target`, making the objects on the way.
fn insert(target: &mut Value, parts: &[&str], value: Value) {
    let Some((last, parents)) = parts.split_last() else {
        return;
    };
    let mut current = target;
    for part in parents {
        let Value::Object(object) = current else {
            return;
        };
        current = object
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if let Value::Object(object) = current {
        object.insert(last.to_string(), value);
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
                "annotations": { "backstage.io/techdocs-ref": "dir:." },
                "tags": ["java"],
            },
            "spec": { "type": "service", "owner": "team-c" },
        })
    }

    #[test]
    fn parses_a_fields_value() {
        assert_eq!(
            parse_fields("kind, metadata.name,,"),
            ["kind", "metadata.name"]
        );
        assert!(parse_fields("").is_empty());
    }

    #[test]
    fn keeps_only_the_given_paths() {
        let projected = project(
            &petstore(),
            &[
                "kind",
                "metadata.name",
                "metadata.annotations",
                "spec.owner",
            ],
        );
        assert_eq!(
            projected,
            json!({
                "kind": "Component",
                "metadata": {
                    "name": "petstore",
                    "annotations": { "backstage.io/techdocs-ref": "dir:." },
                },
                "spec": { "owner": "team-c" },
            })
        );
    }

    #[test]
    fn missing_paths_are_left_out() {
        let projected = project(&petstore(), &["metadata.title", "spec.owner.x", "status"]);
        assert_eq!(projected, json!({}));
        let projected = project(&petstore(), &["metadata.Name", "metadata.tags.0"]);
        assert_eq!(projected, json!({}));
    }

    #[test]
    fn overlapping_paths_keep_the_wider_one() {
        let expected = json!({ "spec": { "type": "service", "owner": "team-c" } });
        assert_eq!(project(&petstore(), &["spec.owner", "spec"]), expected);
        assert_eq!(project(&petstore(), &["spec", "spec.owner"]), expected);
    }

    #[test]
    fn no_fields_keep_everything() {
        let none: [String; 0] = [];
        assert_eq!(project(&petstore(), &none), petstore());
        assert_eq!(project(&petstore(), &parse_fields(" , ")), petstore());
    }
}
