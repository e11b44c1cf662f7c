//! The relations an entity's spec implies, each with its inverse.

use std::collections::HashSet;

use serde_json::Value;

use crate::reference::{EntityRef, RefDefaults};

/// A directed, typed link from one entity to another, such as
/// `component:default/petstore` `ownedBy` `group:default/team-c`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Relation {
    /// The entity the relation starts from.
    pub source: EntityRef,
    /// The relation type, such as `ownedBy` or `hasPart`.
    pub relation: &'static str,
    /// The entity the relation points at; it need not exist.
    pub target: EntityRef,
}

/// A spec field that makes relations.
struct Mapping {
    field: &'static str,
    /// The kinds, in lowercase, whose spec has the field; empty for all.
    kinds: &'static [&'static str],
    /// Whether the field holds an array of references rather than one.
    many: bool,
    forward: &'static str,
    inverse: &'static str,
    /// The kind of a target whose reference names none.
    default_kind: Option<&'static str>,
}

const fn mapping(
    field: &'static str,
    kinds: &'static [&'static str],
    many: bool,
    (forward, inverse): Pair,
    default_kind: Option<&'static str>,
) -> Mapping {
    Mapping {
        field,
        kinds,
        many,
        forward,
        inverse,
        default_kind,
    }
}

/// A relation type and its inverse.
type Pair = (&'static str, &'static str);

const OWNED_BY: Pair = ("ownedBy", "ownerOf");
const PART_OF: Pair = ("partOf", "hasPart");
const PROVIDES_API: Pair = ("providesApi", "apiProvidedBy");
const CONSUMES_API: Pair = ("consumesApi", "apiConsumedBy");
const DEPENDS_ON: Pair = ("dependsOn", "dependencyOf");
const DEPENDENCY_OF: Pair = ("dependencyOf", "dependsOn");
const CHILD_OF: Pair = ("childOf", "parentOf");
const PARENT_OF: Pair = ("parentOf", "childOf");
const HAS_MEMBER: Pair = ("hasMember", "memberOf");
const MEMBER_OF: Pair = ("memberOf", "hasMember");

const ANY_KIND: &[&str] = &[];
const IN_SYSTEMS: &[&str] = &["component", "api", "resource"];
const ONE: bool = false;
const MANY: bool = true;

/// Every spec field that makes relations, in the order they are read.
#[rustfmt::skip]
const MAPPINGS: [Mapping; 13] = [
    mapping("owner",          ANY_KIND,       ONE,  OWNED_BY,      Some("Group")),
    mapping("system",         IN_SYSTEMS,     ONE,  PART_OF,       Some("System")),
    mapping("domain",         &["system"],    ONE,  PART_OF,       Some("Domain")),
    mapping("subdomainOf",    &["domain"],    ONE,  PART_OF,       Some("Domain")),
    mapping("subcomponentOf", &["component"], ONE,  PART_OF,       Some("Component")),
    mapping("providesApis",   ANY_KIND,       MANY, PROVIDES_API,  Some("API")),
    mapping("consumesApis",   ANY_KIND,       MANY, CONSUMES_API,  Some("API")),
    mapping("dependsOn",      ANY_KIND,       MANY, DEPENDS_ON,    None),
    mapping("dependencyOf",   ANY_KIND,       MANY, DEPENDENCY_OF, None),
    mapping("parent",         &["group"],     ONE,  CHILD_OF,      Some("Group")),
    mapping("children",       &["group"],     MANY, PARENT_OF,     Some("Group")),
    mapping("members",        &["group"],     MANY, HAS_MEMBER,    Some("User")),
    mapping("memberOf",       &["user"],      MANY, MEMBER_OF,     Some("Group")),
];

