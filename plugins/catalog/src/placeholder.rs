//! Placeholders in entity files, as Backstage reads them: an object whose
//! one key is `$text`, `$json` or `$yaml` is replaced by the text, JSON or
//! YAML found at the path or URL it names; any other `$` key is left as it
//! is. Relative paths are read next to the file the entity came from, and
//! only within the directory of the configured location it was reached
//! from; URLs only through the reader, and only from the hosts it is
//! allowed to read.

use std::path::{Path, PathBuf};

use greenroom_catalog_model::{read_text, yaml};
use serde_json::Value;

use crate::reader::Reader;

/// Where an entity came from, for reading what its placeholders name.
pub(crate) struct Source<'a> {
    /// The file it was read from: `file:/abs/path.yaml`.
    pub(crate) location: &'a str,
    /// The configured location it was reached from.
    pub(crate) origin: &'a str,
}

/// Replaces every placeholder in `entity`.
///
/// # Errors
///
/// Returns the first placeholder that could not be resolved: its key, what
/// it named and why.
pub(crate) fn resolve(
    entity: &mut Value,
    source: &Source<'_>,
    reader: &Reader,
) -> Result<(), String> {
    resolve_at(entity, &mut Vec::new(), source, reader)
}

/// The keys that make an object a placeholder.
const PLACEHOLDERS: [&str; 3] = ["$text", "$json", "$yaml"];

fn resolve_at(
    value: &mut Value,
    path: &mut Vec<String>,
    source: &Source<'_>,
    reader: &Reader,
) -> Result<(), String> {
    match value {
        Value::Object(map) => {
            if map.len() == 1
                && let Some((key, target)) = map.iter().next()
                && PLACEHOLDERS.contains(&key.as_str())
            {
                let resolved = read(key, target, source, reader)
                    .map_err(|reason| format!("{}: {key} {target}: {reason}", path.join(".")))?;
                *value = resolved;
                return Ok(());
            }
            for (key, item) in map.iter_mut() {
                path.push(key.clone());
                resolve_at(item, path, source, reader)?;
                path.pop();
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                path.push(index.to_string());
                resolve_at(item, path, source, reader)?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

/// Reads what the placeholder `key` names and converts it.
fn read(key: &str, target: &Value, source: &Source<'_>, reader: &Reader) -> Result<Value, String> {
    let Some(target) = target.as_str() else {
        return Err("a placeholder names a path or URL as a string".to_string());
    };
    let scheme = target
        .split_once("://")
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    let text = match scheme.as_deref() {
        Some("http" | "https") => reader.read(target)?,
        Some(other) => {
            return Err(format!(
                "{other}:// cannot be read; use a path, http or https"
            ));
        }
        None => read_text(&within_origin(source, target)?)?,
    };
    match key {
        "$json" => serde_json::from_str(&text).map_err(|error| format!("not JSON: {error}")),
        "$yaml" => yaml::document(&text).map_err(|error| format!("not YAML: {error}")),
        _ => Ok(Value::String(text)),
    }
}

/// The path `target` names, relative to the entity's file, refused unless
/// it lies within the directory of the configured location the entity was
/// reached from.
fn within_origin(source: &Source<'_>, target: &str) -> Result<PathBuf, String> {
    let (Some(file), Some(origin)) = (
        source.location.strip_prefix("file:"),
        source.origin.strip_prefix("file:"),
    ) else {
        return Err(format!(
            "a path can only be read next to a file, and the entity came from {}",
            source.location
        ));
    };
    let path = Path::new(file)
        .parent()
        .unwrap_or(Path::new("/"))
        .join(target);
    let allowed = Path::new(origin).parent().unwrap_or(Path::new("/"));
    match (std::fs::canonicalize(&path), std::fs::canonicalize(allowed)) {
        (Ok(real), Ok(allowed)) if real.starts_with(&allowed) => Ok(real),
        (Ok(_), Ok(allowed)) => Err(format!(
            "{} is outside {}, the directory of the configured location the entity was read \
             from; the catalog reads only within it",
            path.display(),
            allowed.display()
        )),
        (Err(error), _) | (_, Err(error)) => {
            Err(format!("cannot read {}: {error}", path.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("placeholders-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        dir
    }

    #[test]
    fn relative_placeholders_are_read_next_to_the_entity_file() {
        let dir = scratch("relative");
        std::fs::write(dir.join("api.yaml"), "openapi: 3.0.0\ninfo: {title: t}\n").expect("w");
        std::fs::write(dir.join("notes.txt"), "hello").expect("written");
        std::fs::write(dir.join("data.json"), "[1, 2]").expect("written");
        let location = format!("file:{}", dir.join("catalog-info.yaml").display());
        let source = Source {
            location: &location,
            origin: &location,
        };
        let mut entity = json!({"spec": {
            "definition": {"$text": "./notes.txt"},
            "parsed": {"$yaml": "api.yaml"},
            "list": [{"$json": "./data.json"}],
        }});

        resolve(&mut entity, &source, &Reader::default()).expect("resolved");

        assert_eq!(
            entity,
            json!({"spec": {
                "definition": "hello",
                "parsed": {"openapi": "3.0.0", "info": {"title": "t"}},
                "list": [[1, 2]],
            }})
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_placeholder_that_cannot_be_resolved_names_its_key_and_reason() {
        let dir = scratch("unresolved");
        let location = format!("file:{}", dir.join("catalog-info.yaml").display());
        let source = Source {
            location: &location,
            origin: &location,
        };
        let missing = dir.join("missing.yaml");
        let cases = [
            (
                json!({"spec": {"definition": {"$text": "missing.yaml"}}}),
                format!(
                    "spec.definition: $text \"missing.yaml\": cannot read {}: No such file or \
                     directory (os error 2)",
                    missing.display()
                ),
            ),
            (
                json!({"spec": {"x": {"$text": "../outside.txt"}}}),
                format!(
                    "spec.x: $text \"../outside.txt\": {} is outside {}, the directory of the \
                     configured location the entity was read from; the catalog reads only \
                     within it",
                    dir.join("../outside.txt").display(),
                    dir.display()
                ),
            ),
            (
                json!({"spec": {"x": {"$text": "FTP://example.com/a"}}}),
                "spec.x: $text \"FTP://example.com/a\": ftp:// cannot be read; use a path, \
                 http or https"
                    .to_string(),
            ),
            (
                json!({"spec": {"x": {"$text": 3}}}),
                "spec.x: $text 3: a placeholder names a path or URL as a string".to_string(),
            ),
        ];

        std::fs::write(dir.join("../outside.txt"), "secret").expect("written");
        for (mut entity, expected) in cases {
            let error = resolve(&mut entity, &source, &Reader::default()).expect_err("fails");
            assert_eq!(error, expected);
        }
        let mut unknown = json!({"spec": {"labels": {"$ref": "#/x"}}});
        resolve(&mut unknown, &source, &Reader::default()).expect("left as it is");
        assert_eq!(unknown, json!({"spec": {"labels": {"$ref": "#/x"}}}));
        std::fs::remove_file(dir.join("../outside.txt")).ok();
        std::fs::remove_dir_all(dir).ok();
    }
}
