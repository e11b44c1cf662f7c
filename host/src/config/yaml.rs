//! Reading YAML (and JSON, which YAML 1.2 contains) into the configuration
//! tree with the line of every value, and writing the tree back as YAML
//! with secrets hidden.
//!
//! A mapping entry's line is the line of its key, so that a nested mapping
//! points at `refresh:` rather than at its first child.

use std::borrow::Cow;

use camino::Utf8Path;
use saphyr::{LoadableYamlNode, MarkedYamlOwned, Scalar, ScalarOwned, Yaml, YamlDataOwned};

use super::{
    error::ConfigError,
    key::KeyPath,
    tree::{Node, Origin, REDACTED, Value},
};

/// Parses one YAML document from `text`, read from `path`.
///
/// An empty file is an empty mapping.
pub(crate) fn parse(text: &str, path: &Utf8Path) -> Result<Node, ConfigError> {
    let documents = MarkedYamlOwned::load_from_str(text).map_err(|error| ConfigError::Syntax {
        path: path.to_owned(),
        line: error.marker().line(),
        column: error.marker().col() + 1,
        reason: error.info().to_string(),
    })?;
    match documents.as_slice() {
        [] => Ok(Node::new(Value::Map(Vec::new()), Origin::file(path, 1))),
        [document] => convert(
            document,
            path,
            document.span.start.line(),
            &KeyPath::default(),
        ),
        more => Err(ConfigError::MultipleDocuments {
            path: path.to_owned(),
            count: more.len(),
        }),
    }
}

fn convert(
    yaml: &MarkedYamlOwned,
    path: &Utf8Path,
    line: usize,
    key: &KeyPath,
) -> Result<Node, ConfigError> {
    let origin = Origin::file(path, line);
    let value = match &yaml.data {
        YamlDataOwned::Value(scalar) => scalar_value(scalar),
        YamlDataOwned::Representation(text, _, _) => Value::String(text.clone()),
        YamlDataOwned::Tagged(_, inner) => return convert(inner, path, line, key),
        YamlDataOwned::Sequence(items) => Value::List(
            items
                .iter()
                .enumerate()
                .map(|(index, item)| convert(item, path, item.span.start.line(), &key.item(index)))
                .collect::<Result<_, _>>()?,
        ),
        YamlDataOwned::Mapping(entries) => Value::Map(
            entries
                .iter()
                .map(|(name, item)| entry(name, item, path, key))
                .collect::<Result<_, _>>()?,
        ),
        YamlDataOwned::Alias(_) | YamlDataOwned::BadValue => {
            return Err(ConfigError::Invalid {
                origin,
                key: key.to_string(),
                reason: "the value cannot be read (an alias to an unknown anchor?); write it out"
                    .to_string(),
            });
        }
    };
    Ok(Node::new(value, origin))
}

fn entry(
    name: &MarkedYamlOwned,
    item: &MarkedYamlOwned,
    path: &Utf8Path,
    parent: &KeyPath,
) -> Result<(String, Node), ConfigError> {
    let line = name.span.start.line();
    let text = match &name.data {
        YamlDataOwned::Value(scalar) if !matches!(scalar, ScalarOwned::Null) => scalar_text(scalar),
        _ => {
            return Err(ConfigError::Invalid {
                origin: Origin::file(path, line),
                key: parent.to_string(),
                reason: "a key must be a string, number or boolean; quote it".to_string(),
            });
        }
    };
    let node = convert(item, path, line, &parent.child(&text))?;
    Ok((text, node))
}

fn scalar_value(scalar: &ScalarOwned) -> Value {
    match scalar {
        ScalarOwned::Null => Value::Null,
        ScalarOwned::Boolean(flag) => Value::Boolean(*flag),
        ScalarOwned::Integer(number) => Value::Integer(*number),
        ScalarOwned::FloatingPoint(number) => Value::Float(number.0),
        ScalarOwned::String(text) => Value::String(text.clone()),
    }
}

fn scalar_text(scalar: &ScalarOwned) -> String {
    match scalar {
        ScalarOwned::Null => String::new(),
        ScalarOwned::Boolean(flag) => flag.to_string(),
        ScalarOwned::Integer(number) => number.to_string(),
        ScalarOwned::FloatingPoint(number) => number.0.to_string(),
        ScalarOwned::String(text) => text.clone(),
    }
}