/// The relations an entity's spec implies: for every reference in a field
/// such as `spec.owner` or `spec.providesApis`, the forward relation from
/// this entity and the inverse one back to it.
///
/// Targets default to the entity's namespace and to the field's kind (a
/// Group for `spec.owner`, an API for `spec.providesApis`);
/// `spec.dependsOn` and `spec.dependencyOf` have no default kind. The list
/// follows the fields' order, without duplicates.
///
/// # Errors
///
/// Every problem: the entity has no reference of its own, a field has the
/// wrong type, or a reference cannot be parsed, each naming the field, such
/// as `spec.dependsOn[0]: entity reference "petstore" has no kind ...`.
pub fn relations(entity: &Value) -> Result<Vec<Relation>, Vec<String>> {
    let this = EntityRef::of(entity).map_err(|error| vec![error.to_string()])?;
    let kind = this.kind().to_lowercase();
    let spec = entity.get("spec");
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    let mut problems = Vec::new();

    for mapping in &MAPPINGS {
        if !mapping.kinds.is_empty() && !mapping.kinds.contains(&kind.as_str()) {
            continue;
        }
        let value = spec.and_then(|spec| spec.get(mapping.field));
        let references = references(mapping, value).unwrap_or_else(|problem| {
            problems.push(problem);
            Vec::new()
        });
        for (field, value) in references {
            let Some(text) = value.as_str() else {
                problems.push(format!("{field} must be a string"));
                continue;
            };
            let defaults = RefDefaults {
                kind: mapping.default_kind,
                namespace: this.namespace(),
            };
            match EntityRef::parse(text, defaults) {
                Ok(target) => {
                    for relation in pair(&this, mapping, target) {
                        if seen.insert(relation.clone()) {
                            found.push(relation);
                        }
                    }
                }
                Err(error) => problems.push(format!("{field}: {error}")),
            }
        }
    }

    if problems.is_empty() {
        Ok(found)
    } else {
        Err(problems)
    }
}

/// The values of one field that should be references, each with its own
/// field name, such as `spec.providesApis[1]`.
///
/// # Errors
///
/// A problem when the field is not a string (or an array, for a field that
/// holds many references).
fn references<'a>(
    mapping: &Mapping,
    value: Option<&'a Value>,
) -> Result<Vec<(String, &'a Value)>, String> {
    let field = format!("spec.{}", mapping.field);
    match (value, mapping.many) {
        (None | Some(Value::Null), _) => Ok(Vec::new()),
        (Some(Value::Array(elements)), true) => {
            let name = |index| format!("{field}[{index}]");
            Ok(elements
                .iter()
                .enumerate()
                .map(|(index, element)| (name(index), element))
                .collect())
        }
        (Some(_), true) => Err(format!("{field} must be an array of strings")),
        (Some(value), false) => Ok(vec![(field, value)]),
    }
}

