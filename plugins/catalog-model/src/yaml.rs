//! Reading catalog files: YAML with any number of documents, each turned
//! into the JSON value Backstage would see.
//!
//! Input is untrusted, so the reader is bounded: a text over
//! [`MAX_TEXT_BYTES`] is refused; a document nested deeper than
//! [`MAX_DEPTH`], or one that takes the file past [`MAX_NODES`] values or
//! [`MAX_EXPANDED_BYTES`] of text once aliases are expanded, is refused
//! alone, with the reason, and the other documents are read.

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

/// How much text (keys and values) one file may expand to, counting what
/// aliases repeat.
pub const MAX_EXPANDED_BYTES: usize = 4 * MAX_TEXT_BYTES;

/// One document of a file: its value, or why it could not be read.
pub type Document = Result<Value, String>;

/// Parses every document in `text`. An empty document (`---` alone) is
/// skipped, as Backstage does; a document past a limit is an error of its
/// own, naming its number.
///
/// The text is read event by event into JSON, without recursion and
/// without YAML's own tree, so that neither deep nesting nor aliases
/// repeating aliases can exhaust the stack or memory before a limit is
/// checked.
///
/// # Errors
///
/// Returns the reason, with the line and column for malformed YAML (which
/// ends the reading of the whole file), when the text is too large or
/// malformed.
pub fn documents(text: &str) -> Result<Vec<Document>, String> {
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
        builder.take(event);
    }
    Ok(builder.documents)
}

/// Parses `text` as a single YAML document (an empty text is `null`).
///
/// # Errors
///
/// As [`documents`], for a document past a limit, and when the text holds
/// more than one document.
pub fn document(text: &str) -> Result<Value, String> {
    let mut all = documents(text)?;
    match all.len() {
        0 => Ok(Value::Null),
        1 => all.remove(0),
        count => Err(format!("expected one YAML document, found {count}")),
    }
}

/// A value with what it holds, itself included: values and bytes of text.
#[derive(Clone, Copy, Default)]
struct Size {
    nodes: usize,
    bytes: usize,
}

/// A list or mapping being read.
enum Open {
    List(Vec<Value>),
    Map(Map<String, Value>, Option<String>),
}

struct Frame {
    open: Open,
    anchor: usize,
    size: Size,
}

/// Turns parser events into JSON documents.
#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Value, Size)>,
    /// What the file has expanded to so far.
    used: Size,
    /// Why the current document cannot be read; its remaining events are
    /// skipped.
    failure: Option<String>,
    documents: Vec<Document>,
}

impl Builder {
    fn take(&mut self, event: Event<'_>) {
        if let Event::DocumentEnd = event {
            self.end_document();
            return;
        }
        if self.failure.is_some() {
            return;
        }
        if let Err(reason) = self.step(event) {
            self.failure = Some(reason);
        }
    }

    fn end_document(&mut self) {
        self.stack.clear();
        self.anchors.clear();
        if let Some(reason) = self.failure.take() {
            let number = self.documents.len() + 1;
            self.documents
                .push(Err(format!("document {number}: {reason}")));
        }
    }

