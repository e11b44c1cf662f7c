//! Entity filters: the catalog's `filter` query parameters, matched against
//! search entries.

use std::fmt;

use serde_json::Value;

use super::{SearchEntry, search_entries};

/// Why a `filter` parameter could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FilterError {
    /// The parameter holds no condition at all.
    Empty {
        /// The parameter as given.
        param: String,
    },
    /// One comma-separated condition is empty.
    EmptyCondition {
        /// The parameter as given.
        param: String,
        /// Which condition, counting from 1.
        position: usize,
    },
    /// A condition starts with `=`.
    MissingKey {
        /// The parameter as given.
        param: String,
    },
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterError::Empty { param } => write!(
                f,
                "filter \"{param}\": it has no condition; give key=value or key conditions \
                 separated by commas, such as kind=component,spec.type=service"
            ),
            FilterError::EmptyCondition { param, position } => {
                write!(f, "filter \"{param}\": condition {position} is empty")
            }
            FilterError::MissingKey { param } => {
                write!(f, "filter \"{param}\": a condition needs a key")
            }
        }
    }
}

impl std::error::Error for FilterError {}

/// One key a filter asks for, in lowercase: that it exists (`values` is
/// `None`) or that it has one of `values`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Condition {
    key: String,
    values: Option<Vec<String>>,
}

impl Condition {
    fn matches(&self, entries: &[SearchEntry]) -> bool {
        entries.iter().any(|(key, value)| {
            key == &self.key
                && match (&self.values, value) {
                    (None, _) => true,
                    (Some(values), Some(value)) => values.contains(value),
                    (Some(_), None) => false,
                }
        })
    }
}

/// A parsed set of `filter` parameters: the parameters are alternatives
/// (any may match), the conditions within one must all match.
///
/// A condition is `key=value`, matching an entry with that key and value,
/// or `key` alone, matching an entry with that key; both ignore case. The
/// same key twice in one parameter, as in `kind=api,kind=component`, means
/// either value. No parameters at all match every entity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntityFilter {
    alternatives: Vec<Vec<Condition>>,
}

impl EntityFilter {
    /// Parses the values of the `filter` query parameters, one per element.
    ///
    /// # Errors
    ///
    /// A [`FilterError`] naming the first parameter that is empty, has an
    /// empty condition (as in `kind=api,,x`) or a condition without a key
    /// (as in `=x`).
    pub fn parse<S: AsRef<str>>(params: &[S]) -> Result<EntityFilter, FilterError> {
        let alternatives = params.iter().map(|param| parse_param(param.as_ref()));
        let alternatives = alternatives.collect::<Result<_, _>>()?;
        Ok(EntityFilter { alternatives })
    }

    /// Whether this filter matches every entity: it was given no parameter.
    pub fn matches_all(&self) -> bool {
        self.alternatives.is_empty()
    }

    /// Whether an entity with these search entries passes the filter.
    ///
    /// `entries` are expected to come from [`search_entries`], already in
    /// lowercase.
    pub fn matches(&self, entries: &[SearchEntry]) -> bool {
        self.matches_all()
            || self.alternatives.iter().any(|conditions| {
                conditions
                    .iter()
                    .all(|condition| condition.matches(entries))
            })
    }

    /// Whether an entity passes the filter, flattening it first.
    pub fn matches_entity(&self, entity: &Value) -> bool {
        self.matches_all() || self.matches(&search_entries(entity))
    }
}

/// Parses one `filter` parameter into its conditions, merging those on the
/// same key.
fn parse_param(param: &str) -> Result<Vec<Condition>, FilterError> {
    if param.trim().is_empty() {
        return Err(FilterError::Empty {
            param: param.to_string(),
        });
    }
    let mut conditions: Vec<Condition> = Vec::new();

    for (index, text) in param.split(',').enumerate() {
        let text = text.trim();
        if text.is_empty() {
            return Err(FilterError::EmptyCondition {
                param: param.to_string(),
                position: index + 1,
            });
        }
        let (key, value) = match text.split_once('=') {
            Some((key, value)) => (key.trim(), Some(value.trim().to_lowercase())),
            None => (text, None),
        };
        if key.is_empty() {
            return Err(FilterError::MissingKey {
                param: param.to_string(),
            });
        }
        let key = key.to_lowercase();
        match conditions.iter_mut().find(|condition| condition.key == key) {
            Some(condition) => merge(condition, value),
            None => conditions.push(Condition {
                key,
                values: value.map(|value| vec![value]),
            }),
        }
    }
    Ok(conditions)
}