/// The forward relation from `this` to `target` and its inverse.
fn pair(this: &EntityRef, mapping: &Mapping, target: EntityRef) -> [Relation; 2] {
    let forward = Relation {
        source: this.clone(),
        relation: mapping.forward,
        target: target.clone(),
    };
    let inverse = Relation {
        source: target,
        relation: mapping.inverse,
        target: this.clone(),
    };
    [forward, inverse]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Each relation as `source relation target`, references stringified.
    fn lines(entity: &Value) -> Vec<String> {
        let relations = relations(entity).unwrap();
        let line = |r: &Relation| format!("{} {} {}", r.source, r.relation, r.target);
        relations.iter().map(line).collect()
    }

    #[test]
    fn a_component_relates_to_its_owner_system_and_apis() {
        let petstore = json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": { "name": "petstore" },
            "spec": {
                "type": "service",
                "lifecycle": "experimental",
                "owner": "team-c",
                "system": "podcast",
                "providesApis": ["petstore", "streetlights"],
                "consumesApis": ["other/hello-world"],
                "dependsOn": ["resource:artists-db"],
            },
        });
        assert_eq!(
            lines(&petstore),
            [
                "component:default/petstore ownedBy group:default/team-c",
                "group:default/team-c ownerOf component:default/petstore",
                "component:default/petstore partOf system:default/podcast",
                "system:default/podcast hasPart component:default/petstore",
                "component:default/petstore providesApi api:default/petstore",
                "api:default/petstore apiProvidedBy component:default/petstore",
                "component:default/petstore providesApi api:default/streetlights",
                "api:default/streetlights apiProvidedBy component:default/petstore",
                "component:default/petstore consumesApi api:other/hello-world",
                "api:other/hello-world apiConsumedBy component:default/petstore",
                "component:default/petstore dependsOn resource:default/artists-db",
                "resource:default/artists-db dependencyOf component:default/petstore",
            ]
        );
    }

    #[test]
    fn targets_default_to_the_entity_namespace_and_keep_an_explicit_kind() {
        let domain = json!({
            "kind": "Domain",
            "metadata": { "name": "playback", "namespace": "audio" },
            "spec": { "owner": "user:frank.tiernan", "subdomainOf": "media" },
        });
        assert_eq!(
            lines(&domain),
            [
                "domain:audio/playback ownedBy user:audio/frank.tiernan",
                "user:audio/frank.tiernan ownerOf domain:audio/playback",
                "domain:audio/playback partOf domain:audio/media",
                "domain:audio/media hasPart domain:audio/playback",
            ]
        );
    }

    #[test]
    fn systems_join_domains_and_subcomponents_join_components() {
        let system = json!({
            "kind": "System",
            "metadata": { "name": "podcast" },
            "spec": { "owner": "team-b", "domain": "playback", "system": "ignored" },
        });
        assert_eq!(
            lines(&system)[2..],
            [
                "system:default/podcast partOf domain:default/playback",
                "domain:default/playback hasPart system:default/podcast",
            ]
        );
        let library = json!({
            "kind": "Component",
            "metadata": { "name": "playback-lib" },
            "spec": {
                "subcomponentOf": "playback-order",
                "dependencyOf": ["component:queue-proxy"],
            },
        });
        assert_eq!(
            lines(&library),
            [
                "component:default/playback-lib partOf component:default/playback-order",
                "component:default/playback-order hasPart component:default/playback-lib",
                "component:default/playback-lib dependencyOf component:default/queue-proxy",
                "component:default/queue-proxy dependsOn component:default/playback-lib",
            ]
        );
    }

    #[test]
    fn groups_and_users_relate_through_membership() {
        let group = json!({
            "kind": "Group",
            "metadata": { "name": "team-a" },
            "spec": {
                "type": "team",
                "parent": "backstage",
                "children": ["team-a-1"],
                "members": ["breanna.davison"],
            },
        });
        assert_eq!(
            lines(&group),
            [
                "group:default/team-a childOf group:default/backstage",
                "group:default/backstage parentOf group:default/team-a",
                "group:default/team-a parentOf group:default/team-a-1",
                "group:default/team-a-1 childOf group:default/team-a",
                "group:default/team-a hasMember user:default/breanna.davison",
                "user:default/breanna.davison memberOf group:default/team-a",
            ]
        );
        let user = json!({
            "kind": "User",
            "metadata": { "name": "breanna.davison" },
            "spec": { "memberOf": ["team-a", "Team-A"] },
        });
        assert_eq!(
            lines(&user),
            [
                "user:default/breanna.davison memberOf group:default/team-a",
                "group:default/team-a hasMember user:default/breanna.davison",
            ]
        );
    }

    #[test]
    fn an_entity_without_spec_has_no_relations() {
        let location = json!({ "kind": "Location", "metadata": { "name": "acme-corp" } });
        assert_eq!(relations(&location), Ok(Vec::new()));
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let broken = json!({
            "kind": "Component",
            "metadata": { "name": "petstore" },
            "spec": {
                "owner": ["team-c"],
                "system": "",
                "providesApis": "petstore",
                "dependsOn": ["petstore", 3, "component:"],
            },
        });
        assert_eq!(
            relations(&broken).unwrap_err(),
            [
                "spec.owner must be a string",
                "spec.system: entity reference \"\" is not of the form \
                 [<kind>:][<namespace>/]<name>",
                "spec.providesApis must be an array of strings",
                "spec.dependsOn[0]: entity reference \"petstore\" has no kind and none is \
                 implied here; write it as <kind>:[<namespace>/]<name>",
                "spec.dependsOn[1] must be a string",
                "spec.dependsOn[2]: entity reference \"component:\" is not of the form \
                 [<kind>:][<namespace>/]<name>",
            ]
        );
    }

    #[test]
    fn an_entity_without_a_reference_is_an_error() {
        let nameless = json!({ "kind": "Component", "spec": { "owner": "team-c" } });
        assert_eq!(
            relations(&nameless).unwrap_err(),
            ["the entity has no metadata.name string to make its reference from"]
        );
    }
}