    fn step(&mut self, event: Event<'_>) -> Result<(), String> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let size = Size {
                    nodes: 1,
                    bytes: text.len(),
                };
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
                self.count(size)?;
                self.remember(anchor, &value, size);
                self.insert(value, size)
            }
            Event::SequenceStart(anchor, _) => self.open(Open::List(Vec::new()), anchor),
            Event::MappingStart(anchor, _) => self.open(Open::Map(Map::new(), None), anchor),
            Event::SequenceEnd | Event::MappingEnd => self.close(),
            Event::Alias(anchor) => {
                let Some(&(_, size)) = self.anchors.get(&anchor) else {
                    return Err("an alias names an unknown anchor".to_string());
                };
                // Counted before the copy is made.
                self.count(size)?;
                let value = self.anchors[&anchor].0.clone();
                self.insert(value, size)
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd => Ok(()),
        }
    }

    fn count(&mut self, size: Size) -> Result<(), String> {
        self.used.nodes = self.used.nodes.saturating_add(size.nodes);
        self.used.bytes = self.used.bytes.saturating_add(size.bytes);
        if self.used.nodes > MAX_NODES {
            return Err(format!("the file expands to more than {MAX_NODES} values"));
        }
        if self.used.bytes > MAX_EXPANDED_BYTES {
            return Err(format!(
                "the file expands to more than {MAX_EXPANDED_BYTES} bytes of text"
            ));
        }
        Ok(())
    }

    fn open(&mut self, open: Open, anchor: usize) -> Result<(), String> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(format!("values nest deeper than {MAX_DEPTH} levels"));
        }
        let size = Size { nodes: 1, bytes: 0 };
        self.count(size)?;
        self.stack.push(Frame { open, anchor, size });
        Ok(())
    }

    fn close(&mut self) -> Result<(), String> {
        let frame = self.stack.pop().ok_or("a list or mapping ends twice")?;
        let value = match frame.open {
            Open::List(items) => Value::Array(items),
            Open::Map(map, _) => Value::Object(map),
        };
        self.remember(frame.anchor, &value, frame.size);
        self.insert(value, frame.size)
    }

    fn remember(&mut self, anchor: usize, value: &Value, size: Size) {
        if anchor > 0 {
            self.anchors.insert(anchor, (value.clone(), size));
        }
    }

    /// Puts a finished value into what is open, or ends a document.
    fn insert(&mut self, value: Value, size: Size) -> Result<(), String> {
        let Some(frame) = self.stack.last_mut() else {
            if !value.is_null() {
                self.documents.push(Ok(value));
            }
            return Ok(());
        };
        frame.size.nodes += size.nodes;
        frame.size.bytes += size.bytes;
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
                Ok(json!({"kind": "Component", "metadata": {"name": "a", "tags": ["x", "y"]}})),
                Ok(
                    json!({"kind": "API", "spec": {"port": 8080, "public": true, "ratio": 0.5,
                    "none": null}})
                ),
            ]
        );
    }

    #[test]
    fn malformed_yaml_names_the_line() {
        let error = documents("kind: Component\nmetadata: [unclosed\n").expect_err("malformed");

        assert!(error.starts_with("malformed YAML at line 3"), "{error}");
    }

    #[test]
    fn a_document_past_a_limit_is_refused_alone() {
        let deep = format!(
            "kind: A\n---\n{}1{}\n---\n? [complex, key]\n: value\n---\nkind: B\n",
            "[".repeat(MAX_DEPTH + 2),
            "]".repeat(MAX_DEPTH + 2)
        );

        assert_eq!(
            documents(&deep).expect("the file reads"),
            [
                Ok(json!({"kind": "A"})),
                Err(format!(
                    "document 2: values nest deeper than {MAX_DEPTH} levels"
                )),
                Err("document 3: a mapping key is a list or a mapping".to_string()),
                Ok(json!({"kind": "B"})),
            ]
        );
    }

    #[test]
    fn aliases_that_multiply_values_or_text_are_refused() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..8 {
            let p = if level == 1 {
                "a".to_string()
            } else {
                format!("l{}", level - 1)
            };
            bomb.push_str(&format!(
                "l{level}: &l{level} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            ));
        }
        assert_eq!(
            documents(&bomb).expect("the file reads"),
            [Err(format!(
                "document 1: the file expands to more than {MAX_NODES} values"
            ))]
        );

        let long = "y".repeat(1024 * 1024);
        let copies = vec!["*s"; 40].join(", ");
        let strings = format!("big: &s {long}\ncopies: [{copies}]\n");
        assert_eq!(
            documents(&strings).expect("the file reads"),
            [Err(format!(
                "document 1: the file expands to more than {MAX_EXPANDED_BYTES} bytes of text"
            ))]
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
