//! Reading the catalog files of a set of locations: each root gets a
//! generated `Location` entity (as Backstage makes for configured
//! locations), every document of every file becomes an entity, and the
//! valid `Location` entities among them lead to more files, within the
//! directory of the root they were reached from.
//!
//! A file that cannot be read or parsed is an error, and its entities as
//! last read are provided again, so that a half-saved edit or a moment
//! without permission costs nothing.

use std::{
    collections::{BTreeSet, HashSet, VecDeque},
    path::{Path, PathBuf},
};

use std::collections::HashMap;

use greenroom_catalog_api::{FullMutation, LocationError, LocationSpec, ProvidedEntity};
use greenroom_catalog_model::{read_text, validate, yaml};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// The most files one refresh reads, so that a runaway chain of locations
/// ends.
const MAX_FILES: usize = 10_000;

/// What one refresh read.
pub(crate) struct Read {
    /// Entities, locations and errors, for the catalog.
    pub(crate) mutation: FullMutation,
    /// Every file read or tried.
    files: BTreeSet<PathBuf>,
}

impl Read {
    /// The directories holding the files read or tried.
    pub(crate) fn directories(&self) -> BTreeSet<PathBuf> {
        self.files
            .iter()
            .filter_map(|file| file.parent().map(Path::to_path_buf))
            .filter(|directory| directory.is_dir())
            .collect()
    }
}

/// The documents of each file as last read in full.
pub(crate) type LastRead = HashMap<PathBuf, Vec<Value>>;

/// Reads every root and the files its `Location` entities lead to; a file
/// that cannot be read gives its documents in `last`, which is updated.
pub(crate) fn read_all(roots: &[PathBuf], last: &mut LastRead) -> Read {
    let mut read = Read {
        mutation: FullMutation::default(),
        files: BTreeSet::new(),
    };
    for root in roots {
        let root = normalize(root);
        let origin = location_ref(&root);
        read.mutation.locations.push(LocationSpec {
            kind: "file".into(),
            target: root.display().to_string().into(),
        });
        read.mutation.entities.push(ProvidedEntity {
            entity: generated_location(&root).to_string().into(),
            location: origin.clone().into(),
            origin: origin.clone().into(),
        });
        read_tree(&root, &origin, &mut read, last);
    }
    read
}

/// Reads `root` and every file reached from it within its directory.
fn read_tree(root: &Path, origin: &str, read: &mut Read, last: &mut LastRead) {
    let within = real(root.parent().unwrap_or(Path::new("/")));
    let mut queue = VecDeque::from([root.to_path_buf()]);
    let mut seen = HashSet::from([root.to_path_buf()]);
    while let Some(file) = queue.pop_front() {
        if read.files.len() >= MAX_FILES {
            read.mutation.errors.push(error(
                &file,
                format!("not read: one refresh reads at most {MAX_FILES} files"),
            ));
            continue;
        }
        read.files.insert(file.clone());
        let location = location_ref(&file);
        for document in documents(&file, read, last) {
            let document = match document {
                Ok(document) => document,
                Err(message) => {
                    read.mutation.errors.push(error(&file, message));
                    continue;
                }
            };
            for target in location_targets(&document) {
                let next = target.and_then(|target| {
                    let next = normalize(&file.parent().unwrap_or(root).join(&target));
                    inside(&next, &within, root).map(|()| next)
                });
                match next {
                    Ok(pattern) => {
                        for next in expand(&pattern) {
                            if seen.insert(next.clone()) {
                                queue.push_back(next);
                            }
                        }
                    }
                    Err(message) => read.mutation.errors.push(error(&file, message)),
                }
            }
            read.mutation.entities.push(ProvidedEntity {
                entity: document.to_string().into(),
                location: location.clone().into(),
                origin: origin.into(),
            });
        }
    }
}

/// The documents of `file`; when it cannot be read or parsed, an error and
/// the documents it had when last read in full.
fn documents(file: &Path, read: &mut Read, last: &mut LastRead) -> Vec<yaml::Document> {
    match read_text(file).and_then(|text| yaml::documents(&text)) {
        Ok(documents) => {
            let good: Vec<Value> = documents.iter().filter_map(|d| d.clone().ok()).collect();
            last.insert(file.to_path_buf(), good);
            documents
        }
        Err(message) => {
            let kept = last.get(file).cloned().unwrap_or_default();
            let message = if kept.is_empty() {
                message
            } else {
                format!(
                    "{message}; its {} entities as last read are kept",
                    kept.len()
                )
            };
            read.mutation.errors.push(error(file, message));
            kept.into_iter().map(Ok).collect()
        }
    }
}

/// Refuses a target outside `within`, the directory of the configured
/// location `root`: configuration says which trees the catalog reads.
fn inside(target: &Path, within: &Path, root: &Path) -> Result<(), String> {
    if real(target).starts_with(within) {
        Ok(())
    } else {
        Err(format!(
            "location target {} is outside {}, the directory of the configured location {}; \
             configure it as a location of its own",
            target.display(),
            within.display(),
            root.display()
        ))
    }
}

