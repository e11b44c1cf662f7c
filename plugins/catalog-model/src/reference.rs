//! Entity references: `kind:namespace/name`, parsed, printed and compared.

use std::fmt;
use std::hash::{Hash, Hasher};

use serde_json::Value;

/// The namespace an entity is in when its metadata names none.
pub const DEFAULT_NAMESPACE: &str = "default";

/// What a reference means when its text leaves out the kind or namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefDefaults<'a> {
    /// The kind to assume when the text has none; `None` makes a kind
    /// mandatory in the text.
    pub kind: Option<&'a str>,
    /// The namespace to assume when the text has none.
    pub namespace: &'a str,
}

impl Default for RefDefaults<'_> {
    fn default() -> Self {
        RefDefaults {
            kind: None,
            namespace: DEFAULT_NAMESPACE,
        }
    }
}

/// Why a reference could not be parsed or an entity has no reference.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefError {
    /// The text is not of the form `[kind:][namespace/]name`, or a part of
    /// it is empty.
    Malformed {
        /// The reference as given.
        text: String,
    },
    /// The text has no kind and the place it was used implies none.
    MissingKind {
        /// The reference as given.
        text: String,
    },
    /// The entity lacks a field its reference is made from.
    NotAnEntity {
        /// The missing or mistyped field, such as `metadata.name`.
        field: &'static str,
    },
}

impl fmt::Display for RefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefError::Malformed { text } => write!(
                f,
                "entity reference \"{text}\" is not of the form [<kind>:][<namespace>/]<name>"
            ),
            RefError::MissingKind { text } => write!(
                f,
                "entity reference \"{text}\" has no kind and none is implied here; \
                 write it as <kind>:[<namespace>/]<name>"
            ),
            RefError::NotAnEntity { field } => {
                write!(
                    f,
                    "the entity has no {field} string to make its reference from"
                )
            }
        }
    }
}

impl std::error::Error for RefError {}

/// A reference to an entity by kind, namespace and name.
///
/// Two references are equal when they differ only in case; [`key`] is the
/// lowercase form they are compared, hashed and ordered by.
///
/// [`key`]: EntityRef::key
#[derive(Debug, Clone)]
pub struct EntityRef {
    kind: String,
    namespace: String,
    name: String,
    key: String,
}

impl EntityRef {
    /// Makes a reference from its three parts, kept as written.
    pub fn new(kind: &str, namespace: &str, name: &str) -> EntityRef {
        let key = format!("{kind}:{namespace}/{name}").to_lowercase();
        EntityRef {
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
            key,
        }
    }

    /// Parses `kind:namespace/name`, `kind:name`, `namespace/name` or `name`,
    /// taking the missing parts from `defaults`.
    ///
    /// # Errors
    ///
    /// [`RefError::Malformed`] when a part is empty, and
    /// [`RefError::MissingKind`] when neither the text nor `defaults` gives a
    /// kind.
    pub fn parse(text: &str, defaults: RefDefaults<'_>) -> Result<EntityRef, RefError> {
        let malformed = || RefError::Malformed {
            text: text.to_string(),
        };
        let slash = text.find('/');
        let colon = text
            .find(':')
            .filter(|&colon| slash.is_none_or(|s| colon < s));
        let kind = colon.map(|colon| &text[..colon]);
        let rest = colon.map_or(text, |colon| &text[colon + 1..]);
        let (namespace, name) = match rest.split_once('/') {
            Some((namespace, name)) => (Some(namespace), name),
            None => (None, rest),
        };
        if kind == Some("") || namespace == Some("") || name.is_empty() {
            return Err(malformed());
        }

        let kind = kind
            .or(defaults.kind)
            .ok_or_else(|| RefError::MissingKind {
                text: text.to_string(),
            })?;
        let namespace = namespace.unwrap_or(defaults.namespace);
        Ok(EntityRef::new(kind, namespace, name))
    }

    /// The reference of an entity: its kind, `metadata.namespace` (or
    /// `default`) and `metadata.name`.
    ///
    /// # Errors
    ///
    /// [`RefError::NotAnEntity`] naming `kind`, `metadata.namespace` or
    /// `metadata.name` when that field is missing or not a string.
    pub fn of(entity: &Value) -> Result<EntityRef, RefError> {
        let kind = entity.get("kind").and_then(Value::as_str);
        let kind = kind.ok_or(RefError::NotAnEntity { field: "kind" })?;
        let metadata = entity.get("metadata");
        let name = metadata.and_then(|m| m.get("name")).and_then(Value::as_str);
        let name = name.ok_or(RefError::NotAnEntity {
            field: "metadata.name",
        })?;
        let namespace = match metadata.and_then(|m| m.get("namespace")) {
            None | Some(Value::Null) => DEFAULT_NAMESPACE,
            Some(Value::String(namespace)) => namespace,
            Some(_) => {
                return Err(RefError::NotAnEntity {
                    field: "metadata.namespace",
                });
            }
        };
        Ok(EntityRef::new(kind, namespace, name))
    }

    /// The kind as written, such as `Component`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The namespace as written.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The name as written.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The whole reference in lowercase, such as `component:default/petstore`:
    /// what references are compared, hashed and ordered by.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// Prints the stringified form: kind and namespace in lowercase, the name as
/// written, such as `component:default/petstore`.
impl fmt::Display for EntityRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind.to_lowercase();
        let namespace = self.namespace.to_lowercase();
        write!(f, "{kind}:{namespace}/{}", self.name)
    }
}