/// The tree as a YAML document, every secret value written as `<secret>`.
pub(crate) fn to_redacted_yaml(node: &Node) -> String {
    let mut text = String::new();
    let mut emitter = saphyr::YamlEmitter::new(&mut text);
    if emitter.dump(&redacted(node)).is_err() {
        // Writing to a String cannot fail; keep what was written.
        return text;
    }
    text.push('\n');
    text
}

fn redacted(node: &Node) -> Yaml<'_> {
    if node.secret {
        return Yaml::Value(Scalar::String(Cow::Borrowed(REDACTED)));
    }
    match &node.value {
        Value::Null => Yaml::Value(Scalar::Null),
        Value::Boolean(flag) => Yaml::Value(Scalar::Boolean(*flag)),
        Value::Integer(number) => Yaml::Value(Scalar::Integer(*number)),
        Value::Float(number) => Yaml::Value(Scalar::FloatingPoint((*number).into())),
        Value::String(text) => Yaml::Value(Scalar::String(Cow::Borrowed(text))),
        Value::List(items) => Yaml::Sequence(items.iter().map(redacted).collect()),
        Value::Map(entries) => Yaml::Mapping(
            entries
                .iter()
                .map(|(key, item)| {
                    (
                        Yaml::Value(Scalar::String(Cow::Borrowed(key))),
                        redacted(item),
                    )
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Node {
        parse(text, "app-config.yaml".into()).expect("valid YAML")
    }

    #[test]
    fn values_keep_the_line_of_their_key() {
        let node = parse_text("# comment\ncatalog:\n  refresh:\n    interval: soon\n");
        let refresh = node
            .get("catalog")
            .and_then(|c| c.get("refresh"))
            .expect("refresh");
        assert_eq!(refresh.origin.to_string(), "app-config.yaml:3");
        let interval = refresh.get("interval").expect("interval");
        assert_eq!(interval.origin.to_string(), "app-config.yaml:4");
        assert_eq!(interval.value, Value::String("soon".to_string()));
    }

    #[test]
    fn list_items_keep_their_own_line() {
        let node = parse_text("include:\n  - catalog\n  - search\n");
        let Some(Value::List(items)) = node.get("include").map(|n| &n.value) else {
            panic!("a list");
        };
        assert_eq!(items[1].origin.line, Some(3));
    }

    #[test]
    fn malformed_yaml_names_the_line_and_column() {
        let error = parse("a: 1\nb: [1, 2\n", "bad.yaml".into()).expect_err("malformed");
        let ConfigError::Syntax { line, column, .. } = &error else {
            panic!("a syntax error, not {error}");
        };
        assert_eq!((*line, *column), (3, 1));
        assert!(
            error
                .to_string()
                .starts_with("bad.yaml:3:1: invalid YAML: "),
            "{error}"
        );
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let error = parse("a: 1\na: 2\n", "dup.yaml".into()).expect_err("duplicate");
        assert!(
            error
                .to_string()
                .starts_with("dup.yaml:2:1: invalid YAML: duplicated key")
        );
    }

    #[test]
    fn two_documents_are_refused() {
        let error = parse("a: 1\n---\nb: 2\n", "two.yaml".into()).expect_err("two documents");
        assert_eq!(
            error.to_string(),
            "two.yaml: holds 2 YAML documents; keep one by removing the extra `---` lines"
        );
    }

    #[test]
    fn an_empty_file_is_an_empty_mapping() {
        assert_eq!(parse_text("# nothing yet\n").value, Value::Map(Vec::new()));
    }

    #[test]
    fn json_is_read_as_yaml() {
        let node = parse_text("{\n  \"a\": {\"b\": [1, 2.5, true, null]}\n}\n");
        assert_eq!(
            node.to_json(),
            serde_json::json!({"a": {"b": [1, 2.5, true, null]}})
        );
    }

    #[test]
    fn printing_hides_secrets() {
        let mut node = parse_text("backend:\n  port: 7007\n  token: hunter2\n");
        let Value::Map(entries) = &mut node.value else {
            panic!("a mapping")
        };
        let Value::Map(backend) = &mut entries[0].1.value else {
            panic!("a mapping")
        };
        backend[1].1.mark_secret();
        assert_eq!(
            to_redacted_yaml(&node),
            "---\nbackend:\n  port: 7007\n  token: \"<secret>\"\n"
        );
    }
}