/// `path` with symbolic links resolved as far as it exists.
fn real(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    while !existing.as_os_str().is_empty() {
        if let Ok(resolved) = std::fs::canonicalize(&existing) {
            return rest
                .iter()
                .rev()
                .fold(resolved, |path, part| path.join(part));
        }
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    path.to_path_buf()
}

/// The files a `Location` entity names; none for other kinds.
fn location_targets(entity: &Value) -> Vec<Result<String, String>> {
    let is_location = entity
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|kind| kind.eq_ignore_ascii_case("location"));
    // An invalid Location is a processing error in the catalog; it leads
    // nowhere.
    if !is_location || validate(entity).is_err() {
        return Vec::new();
    }
    let spec = entity.get("spec");
    let kind = spec
        .and_then(|spec| spec.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("file");
    let targets = spec.and_then(|spec| spec.get("target")).into_iter().chain(
        spec.and_then(|spec| spec.get("targets"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten(),
    );
    targets
        .filter_map(Value::as_str)
        .map(|target| {
            if kind == "file" && !target.contains("://") {
                Ok(target.to_string())
            } else {
                Err(format!(
                    "location target {target} of type {kind} is not read: this provider reads \
                     files only"
                ))
            }
        })
        .collect()
}

/// The `Location` entity Backstage generates for a configured location.
fn generated_location(root: &Path) -> Value {
    let target = root.display().to_string();
    let hash = Sha256::digest(format!("file:{target}").as_bytes());
    let name: String = hash[..20]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Location",
        "metadata": {
            "name": format!("generated-{name}"),
            "namespace": "default",
        },
        "spec": { "type": "file", "target": target },
    })
}

/// The files `pattern` names: itself, or when a part of it holds `*`
/// (any run of characters within that part), every existing match, sorted.
fn expand(pattern: &Path) -> Vec<PathBuf> {
    if !pattern.to_string_lossy().contains('*') {
        return vec![pattern.to_path_buf()];
    }
    let mut matches = vec![PathBuf::new()];
    for component in pattern.components() {
        let part = component.as_os_str().to_string_lossy();
        if !part.contains('*') {
            matches.iter_mut().for_each(|path| path.push(component));
            continue;
        }
        matches = matches
            .into_iter()
            .flat_map(|directory| {
                let mut found: Vec<PathBuf> = std::fs::read_dir(&directory)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .filter(|entry| wildcard(&part, &entry.file_name().to_string_lossy()))
                    .map(|entry| directory.join(entry.file_name()))
                    .collect();
                found.sort();
                found
            })
            .collect();
    }
    matches.retain(|path| path.is_file());
    matches
}

/// Whether `name` matches `pattern`, where `*` stands for any run of
/// characters.
fn wildcard(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// `file:<path>`.
fn location_ref(file: &Path) -> String {
    format!("file:{}", file.display())
}

fn error(file: &Path, message: String) -> LocationError {
    LocationError {
        location: location_ref(file).into(),
        message: message.into(),
    }
}

/// `path` without `.` and with `..` applied, without touching the disk.
fn normalize(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_any_run_within_a_part() {
        assert!(wildcard("*", "catalog"));
        assert!(wildcard("catalog-*", "catalog-module-files"));
        assert!(wildcard("*-info.yaml", "catalog-info.yaml"));
        assert!(wildcard("a*b*c", "aXbYc"));
        assert!(!wildcard("a*b*c", "aXbY"));
        assert!(!wildcard("catalog-*", "search"));
        assert!(!wildcard("*.yaml", "x.yml"));
    }

    #[test]
    fn locations_lead_to_more_files_and_unreadable_targets_become_errors() {
        let dir = std::env::temp_dir().join(format!("files-provider-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("more")).expect("a scratch directory");
        std::fs::write(
            dir.join("all.yaml"),
            "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {name: all}\nspec:\n  \
             targets: [./more/a.yaml, missing.yaml, ../outside.yaml]\n",
        )
        .expect("written");
        std::fs::write(
            dir.join("more/a.yaml"),
            "kind: Component\nmetadata: {name: a}\n---\napiVersion: backstage.io/v1alpha1\n\
             kind: Location\nmetadata: {name: back}\nspec: {target: ../all.yaml}\n",
        )
        .expect("written");

        let read = read_all(&[dir.join("./all.yaml")], &mut LastRead::new());

        let names: Vec<String> = read
            .mutation
            .entities
            .iter()
            .map(|provided| {
                let entity: Value = serde_json::from_str(&provided.entity).expect("JSON");
                format!("{} {}", entity["metadata"]["name"], provided.location)
            })
            .collect();
        let all = dir.join("all.yaml");
        let generated = generated_location(&all)["metadata"]["name"].to_string();
        assert_eq!(
            names,
            [
                format!("{generated} file:{}", all.display()),
                format!("\"all\" file:{}", all.display()),
                format!("\"a\" file:{}", dir.join("more/a.yaml").display()),
                format!("\"back\" file:{}", dir.join("more/a.yaml").display()),
            ]
        );
        let errors: Vec<String> = read
            .mutation
            .errors
            .iter()
            .map(|error| format!("{}: {}", error.location, error.message))
            .collect();
        let missing = dir.join("missing.yaml");
        assert_eq!(
            errors,
            [
                format!(
                    "file:{}: location target {} is outside {}, the directory of the configured \
                     location {}; configure it as a location of its own",
                    dir.join("all.yaml").display(),
                    dir.parent()
                        .expect("a parent")
                        .join("outside.yaml")
                        .display(),
                    dir.display(),
                    dir.join("all.yaml").display()
                ),
                format!(
                    "file:{}: cannot read {}: No such file or directory (os error 2)",
                    missing.display(),
                    missing.display()
                ),
            ]
        );
        std::fs::remove_dir_all(dir).ok();
    }
}
