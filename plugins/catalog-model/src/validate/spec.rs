//! The spec rules of the built-in kinds.

use serde_json::{Map, Value};

use super::{text, texts};

/// The `apiVersion`s whose built-in kinds have their spec checked.
const BUILT_IN_API_VERSIONS: [&str; 2] = ["backstage.io/v1alpha1", "backstage.io/v1beta1"];

/// What a spec field must hold.
#[derive(Clone, Copy)]
enum Shape {
    Text,
    OptionalText,
    Texts,
    OptionalTexts,
    OptionalObject,
    /// An array of `{type, url}` objects: how to reach an MCP server.
    Remotes,
}

/// Checks the spec of `entity` when its `apiVersion` and kind are built-in.
pub(super) fn check(
    problems: &mut Vec<String>,
    entity: &Map<String, Value>,
    api_version: Option<&str>,
    kind: Option<&str>,
) {
    let spec = entity.get("spec");
    let built_in = api_version.is_some_and(|version| BUILT_IN_API_VERSIONS.contains(&version));
    let kind = kind.filter(|_| built_in).map(str::to_ascii_lowercase);
    let field = |name| spec.and_then(|spec: &Value| spec.get(name));
    let is_mcp_server = field("type").and_then(Value::as_str) == Some("mcp-server");
    let remote = is_mcp_server || field("remotes").is_some();
    let shapes = kind.as_deref().and_then(|kind| spec_shapes(kind, remote));

    match (spec, shapes) {
        (Some(Value::Object(spec)), Some(shapes)) => {
            check_spec(problems, spec, shapes);
            let is_location = kind.as_deref() == Some("location");
            if is_location && !spec.contains_key("target") && !spec.contains_key("targets") {
                problems.push("spec.target or spec.targets is missing".to_string());
            }
        }
        (Some(Value::Object(_)), None) | (None, None) => {}
        (None, Some(_)) => problems.push("spec is missing".to_string()),
        (Some(_), _) => problems.push("spec must be an object".to_string()),
    }
}

/// The spec fields of a built-in kind, given in lowercase, or `None` for
/// any other kind. A `remote` API (of type `mcp-server`, or with
/// `spec.remotes`) lists the `remotes` to reach it instead of a
/// `definition`.
fn spec_shapes(kind: &str, remote: bool) -> Option<&'static [(&'static str, Shape)]> {
    use Shape::*;

    let shapes: &'static [(&'static str, Shape)] = match kind {
        "api" if remote => &[
            ("type", Text),
            ("lifecycle", Text),
            ("owner", Text),
            ("remotes", Remotes),
            ("system", OptionalText),
        ],
        "component" => &[
            ("type", Text),
            ("lifecycle", Text),
            ("owner", Text),
            ("system", OptionalText),
            ("subcomponentOf", OptionalText),
            ("providesApis", OptionalTexts),
            ("consumesApis", OptionalTexts),
            ("dependsOn", OptionalTexts),
            ("dependencyOf", OptionalTexts),
        ],
        "api" => &[
            ("type", Text),
            ("lifecycle", Text),
            ("owner", Text),
            ("definition", Text),
            ("system", OptionalText),
        ],
        "system" => &[
            ("owner", Text),
            ("domain", OptionalText),
            ("type", OptionalText),
        ],
        "domain" => &[
            ("owner", Text),
            ("subdomainOf", OptionalText),
            ("type", OptionalText),
        ],
        "resource" => &[
            ("type", Text),
            ("owner", Text),
            ("system", OptionalText),
            ("dependsOn", OptionalTexts),
            ("dependencyOf", OptionalTexts),
        ],
        "location" => &[
            ("type", OptionalText),
            ("target", OptionalText),
            ("targets", OptionalTexts),
        ],
        "group" => &[
            ("type", Text),
            ("children", Texts),
            ("parent", OptionalText),
            ("members", OptionalTexts),
            ("profile", OptionalObject),
        ],
        "user" => &[("memberOf", OptionalTexts), ("profile", OptionalObject)],
        _ => return None,
    };
    Some(shapes)
}

fn check_spec(problems: &mut Vec<String>, spec: &Map<String, Value>, shapes: &[(&str, Shape)]) {
    for &(name, shape) in shapes {
        let field = format!("spec.{name}");
        match shape {
            Shape::Text | Shape::OptionalText => {
                let required = matches!(shape, Shape::Text);
                if text(problems, spec, &field, required) == Some("") {
                    problems.push(format!("{field} must not be empty"));
                }
            }
            Shape::Texts | Shape::OptionalTexts => {
                let required = matches!(shape, Shape::Texts);
                texts(
                    problems,
                    spec,
                    &field,
                    required,
                    |problems, element, value| {
                        if value.is_empty() {
                            problems.push(format!("{element} must not be empty"));
                        }
                    },
                );
            }
            Shape::Remotes => check_remotes(problems, spec.get(name), &field),
            Shape::OptionalObject => {
                if spec.get(name).is_some_and(|value| !value.is_object()) {
                    problems.push(format!("{field} must be an object"));
                }
            }
        }
    }
}

