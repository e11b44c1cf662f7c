//! Reading YAML (and JSON, which YAML 1.2 contains) into the configuration
//! tree with the line of every value, and writing the tree back as YAML
//! with secrets hidden.
//!
//! A mapping entry's line is the line of its key, so that a nested mapping
//! points at `refresh:` rather than at its first child.
//!
//! Before a text becomes a tree it is measured (see [`probe`]): one that
//! nests more than [`MAX_DEPTH`] levels of mappings and lists, counted from
//! the top of the configuration, is refused, and what it holds is counted
//! against the load's budget. YAML merge keys (`<<: *defaults`) are refused
//! too: YAML 1.2 has none, and a literal `<<` key is never what was meant.

mod probe;

use std::{borrow::Cow, collections::HashSet};

use camino::Utf8Path;
use saphyr::{
    LoadableYamlNode, MarkedYamlOwned, Scalar, ScalarOwned, ScanError, Yaml, YamlDataOwned,
};

pub(crate) use self::probe::Measure;
use self::probe::{MAX_ALIASES, Unmeasured};
use super::{
    error::ConfigError,
    key::KeyPath,
    load::read::Budget,
    tree::{MAX_DEPTH, Node, Origin, REDACTED, Value},
};

/// The key YAML 1.1 uses to merge one mapping into another.
const MERGE_KEY: &str = "<<";

/// Parses one YAML document from `text`, read from `path`, as a whole
/// configuration file on its own (see [`parse_within`]).
#[cfg(test)]
pub(crate) fn parse(text: &str, path: &Utf8Path) -> Result<Node, ConfigError> {
    parse_within(text, path, 0, &mut Budget::default())
}

/// Parses one YAML document from `text`, read from `path`, as a value
/// `depth` levels below the top of the configuration, counting what it
/// holds against `budget`.
///
/// An empty file is an empty mapping.
///
/// # Errors
///
/// Returns the first problem: malformed YAML, more than one document,
/// nesting past [`MAX_DEPTH`], a key that is not a scalar or is a merge
/// key, an alias to an unknown anchor, or ([`ConfigError::Unreadable`])
/// more than the budget can hold.
pub(crate) fn parse_within(
    text: &str,
    path: &Utf8Path,
    depth: usize,
    budget: &mut Budget,
) -> Result<Node, ConfigError> {
    let measure = probe::measure(text).map_err(|problem| match problem {
        Unmeasured::Syntax(error) => syntax(&error, path),
        Unmeasured::TooManyAliases => ConfigError::Unreadable {
            path: path.to_owned(),
            reason: format!(
                "it holds more than {MAX_ALIASES} YAML anchors and aliases, the most one file \
                 may; write the values out"
            ),
        },
    })?;
    if let Some(line) = measure.line_past(MAX_DEPTH.saturating_sub(depth)) {
        return Err(ConfigError::TooDeep {
            path: path.to_owned(),
            line,
            limit: MAX_DEPTH,
        });
    }
    budget
        .hold(&measure, text.len())
        .map_err(|problem| ConfigError::Unreadable {
            path: path.to_owned(),
            reason: problem.to_string(),
        })?;

    let documents = MarkedYamlOwned::load_from_str(text).map_err(|error| syntax(&error, path))?;
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

fn syntax(error: &ScanError, path: &Utf8Path) -> ConfigError {
    ConfigError::Syntax {
        path: path.to_owned(),
        line: error.marker().line(),
        column: error.marker().col() + 1,
        reason: error.info().to_string(),
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
        YamlDataOwned::Mapping(entries) => {
            let mut names = HashSet::with_capacity(entries.len());
            let mut converted = Vec::with_capacity(entries.len());
            for (name, item) in entries {
                let (text, node) = entry(name, item, path, key)?;
                if !names.insert(text.clone()) {
                    return Err(ConfigError::Invalid {
                        origin: Origin::file(path, name.span.start.line()),
                        key: key.child(&text).to_string(),
                        reason: "the key is written twice (once as another type, such as 1 and \
                                 \"1\"); keep one"
                            .to_string(),
                    });
                }
                converted.push((text, node));
            }
            Value::Map(converted)
        }
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
    if text == MERGE_KEY {
        return Err(ConfigError::Invalid {
            origin: Origin::file(path, line),
            key: parent.child(&text).to_string(),
            reason: "merge keys (`<<: *anchor`) are not supported; write the keys out, or share \
                     them with `$include`"
                .to_string(),
        });
    }
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
    fn nesting_past_the_limit_is_refused_where_it_passes_it() {
        let levels = |count: usize| -> String {
            (0..count)
                .map(|level| format!("{}k{level}:\n", "  ".repeat(level)))
                .collect()
        };
        assert!(parse(&levels(MAX_DEPTH), "deep.yaml".into()).is_ok());
        for text in [levels(MAX_DEPTH + 1), levels(2000)] {
            let error = parse(&text, "deep.yaml".into()).expect_err("too deep");
            assert_eq!(
                error.to_string(),
                "deep.yaml:129: mappings and lists nest more than 128 levels deep here (counted \
                 from the top of the configuration); flatten them"
            );
        }
        let error = parse(&"- ".repeat(100_000), "list.yaml".into()).expect_err("too deep");
        assert!(
            error
                .to_string()
                .starts_with("list.yaml:1: mappings and lists nest more than 128")
        );
    }

    #[test]
    fn nesting_counts_from_where_a_file_is_included_and_through_aliases() {
        let text = "a:\n  b:\n    c: 1\n";
        let mut budget = Budget::default();
        assert!(parse_within(text, "part.yaml".into(), MAX_DEPTH - 3, &mut budget).is_ok());
        let error = parse_within(text, "part.yaml".into(), MAX_DEPTH - 2, &mut budget)
            .expect_err("too deep");
        assert!(
            error
                .to_string()
                .starts_with("part.yaml:3: mappings and lists nest")
        );

        let nested = format!("{}1{}", "[".repeat(110), "]".repeat(110));
        let text = format!("x: 1\na: &a {nested}\nb:\n  {}*a\n", "- ".repeat(20));
        let error = parse(&text, "alias.yaml".into()).expect_err("too deep");
        assert!(
            error
                .to_string()
                .starts_with("alias.yaml:2: mappings and lists nest")
        );
    }

    #[test]
    fn merge_keys_are_refused() {
        let text = "base: &base\n  port: 1\nsite:\n  <<: *base\n  host: h\n";
        let error = parse(text, "merge.yaml".into()).expect_err("merge key");
        assert_eq!(
            error.to_string(),
            "merge.yaml:4: site.<<: merge keys (`<<: *anchor`) are not supported; write the keys \
             out, or share them with `$include`"
        );
    }

    #[test]
    fn a_key_written_twice_as_different_types_is_refused() {
        let error = parse("a:\n  1: x\n  \"1\": y\n", "twice.yaml".into()).expect_err("twice");
        assert_eq!(
            error.to_string(),
            "twice.yaml:3: a.1: the key is written twice (once as another type, such as 1 and \
             \"1\"); keep one"
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
