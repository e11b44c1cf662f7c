//! Reading catalog files: YAML with any number of documents, each turned
//! into the JSON value Backstage would see.
//!
//! Input is untrusted, so the reader is bounded: a text over
//! [`MAX_TEXT_BYTES`], a document nested deeper than [`MAX_DEPTH`] or
//! growing past [`MAX_NODES`] values once aliases are expanded is refused
//! with the reason.

use std::collections::HashMap;

use saphyr::{Scalar, ScalarStyle};
use saphyr_parser::{Event, Parser};
use serde_json::{Map, Number, Value};

/// The largest catalog file read.
pub const MAX_TEXT_BYTES: usize = 8 * 1024 * 1024;

/// How deep mappings and lists may nest.
pub const MAX_DEPTH: usize = 64;

/// How many values one file may expand to, counting what aliases repeat.
pub const MAX_NODES: usize = 1_000_000;

/// Parses every document in `text`; an empty document (`---` alone) is
/// skipped, as Backstage does.
///
/// The text is read event by event into JSON, without recursion and
/// without YAML's own tree, so that neither deep nesting nor aliases
/// repeating aliases can exhaust the stack or memory before a limit is
/// checked.
///
/// # Errors
///
/// Returns the reason, with the line and column for malformed YAML, when
/// the text is too large, malformed, too deep or too large once expanded,
/// or a mapping key is not a scalar.
pub fn documents(text: &str) -> Result<Vec<Value>, String> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(format!(
            "the file holds {} bytes, more than the {MAX_TEXT_BYTES} a catalog file may",
            text.len()
        ));
    }
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, _) = event.map_err(|error| {
            format!(
                "malformed YAML at line {}, column {}: {}",
                error.marker().line(),
                error.marker().col() + 1,
                error.info()
            )
        })?;
        builder
            .take(event)
            .map_err(|reason| format!("document {}: {reason}", builder.documents.len() + 1))?;
    }
    Ok(builder.documents)
}

/// Parses `text` as a single YAML document (an empty text is `null`).
///
/// # Errors
///
/// As [`documents`], and when the text holds more than one document.
pub fn document(text: &str) -> Result<Value, String> {
    let mut all = documents(text)?;
    match all.len() {
        0 => Ok(Value::Null),
        1 => Ok(all.remove(0)),
        count => Err(format!("expected one YAML document, found {count}")),
    }
}

/// A value with how many values it holds, itself included.
struct Sized {
    value: Value,
    nodes: usize,
}

/// A list or mapping being read.
enum Open {
    List(Vec<Value>),
    Map(Map<String, Value>, Option<String>),
}

struct Frame {
    open: Open,
    anchor: usize,
    nodes: usize,
}

/// Turns parser events into JSON documents.
#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Sized>,
    budget_used: usize,
    documents: Vec<Value>,
}

