//! Keys a schema does not declare: likely typos, reported as warnings (or
//! errors when checking strictly).

use serde_json::Value as Json;

use super::{
    key::KeyPath,
    schema::{ConfigProblem, ProblemKind},
    tree::{Node, Value},
    walk::{self, Child},
};

/// Adds a problem to `found` for every key under `node` (at `path`) that
/// `schema` does not declare; `root` is the whole schema, for `$ref`s.
pub(crate) fn unknown_keys(
    node: &Node,
    path: &KeyPath,
    root: &Json,
    schema: &Json,
    found: &mut Vec<ConfigProblem>,
) {
    match &node.value {
        Value::Map(entries) => {
            for (key, item) in entries {
                let key_path = path.child(key);
                match walk::child(root, schema, key) {
                    Child::Declared(declared) => {
                        unknown_keys(item, &key_path, root, declared, found)
                    }
                    Child::Undeclared => found.push(unknown(item, &key_path)),
                    Child::Allowed | Child::Forbidden => {}
                }
            }
        }
        Value::List(items) => {
            if let Some(declared) = walk::items(root, schema) {
                for (index, item) in items.iter().enumerate() {
                    unknown_keys(item, &path.item(index), root, declared, found);
                }
            }
        }
        _ => {}
    }
}

fn unknown(node: &Node, path: &KeyPath) -> ConfigProblem {
    let rule = "unknown key: the schema does not declare it; check the spelling";
    ConfigProblem::new(
        &node.origin,
        path,
        rule.to_string(),
        ProblemKind::UnknownKey,
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::yaml::parse;

    fn unknown_in(text: &str, schema: &Json) -> Vec<String> {
        let node = parse(text, "app-config.yaml".into()).expect("valid YAML");
        let mut found = Vec::new();
        unknown_keys(&node, &KeyPath::default(), schema, schema, &mut found);
        found.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn undeclared_keys_are_found_at_any_depth() {
        let schema = json!({"properties": {"refresh": {"properties": {"interval": {}}}}});
        assert_eq!(
            unknown_in("refresh:\n  interval: 5\n  intervall: 6\n", &schema),
            [
                "app-config.yaml:3: refresh.intervall: unknown key: the schema does not declare \
                 it; check the spelling"
            ]
        );
    }

    #[test]
    fn list_items_are_walked() {
        let schema = json!({"properties": {"targets": {"items": {"properties": {"url": {}}}}}});
        let found = unknown_in("targets:\n  - url: a\n  - ur: b\n", &schema);
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("app-config.yaml:3: targets[1].ur: unknown key"));
    }

    #[test]
    fn open_and_closed_schemas_report_nothing_here() {
        let open = json!({"properties": {}, "additionalProperties": true});
        assert!(unknown_in("anything: 1\n", &open).is_empty());
        let closed = json!({"properties": {}, "additionalProperties": false});
        assert!(unknown_in("anything: 1\n", &closed).is_empty());
    }
}