impl PartialEq for EntityRef {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for EntityRef {}

impl Hash for EntityRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

impl PartialOrd for EntityRef {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for EntityRef {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::json;

    use super::*;

    fn parse(text: &str, kind: Option<&str>) -> Result<EntityRef, RefError> {
        EntityRef::parse(
            text,
            RefDefaults {
                kind,
                namespace: "default",
            },
        )
    }

    fn parts(reference: &EntityRef) -> (&str, &str, &str) {
        (reference.kind(), reference.namespace(), reference.name())
    }

    #[test]
    fn parses_every_form() {
        let full = parse("Component:Prod/petstore", None).unwrap();
        assert_eq!(parts(&full), ("Component", "Prod", "petstore"));
        let no_namespace = parse("component:petstore", None).unwrap();
        assert_eq!(parts(&no_namespace), ("component", "default", "petstore"));
        let no_kind = parse("prod/petstore", Some("API")).unwrap();
        assert_eq!(parts(&no_kind), ("API", "prod", "petstore"));
        let name_only = parse("team-c", Some("Group")).unwrap();
        assert_eq!(parts(&name_only), ("Group", "default", "team-c"));
    }

    #[test]
    fn the_kind_in_the_text_wins_over_the_default() {
        let reference = parse("user:frank.tiernan", Some("Group")).unwrap();
        assert_eq!(parts(&reference), ("user", "default", "frank.tiernan"));
    }

    #[test]
    fn a_colon_after_the_slash_belongs_to_the_name() {
        let reference = parse("prod/weird:name", Some("Component")).unwrap();
        assert_eq!(parts(&reference), ("Component", "prod", "weird:name"));
    }

    #[test]
    fn a_missing_kind_is_an_error_naming_the_reference() {
        let error = parse("petstore", None).unwrap_err();
        assert_eq!(
            error.to_string(),
            "entity reference \"petstore\" has no kind and none is implied here; \
             write it as <kind>:[<namespace>/]<name>"
        );
    }

    #[test]
    fn empty_parts_are_malformed() {
        for text in [
            "",
            ":petstore",
            "component:",
            "component:/petstore",
            "/petstore",
        ] {
            let error = parse(text, Some("Component")).unwrap_err();
            assert_eq!(error, RefError::Malformed { text: text.into() }, "{text}");
        }
        assert_eq!(
            parse("component:/x", None).unwrap_err().to_string(),
            "entity reference \"component:/x\" is not of the form [<kind>:][<namespace>/]<name>"
        );
    }

    #[test]
    fn display_lowercases_kind_and_namespace_but_not_the_name() {
        let reference = EntityRef::new("Component", "Prod", "PetStore");
        assert_eq!(reference.to_string(), "component:prod/PetStore");
        assert_eq!(reference.key(), "component:prod/petstore");
    }

    #[test]
    fn equality_and_hashing_ignore_case() {
        let lower = EntityRef::new("component", "default", "petstore");
        let mixed = EntityRef::new("Component", "Default", "PetStore");
        assert_eq!(lower, mixed);
        let set: HashSet<EntityRef> = [lower, mixed].into_iter().collect();
        assert_eq!(set.len(), 1);
        assert_ne!(
            EntityRef::new("component", "default", "petstore"),
            EntityRef::new("api", "default", "petstore")
        );
    }

    #[test]
    fn an_entity_gives_its_reference() {
        let entity = json!({
            "kind": "Component",
            "metadata": { "name": "petstore" },
        });
        let reference = EntityRef::of(&entity).unwrap();
        assert_eq!(reference.to_string(), "component:default/petstore");

        let namespaced = json!({
            "kind": "System",
            "metadata": { "name": "podcast", "namespace": "audio" },
        });
        assert_eq!(
            EntityRef::of(&namespaced).unwrap().to_string(),
            "system:audio/podcast"
        );
    }

    #[test]
    fn an_entity_without_name_or_kind_has_no_reference() {
        let nameless = json!({ "kind": "Component", "metadata": {} });
        assert_eq!(
            EntityRef::of(&nameless).unwrap_err().to_string(),
            "the entity has no metadata.name string to make its reference from"
        );
        let kindless = json!({ "metadata": { "name": "petstore" } });
        assert_eq!(
            EntityRef::of(&kindless).unwrap_err(),
            RefError::NotAnEntity { field: "kind" }
        );
        let bad_namespace = json!({ "kind": "API", "metadata": { "name": "x", "namespace": 3 } });
        assert_eq!(
            EntityRef::of(&bad_namespace).unwrap_err(),
            RefError::NotAnEntity {
                field: "metadata.namespace"
            }
        );
    }

    #[test]
    fn references_order_by_key() {
        let mut references = [
            EntityRef::new("Component", "default", "b"),
            EntityRef::new("API", "default", "z"),
            EntityRef::new("component", "default", "A"),
        ];
        references.sort();
        let keys: Vec<&str> = references.iter().map(EntityRef::key).collect();
        assert_eq!(
            keys,
            [
                "api:default/z",
                "component:default/a",
                "component:default/b"
            ]
        );
    }
}
