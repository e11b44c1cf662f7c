//! Values a schema marks secret.
//!
//! A schema marks a value secret with `"visibility": "secret"`, the
//! annotation Backstage's configuration schemas use, so their schemas carry
//! over unchanged. Everything inside a secret value is secret too. Values
//! from the environment or a `$file` are secret whatever the schema says
//! (see [`super::substitute`] and [`super::env`]).

use serde_json::Value as Json;

use super::{
    access::Config,
    tree::{Node, Value},
    walk::{self, Child},
};

/// The schema keyword that marks a value secret, and its value.
pub const SECRET_ANNOTATION: (&str, &str) = ("visibility", "secret");

/// Marks secret every value that one of `schemas` marks so; each schema
/// applies to the value under the top-level key equal to its id.
pub fn mark_schema_secrets(config: &mut Config, schemas: &[(&str, &Json)]) {
    let Value::Map(entries) = &mut config.node_mut().value else {
        return;
    };
    for (id, schema) in schemas {
        if let Some((_, slice)) = entries.iter_mut().find(|(key, _)| key == id) {
            mark(slice, schema, schema);
        }
    }
}

/// Whether `schema` itself carries the secret annotation.
pub(crate) fn is_secret(root: &Json, schema: &Json) -> bool {
    let (keyword, value) = SECRET_ANNOTATION;
    [schema, walk::resolve(root, schema)]
        .iter()
        .any(|schema| schema.get(keyword).and_then(Json::as_str) == Some(value))
}

fn mark(node: &mut Node, root: &Json, schema: &Json) {
    if is_secret(root, schema) {
        node.mark_secret();
        return;
    }
    match &mut node.value {
        Value::Map(entries) => {
            for (key, item) in entries {
                if let Child::Declared(declared) = walk::child(root, schema, key) {
                    mark(item, root, declared);
                }
            }
        }
        Value::List(items) => {
            if let Some(declared) = walk::items(root, schema) {
                items.iter_mut().for_each(|item| mark(item, root, declared));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::{tree::Origin, yaml::parse};

    fn config(text: &str) -> Config {
        Config::from_root(parse(text, "app-config.yaml".into()).expect("valid YAML"))
    }

    #[test]
    fn annotated_values_become_secret() {
        let schema = json!({"properties": {
            "token": {"type": "string", "visibility": "secret"},
            "url": {"type": "string"},
        }});
        let mut config = config("catalog:\n  token: hunter2\n  url: https://example.org\n");
        mark_schema_secrets(&mut config, &[("catalog", &schema)]);
        assert!(config.is_secret("catalog.token"));
        assert!(!config.is_secret("catalog.url"));
        assert!(!config.to_redacted_yaml().contains("hunter2"));
    }

    #[test]
    fn secrets_reach_into_lists_maps_and_refs() {
        let schema = json!({
            "definitions": {"secret": {"visibility": "secret"}},
            "properties": {
                "targets": {"items": {"properties": {
                    "password": {"$ref": "#/definitions/secret"},
                }}},
                "headers": {"additionalProperties": {"visibility": "secret"}},
            },
        });
        let mut config = config(
            "app:\n  targets:\n    - password: p1\n  headers:\n    Authorization: Bearer t\n",
        );
        mark_schema_secrets(&mut config, &[("app", &schema)]);
        assert_eq!(config.secret_values(), ["p1", "Bearer t"]);
    }

    #[test]
    fn a_secret_mapping_hides_everything_inside() {
        let schema = json!({"properties": {"auth": {"visibility": "secret"}}});
        let mut config = config("app:\n  auth:\n    user: u\n    key: k\n");
        mark_schema_secrets(&mut config, &[("app", &schema)]);
        assert!(config.is_secret("app.auth.user"));
        let origin = config.origin("app.auth.key").cloned();
        assert_eq!(origin, Some(Origin::file("app-config.yaml".into(), 4)));
    }
}