/// Widens `condition` to also accept `value`; `None` means any value.
fn merge(condition: &mut Condition, value: Option<String>) {
    match (&mut condition.values, value) {
        (Some(values), Some(value)) => values.push(value),
        (values, None) => *values = None,
        (None, Some(_)) => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn filter(params: &[&str]) -> EntityFilter {
        EntityFilter::parse(params).unwrap()
    }

    fn petstore() -> Vec<SearchEntry> {
        search_entries(&json!({
            "kind": "Component",
            "metadata": { "name": "petstore", "tags": ["java", "rest"] },
            "spec": { "type": "service", "owner": "team-c" },
            "relations": [{ "type": "ownedBy", "targetRef": "group:default/team-c" }],
        }))
    }

    #[test]
    fn no_parameters_match_everything() {
        let none: [&str; 0] = [];
        let filter = EntityFilter::parse(&none).unwrap();
        assert!(filter.matches_all());
        assert!(filter.matches(&[]));
        assert!(filter.matches_entity(&json!(null)));
    }

    #[test]
    fn conditions_in_one_parameter_all_must_match() {
        let entries = petstore();
        assert!(filter(&["kind=component,spec.type=service"]).matches(&entries));
        assert!(!filter(&["kind=component,spec.type=website"]).matches(&entries));
        assert!(!filter(&["kind=api,spec.type=service"]).matches(&entries));
    }

    #[test]
    fn keys_and_values_ignore_case_and_spaces() {
        let entries = petstore();
        assert!(filter(&["Kind=COMPONENT"]).matches(&entries));
        assert!(
            filter(&[" kind = component , Relations.OwnedBy=Group:Default/Team-C"])
                .matches(&entries)
        );
    }

    #[test]
    fn a_value_matches_any_element_of_an_array() {
        let entries = petstore();
        assert!(filter(&["metadata.tags=rest"]).matches(&entries));
        assert!(filter(&["metadata.tags=java,metadata.tags=python"]).matches(&entries));
        assert!(!filter(&["metadata.tags=python"]).matches(&entries));
        assert!(filter(&["metadata.tags.java,metadata.tags.rest"]).matches(&entries));
        assert!(!filter(&["metadata.tags.java,metadata.tags.python"]).matches(&entries));
    }

    #[test]
    fn a_key_alone_asks_that_it_exists() {
        let entries = petstore();
        assert!(filter(&["spec.owner"]).matches(&entries));
        assert!(!filter(&["spec.lifecycle"]).matches(&entries));
        assert!(filter(&["spec.owner=nobody,spec.owner"]).matches(&entries));
        assert!(filter(&["spec.owner,spec.owner=nobody"]).matches(&entries));
    }

    #[test]
    fn parameters_are_alternatives() {
        let entries = petstore();
        assert!(filter(&["kind=api", "kind=component"]).matches(&entries));
        assert!(filter(&["kind=api", "spec.owner=team-c"]).matches(&entries));
        assert!(!filter(&["kind=api", "kind=system"]).matches(&entries));
    }

    #[test]
    fn an_empty_value_matches_only_an_empty_value() {
        let entries = search_entries(&json!({ "metadata": { "labels": { "flag": "" } } }));
        assert!(filter(&["metadata.labels.flag="]).matches(&entries));
        assert!(!filter(&["metadata.labels.flag=x"]).matches(&entries));
    }

    #[test]
    fn a_key_without_searchable_value_exists_but_matches_no_value() {
        let long = "x".repeat(300);
        let entries = search_entries(&json!({ "metadata": { "description": long } }));
        assert!(filter(&["metadata.description"]).matches(&entries));
        let condition = format!("metadata.description={long}");
        assert!(!filter(&[condition.as_str()]).matches(&entries));
    }

    #[test]
    fn malformed_parameters_are_named_in_the_error() {
        let error = |params: &[&str]| EntityFilter::parse(params).unwrap_err().to_string();
        assert_eq!(error(&["=x"]), "filter \"=x\": a condition needs a key");
        assert_eq!(
            error(&["kind=api", "kind=api,,x"]),
            "filter \"kind=api,,x\": condition 2 is empty"
        );
        assert_eq!(
            error(&["kind=api,"]),
            "filter \"kind=api,\": condition 2 is empty"
        );
        assert_eq!(
            error(&[""]),
            "filter \"\": it has no condition; give key=value or key conditions separated by \
             commas, such as kind=component,spec.type=service"
        );
    }
}
