//! Placeholders in entity files, as Backstage reads them: an object whose
//! one key is `$text`, `$json` or `$yaml` is replaced by the text, JSON or
//! YAML found at the path or URL it names. Relative paths are read next to
//! the file the entity came from; URLs only through the reader, and only
//! from the hosts it is allowed to read.

use std::path::{Path, PathBuf};

use greenroom_catalog_model::yaml;
use serde_json::Value;

use crate::reader::Reader;

/// Replaces every placeholder in `entity`, read at `location`
/// (`file:/abs/path.yaml`).
///
/// # Errors
///
/// Returns the first placeholder that could not be resolved: its key, what
/// it named and why.
pub(crate) fn resolve(entity: &mut Value, location: &str, reader: &Reader) -> Result<(), String> {
    resolve_at(entity, &mut Vec::new(), location, reader)
}

fn resolve_at(
    value: &mut Value,
    path: &mut Vec<String>,
    location: &str,
    reader: &Reader,
) -> Result<(), String> {
    match value {
        Value::Object(map) => {
            if map.len() == 1
                && let Some((key, target)) = map.iter().next()
                && key.starts_with('$')
            {
                let resolved = read(key, target, location, reader)
                    .map_err(|reason| format!("{}: {key} {target}: {reason}", path.join(".")))?;
                *value = resolved;
                return Ok(());
            }
            for (key, item) in map.iter_mut() {
                path.push(key.clone());
                resolve_at(item, path, location, reader)?;
                path.pop();
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                path.push(index.to_string());
                resolve_at(item, path, location, reader)?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

/// Reads what the placeholder `key` names and converts it.
fn read(key: &str, target: &Value, location: &str, reader: &Reader) -> Result<Value, String> {
    let convert: fn(String) -> Result<Value, String> = match key {
        "$text" => |text| Ok(Value::String(text)),
        "$json" => |text| serde_json::from_str(&text).map_err(|error| format!("not JSON: {error}")),
        "$yaml" => |text| yaml::document(&text).map_err(|error| format!("not YAML: {error}")),
        _ => {
            return Err("unknown placeholder; use $text, $json or $yaml".to_string());
        }
    };
    let Some(target) = target.as_str() else {
        return Err("a placeholder names a path or URL as a string".to_string());
    };
    let text = if target.starts_with("https://") || target.starts_with("http://") {
        reader.read(target)?
    } else {
        read_file(&beside(location, target)?)?
    };
    convert(text)
}

/// The path `target` names, relative to the file at `location`.
fn beside(location: &str, target: &str) -> Result<PathBuf, String> {
    let Some(file) = location.strip_prefix("file:") else {
        return Err(format!(
            "a relative path can only be read next to a file, and the entity came from {location}"
        ));
    };
    let directory = Path::new(file).parent().unwrap_or(Path::new("/"));
    Ok(directory.join(target))
}

fn read_file(path: &Path) -> Result<String, String> {
    let metadata = std::fs::metadata(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    if !metadata.is_file() || metadata.len() > yaml::MAX_TEXT_BYTES as u64 {
        return Err(format!(
            "cannot read {}: not a regular file of at most {} bytes",
            path.display(),
            yaml::MAX_TEXT_BYTES
        ));
    }
    std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))
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
        let mut entity = json!({"spec": {
            "definition": {"$text": "./notes.txt"},
            "parsed": {"$yaml": "api.yaml"},
            "list": [{"$json": "./data.json"}],
        }});

        resolve(&mut entity, &location, &Reader::default()).expect("resolved");

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
                json!({"spec": {"x": {"$base64": "a"}}}),
                "spec.x: $base64 \"a\": unknown placeholder; use $text, $json or $yaml".to_string(),
            ),
            (
                json!({"spec": {"x": {"$text": 3}}}),
                "spec.x: $text 3: a placeholder names a path or URL as a string".to_string(),
            ),
        ];

        for (mut entity, expected) in cases {
            let error = resolve(&mut entity, &location, &Reader::default()).expect_err("fails");
            assert_eq!(error, expected);
        }
        std::fs::remove_dir_all(dir).ok();
    }
}
