//! Laying one configuration over another: mappings merge key by key, lists
//! and scalars replace, and `null` removes a key.
//!
//! Every value keeps the origin of the layer that wrote it, so the merged
//! tree still says which file (or variable) and line each value came from.
//!
//! Keys are found through an index, so merging takes time in proportion to
//! the number of keys, however many there are.

use std::collections::HashMap;

use super::tree::{Node, Value};

/// Lays `overlay` over `base`.
///
/// When both are mappings, keys of `overlay` are merged into `base` one by
/// one (a `null` in `overlay` removes the key); otherwise `overlay`
/// replaces `base`.
pub(crate) fn merge(base: Node, overlay: Node) -> Node {
    match (base, overlay) {
        (
            Node {
                value: Value::Map(entries),
                origin,
                secret,
            },
            Node {
                value: Value::Map(overlay),
                ..
            },
        ) => Node {
            value: Value::Map(merge_entries(entries, overlay)),
            origin,
            secret,
        },
        (_, overlay) => overlay,
    }
}

fn merge_entries(
    entries: Vec<(String, Node)>,
    overlay: Vec<(String, Node)>,
) -> Vec<(String, Node)> {
    // A removed key leaves an empty slot, so that positions stay valid.
    let mut slots: Vec<Option<(String, Node)>> = Vec::with_capacity(entries.len() + overlay.len());
    let mut positions: HashMap<String, usize> = HashMap::with_capacity(slots.capacity());
    for (key, node) in entries {
        positions.insert(key.clone(), slots.len());
        slots.push(Some((key, node)));
    }
    for (key, node) in overlay {
        match (positions.get(&key).copied(), node.value) {
            (Some(position), Value::Null) => {
                slots[position] = None;
                positions.remove(&key);
            }
            (None, Value::Null) => {}
            (Some(position), value) => {
                let overlay = Node { value, ..node };
                if let Some((_, base)) = &mut slots[position] {
                    let old = std::mem::replace(base, placeholder(&overlay));
                    *base = merge(old, overlay);
                }
            }
            (None, value) => {
                positions.insert(key.clone(), slots.len());
                slots.push(Some((key, Node { value, ..node })));
            }
        }
    }
    slots.into_iter().flatten().collect()
}

fn placeholder(like: &Node) -> Node {
    Node::new(Value::Null, like.origin.clone())
}

/// Removes every mapping key whose value is `null`, at any depth: after
/// merging, `null` means the key is absent.
pub(crate) fn remove_nulls(node: &mut Node) {
    match &mut node.value {
        Value::Map(entries) => {
            entries.retain(|(_, item)| item.value != Value::Null);
            entries.iter_mut().for_each(|(_, item)| remove_nulls(item));
        }
        Value::List(items) => items.iter_mut().for_each(remove_nulls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::yaml::parse;

    fn layer(text: &str, file: &str) -> Node {
        parse(text, file.into()).expect("valid YAML")
    }

    fn merged(base: &str, overlay: &str) -> Node {
        let mut node = merge(layer(base, "base.yaml"), layer(overlay, "overlay.yaml"));
        remove_nulls(&mut node);
        node
    }

    #[test]
    fn mappings_merge_deeply() {
        let node = merged("a:\n  b: 1\n  c: 2\n", "a:\n  c: 3\n  d: 4\n");
        assert_eq!(
            node.to_json(),
            serde_json::json!({"a": {"b": 1, "c": 3, "d": 4}})
        );
    }

    #[test]
    fn lists_and_scalars_replace() {
        let node = merged("a: [1, 2]\nb: x\n", "a: [3]\nb: {c: 1}\n");
        assert_eq!(node.to_json(), serde_json::json!({"a": [3], "b": {"c": 1}}));
    }

    #[test]
    fn null_removes_a_key() {
        let node = merged("a:\n  b: 1\n  c: 2\n", "a:\n  b: null\n");
        assert_eq!(node.to_json(), serde_json::json!({"a": {"c": 2}}));
    }

    #[test]
    fn null_in_one_layer_means_absent() {
        let node = merged("a: ~\nb: [1, null]\n", "c: 1\n");
        assert_eq!(node.to_json(), serde_json::json!({"b": [1, null], "c": 1}));
    }

    #[test]
    fn a_removed_key_written_again_comes_last() {
        let base = layer("a: 1\nb: 2\nc: 3\n", "base.yaml");
        let removed = merge(base, layer("b: null\n", "one.yaml"));
        let node = merge(removed, layer("b: 4\na: 5\n", "two.yaml"));
        assert_eq!(node.to_json(), serde_json::json!({"a": 5, "c": 3, "b": 4}));
        let Value::Map(entries) = &node.value else {
            panic!("a mapping");
        };
        let keys: Vec<&str> = entries.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(keys, ["a", "c", "b"]);
    }

    #[test]
    fn layers_of_many_keys_merge() {
        let keys = 20_000;
        let base: String = (0..keys).map(|n| format!("k{n}: {{a: {n}}}\n")).collect();
        let overlay: String = (0..keys)
            .rev()
            .map(|n| format!("k{n}: {{b: {n}}}\n"))
            .collect();
        let node = merged(&base, &overlay);
        let Value::Map(entries) = &node.value else {
            panic!("a mapping");
        };
        assert_eq!(entries.len(), keys);
        assert_eq!(entries[0].0, "k0");
        assert_eq!(
            node.get("k19999").map(Node::to_json),
            Some(serde_json::json!({"a": 19999, "b": 19999}))
        );
    }

    #[test]
    fn each_value_keeps_the_origin_of_the_layer_that_wrote_it() {
        let node = merged("a:\n  b: 1\n  c: 2\n", "\na:\n  c: 3\n");
        let a = node.get("a").expect("a");
        assert_eq!(a.get("b").expect("b").origin.to_string(), "base.yaml:2");
        assert_eq!(a.get("c").expect("c").origin.to_string(), "overlay.yaml:3");
    }
}