impl Builder {
    fn take(&mut self, event: Event<'_>) -> Result<(), String> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let value = if style == ScalarStyle::Plain && tag.is_none() {
                    // An empty plain scalar (`key:` or an empty document)
                    // is null in YAML's core schema.
                    if text.is_empty() {
                        Value::Null
                    } else {
                        scalar_value(Scalar::parse_from_cow(text))
                    }
                } else {
                    Value::String(text.into_owned())
                };
                self.complete(value, 1, anchor)
            }
            Event::SequenceStart(anchor, _) => self.open(Open::List(Vec::new()), anchor),
            Event::MappingStart(anchor, _) => self.open(Open::Map(Map::new(), None), anchor),
            Event::SequenceEnd | Event::MappingEnd => self.close(),
            Event::Alias(anchor) => {
                let Some(named) = self.anchors.get(&anchor) else {
                    return Err("an alias names an unknown anchor".to_string());
                };
                let (value, nodes) = (named.value.clone(), named.nodes);
                self.count(nodes)?;
                self.insert(value, nodes)
            }
            Event::DocumentEnd => {
                self.anchors.clear();
                Ok(())
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) => {
                Ok(())
            }
        }
    }

    fn count(&mut self, nodes: usize) -> Result<(), String> {
        self.budget_used = self.budget_used.saturating_add(nodes);
        if self.budget_used > MAX_NODES {
            return Err(format!("it expands to more than {MAX_NODES} values"));
        }
        Ok(())
    }

    fn open(&mut self, open: Open, anchor: usize) -> Result<(), String> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(format!("values nest deeper than {MAX_DEPTH} levels"));
        }
        self.count(1)?;
        self.stack.push(Frame {
            open,
            anchor,
            nodes: 1,
        });
        Ok(())
    }

    fn close(&mut self) -> Result<(), String> {
        let frame = self.stack.pop().ok_or("a list or mapping ends twice")?;
        let value = match frame.open {
            Open::List(items) => Value::Array(items),
            Open::Map(map, _) => Value::Object(map),
        };
        self.remember(frame.anchor, &value, frame.nodes);
        self.insert(value, frame.nodes)
    }

    /// A scalar finished: counted, remembered if anchored, inserted.
    fn complete(&mut self, value: Value, nodes: usize, anchor: usize) -> Result<(), String> {
        self.count(nodes)?;
        self.remember(anchor, &value, nodes);
        self.insert(value, nodes)
    }

    fn remember(&mut self, anchor: usize, value: &Value, nodes: usize) {
        if anchor > 0 {
            let value = value.clone();
            self.anchors.insert(anchor, Sized { value, nodes });
        }
    }

    /// Puts a finished value into what is open, or ends a document.
    fn insert(&mut self, value: Value, nodes: usize) -> Result<(), String> {
        let Some(frame) = self.stack.last_mut() else {
            if !value.is_null() {
                self.documents.push(value);
            }
            return Ok(());
        };
        frame.nodes += nodes;
        match &mut frame.open {
            Open::List(items) => items.push(value),
            Open::Map(_, key @ None) => {
                *key = Some(match value {
                    Value::String(text) => text,
                    Value::Null => "null".to_string(),
                    scalar @ (Value::Bool(_) | Value::Number(_)) => scalar.to_string(),
                    _ => return Err("a mapping key is a list or a mapping".to_string()),
                });
            }
            Open::Map(map, key) => {
                if let Some(key) = key.take() {
                    map.insert(key, value);
                }
            }
        }
        Ok(())
    }
}

fn scalar_value(scalar: Scalar<'_>) -> Value {
    match scalar {
        Scalar::Null => Value::Null,
        Scalar::Boolean(value) => Value::Bool(value),
        Scalar::Integer(value) => Value::Number(value.into()),
        Scalar::FloatingPoint(value) => Number::from_f64(value.into_inner())
            .map_or_else(|| Value::String(value.to_string()), Value::Number),
        Scalar::String(text) => Value::String(text.into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_document_of_a_file_becomes_json() {
        let text = "kind: Component\nmetadata:\n  name: a\n  tags: [x, y]\n---\n---\nkind: API\n\
                    spec:\n  port: 8080\n  public: true\n  ratio: 0.5\n  none: ~\n";

        let values = documents(text).expect("valid YAML");

        assert_eq!(
            values,
            [
                json!({"kind": "Component", "metadata": {"name": "a", "tags": ["x", "y"]}}),
                json!({"kind": "API", "spec": {"port": 8080, "public": true, "ratio": 0.5,
                    "none": null}}),
            ]
        );
    }

    #[test]
    fn malformed_yaml_names_the_line() {
        let error = documents("kind: Component\nmetadata: [unclosed\n").expect_err("malformed");

        assert!(error.starts_with("malformed YAML at line 3"), "{error}");
    }

    #[test]
    fn deep_nesting_and_alias_bombs_are_refused() {
        let deep = format!(
            "{}1{}",
            "[".repeat(MAX_DEPTH + 2),
            "]".repeat(MAX_DEPTH + 2)
        );
        assert_eq!(
            documents(&deep).expect_err("too deep"),
            format!("document 1: values nest deeper than {MAX_DEPTH} levels")
        );

        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..8 {
            let previous = level - 1;
            let name = level;
            bomb.push_str(&format!(
                "l{name}: &l{name} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n",
                p = if previous == 0 {
                    "a".to_string()
                } else {
                    format!("l{previous}")
                }
            ));
        }
        assert_eq!(
            documents(&bomb).expect_err("too large"),
            format!("document 1: it expands to more than {MAX_NODES} values")
        );
    }

    #[test]
    fn one_document_is_read_alone() {
        assert_eq!(document("a: 1").expect("one"), json!({"a": 1}));
        assert_eq!(
            document("a: 1\n---\nb: 2").expect_err("two"),
            "expected one YAML document, found 2"
        );
    }
}