/// Checks `spec.remotes`: an array of objects with string `type` and `url`.
fn check_remotes(problems: &mut Vec<String>, remotes: Option<&Value>, field: &str) {
    let remotes = match remotes {
        None => return problems.push(format!("{field} is missing")),
        Some(Value::Array(remotes)) => remotes,
        Some(_) => return problems.push(format!("{field} must be an array")),
    };
    for (index, remote) in remotes.iter().enumerate() {
        let element = format!("{field}[{index}]");
        let Some(remote) = remote.as_object() else {
            problems.push(format!("{element} must be an object"));
            continue;
        };
        text(problems, remote, &format!("{element}.type"), true);
        text(problems, remote, &format!("{element}.url"), true);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::validate;

    fn entity(kind: &str, spec: Value) -> Value {
        json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": kind,
            "metadata": { "name": "example" },
            "spec": spec,
        })
    }

    fn problems(kind: &str, spec: Value) -> Vec<String> {
        validate(&entity(kind, spec)).err().unwrap_or_default()
    }

    #[test]
    fn real_entities_of_each_kind_are_valid() {
        let valid = [
            (
                "API",
                json!({
                    "type": "openapi",
                    "lifecycle": "experimental",
                    "owner": "team-c",
                    "definition": "openapi: 3.0.0",
                }),
            ),
            ("System", json!({ "owner": "team-b", "domain": "playback" })),
            ("Domain", json!({ "owner": "user:frank.tiernan" })),
            (
                "Resource",
                json!({
                    "type": "database",
                    "owner": "team-a",
                    "system": "artist-engagement-portal",
                }),
            ),
            ("Location", json!({ "targets": ["./acme/org.yaml"] })),
            (
                "Location",
                json!({ "type": "url", "target": "https://example.com/catalog-info.yaml" }),
            ),
            (
                "Group",
                json!({
                    "type": "team",
                    "children": [],
                    "parent": "backstage",
                    "members": ["breanna.davison"],
                }),
            ),
            (
                "User",
                json!({ "memberOf": ["team-a"], "profile": { "displayName": "Breanna Davison" } }),
            ),
            ("User", json!({})),
        ];
        for (kind, spec) in valid {
            assert_eq!(
                problems(kind, spec.clone()),
                Vec::<String>::new(),
                "{kind} {spec}"
            );
        }
    }

    #[test]
    fn a_component_needs_type_lifecycle_and_owner() {
        assert_eq!(
            problems(
                "Component",
                json!({ "type": "", "providesApis": "petstore" })
            ),
            [
                "spec.type must not be empty",
                "spec.lifecycle is missing",
                "spec.owner is missing",
                "spec.providesApis must be an array of strings",
            ]
        );
    }

    #[test]
    fn array_elements_are_checked_one_by_one() {
        let spec = json!({
            "type": "service",
            "lifecycle": "production",
            "owner": "team-a",
            "system": 3,
            "dependsOn": ["resource:artists-db", "", {}],
        });
        assert_eq!(
            problems("Component", spec),
            [
                "spec.system must be a string",
                "spec.dependsOn[1] must not be empty",
                "spec.dependsOn[2] must be a string",
            ]
        );
    }

    #[test]
    fn each_kind_has_its_required_fields() {
        let missing = [
            (
                "API",
                vec![
                    "spec.type",
                    "spec.lifecycle",
                    "spec.owner",
                    "spec.definition",
                ],
            ),
            ("System", vec!["spec.owner"]),
            ("Domain", vec!["spec.owner"]),
            ("Resource", vec!["spec.type", "spec.owner"]),
            ("Group", vec!["spec.type", "spec.children"]),
        ];
        for (kind, fields) in missing {
            let expected: Vec<String> = fields.iter().map(|f| format!("{f} is missing")).collect();
            assert_eq!(problems(kind, json!({})), expected, "{kind}");
        }
        assert_eq!(
            problems("Location", json!({ "type": "url" })),
            ["spec.target or spec.targets is missing"]
        );
        assert_eq!(
            problems("User", json!({ "memberOf": "team-a", "profile": "x" })),
            [
                "spec.memberOf must be an array of strings",
                "spec.profile must be an object"
            ]
        );
    }

    #[test]
    fn a_remote_api_lists_remotes_instead_of_a_definition() {
        let mut spec = json!({
            "type": "mcp-server",
            "lifecycle": "experimental",
            "owner": "team-a",
            "remotes": [{ "type": "streamable-http", "url": "http://localhost:7007/api/mcp/v1" }],
        });
        assert_eq!(problems("API", spec.clone()), Vec::<String>::new());
        spec["remotes"] = json!([{ "type": "streamable-http" }, "http://localhost"]);
        assert_eq!(
            problems("API", spec.clone()),
            [
                "spec.remotes[0].url is missing",
                "spec.remotes[1] must be an object"
            ]
        );
        spec.as_object_mut().unwrap().remove("remotes");
        assert_eq!(problems("API", spec.clone()), ["spec.remotes is missing"]);
        spec["type"] = json!("ai-model-server");
        spec["remotes"] = json!([{ "type": "streamable-http", "url": "http://localhost:8080/v1" }]);
        assert_eq!(problems("API", spec), Vec::<String>::new());
    }

    #[test]
    fn an_unresolved_placeholder_is_named() {
        let spec = json!({
            "type": "openapi",
            "lifecycle": "production",
            "owner": "team-a",
            "definition": { "$text": "./wayback-archive-api.yaml" },
        });
        assert_eq!(
            problems("API", spec),
            ["spec.definition must be a string, not an unresolved $text placeholder"]
        );
    }

    #[test]
    fn a_built_in_kind_needs_a_spec_object() {
        let mut component = entity("Component", json!(null));
        component.as_object_mut().unwrap().remove("spec");
        assert_eq!(validate(&component).unwrap_err(), ["spec is missing"]);
        assert_eq!(problems("User", json!([])), ["spec must be an object"]);
    }

    #[test]
    fn kinds_match_in_any_case_and_both_api_versions() {
        assert_eq!(problems("component", json!({})).len(), 3);
        let mut beta = entity("System", json!({}));
        beta["apiVersion"] = json!("backstage.io/v1beta1");
        assert_eq!(validate(&beta).unwrap_err(), ["spec.owner is missing"]);
    }
}
