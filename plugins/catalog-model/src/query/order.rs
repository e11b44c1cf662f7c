//! Ordering of query results: `orderField` parameters and the sort they ask
//! for.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

use super::values_at;
use crate::reference::EntityRef;

/// Which way an [`OrderField`] sorts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SortOrder {
    /// Smallest value first.
    #[default]
    Asc,
    /// Largest value first.
    Desc,
}

/// Why an `orderField` parameter could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OrderError {
    /// The parameter names no field, as in `,asc`.
    MissingField {
        /// The parameter as given.
        text: String,
    },
    /// The order is neither `asc` nor `desc`.
    BadOrder {
        /// The parameter as given.
        text: String,
    },
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderError::MissingField { text } => write!(
                f,
                "order field \"{text}\": the field is missing; write it as <field>[,asc|desc]"
            ),
            OrderError::BadOrder { text } => {
                write!(f, "order field \"{text}\": the order must be asc or desc")
            }
        }
    }
}

impl std::error::Error for OrderError {}

/// One `orderField` parameter: a dot-path to sort by and a direction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrderField {
    /// The dot-path to sort by, such as `metadata.name`.
    pub field: String,
    /// Which way to sort.
    pub order: SortOrder,
}

impl OrderField {
    /// Parses `<field>[,asc|desc]`, such as `metadata.name,desc`; the order
    /// defaults to `asc` and ignores case.
    ///
    /// # Errors
    ///
    /// [`OrderError::MissingField`] when the field is empty and
    /// [`OrderError::BadOrder`] when the order is neither `asc` nor `desc`.
    pub fn parse(text: &str) -> Result<OrderField, OrderError> {
        let (field, order) = match text.split_once(',') {
            Some((field, order)) => (field.trim(), Some(order.trim())),
            None => (text.trim(), None),
        };
        if field.is_empty() {
            return Err(OrderError::MissingField {
                text: text.to_string(),
            });
        }
        let order = match order {
            None => SortOrder::Asc,
            Some(order) if order.eq_ignore_ascii_case("asc") => SortOrder::Asc,
            Some(order) if order.eq_ignore_ascii_case("desc") => SortOrder::Desc,
            Some(_) => {
                return Err(OrderError::BadOrder {
                    text: text.to_string(),
                });
            }
        };
        let field = field.to_string();
        Ok(OrderField { field, order })
    }
}

/// Prints the form [`OrderField::parse`] reads, such as `metadata.name,asc`.
impl fmt::Display for OrderField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let order = match self.order {
            SortOrder::Asc => "asc",
            SortOrder::Desc => "desc",
        };
        write!(f, "{},{order}", self.field)
    }
}

/// What one entity is sorted by: the lowercased first value at each order
/// field, then its reference key.
struct SortKey {
    values: Vec<Option<String>>,
    reference: Option<String>,
}

/// Sorts entities by the order fields in turn, comparing the lowercased
/// first value at each field's path; entities without the field come last
/// in either direction. Ties, and every entity when `order` is empty, are
/// sorted by entity reference key (`component:default/petstore`), entities
/// without a reference last.
pub fn sort_entities<V: Borrow<Value>>(entities: &mut Vec<V>, order: &[OrderField]) {
    let mut keyed: Vec<(SortKey, V)> = entities
        .drain(..)
        .map(|entity| (sort_key(entity.borrow(), order), entity))
        .collect();
    keyed.sort_by(|(left, _), (right, _)| compare(left, right, order));
    entities.extend(keyed.into_iter().map(|(_, entity)| entity));
}

fn sort_key(entity: &Value, order: &[OrderField]) -> SortKey {
    let first_value = |field: &OrderField| {
        let values = values_at(entity, &field.field);
        values.first().map(|value| value.to_lowercase())
    };
    SortKey {
        values: order.iter().map(first_value).collect(),
        reference: EntityRef::of(entity).ok().map(|r| r.key().to_string()),
    }
}

fn compare(left: &SortKey, right: &SortKey, order: &[OrderField]) -> Ordering {
    let by_fields = order.iter().enumerate().map(|(index, field)| {
        let ordering = missing_last(&left.values[index], &right.values[index]);
        match (field.order, &left.values[index], &right.values[index]) {
            (SortOrder::Desc, Some(_), Some(_)) => ordering.reverse(),
            _ => ordering,
        }
    });
    let by_fields = by_fields.fold(Ordering::Equal, Ordering::then);
    by_fields.then_with(|| missing_last(&left.reference, &right.reference))
}

/// Compares two optional values, a missing one after any present one.
fn missing_last(left: &Option<String>, right: &Option<String>) -> Ordering {
    match (left, right) {
        (Some(left), Some(right)) => left.cmp(right),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn component(name: &str, spec_type: Option<&str>, title: Option<&str>) -> Value {
        let mut entity = json!({ "kind": "Component", "metadata": { "name": name }, "spec": {} });
        if let Some(spec_type) = spec_type {
            entity["spec"]["type"] = json!(spec_type);
        }
        if let Some(title) = title {
            entity["metadata"]["title"] = json!(title);
        }
        entity
    }

    fn names(entities: &[Value]) -> Vec<&str> {
        entities
            .iter()
            .map(|e| e["metadata"]["name"].as_str().unwrap())
            .collect()
    }

    fn order(texts: &[&str]) -> Vec<OrderField> {
        texts
            .iter()
            .map(|text| OrderField::parse(text).unwrap())
            .collect()
    }

    #[test]
    fn parses_field_and_order() {
        let asc = OrderField::parse("metadata.name").unwrap();
        assert_eq!(
            asc,
            OrderField {
                field: "metadata.name".into(),
                order: SortOrder::Asc
            }
        );
        let desc = OrderField::parse(" spec.type , DESC ").unwrap();
        assert_eq!(
            desc,
            OrderField {
                field: "spec.type".into(),
                order: SortOrder::Desc
            }
        );
        assert_eq!(desc.to_string(), "spec.type,desc");
        assert_eq!(
            OrderField::parse("kind,asc").unwrap().to_string(),
            "kind,asc"
        );
    }

    #[test]
    fn rejects_a_bad_order_or_a_missing_field() {
        assert_eq!(
            OrderField::parse("metadata.name,up")
                .unwrap_err()
                .to_string(),
            "order field \"metadata.name,up\": the order must be asc or desc"
        );
        assert_eq!(
            OrderField::parse(",desc").unwrap_err().to_string(),
            "order field \",desc\": the field is missing; write it as <field>[,asc|desc]"
        );
        assert!(OrderField::parse("").is_err());
    }

    #[test]
    fn sorts_by_lowercased_value_ignoring_case() {
        let mut entities = vec![
            component("b", None, Some("zebra")),
            component("a", None, Some("Yak")),
            component("c", None, Some("aardvark")),
        ];
        sort_entities(&mut entities, &order(&["metadata.title"]));
        assert_eq!(names(&entities), ["c", "a", "b"]);
        sort_entities(&mut entities, &order(&["metadata.title,desc"]));
        assert_eq!(names(&entities), ["b", "a", "c"]);
    }

    #[test]
    fn missing_values_come_last_in_both_directions() {
        let mut entities = vec![
            component("no-type", None, None),
            component("website", Some("website"), None),
            component("service", Some("service"), None),
        ];
        sort_entities(&mut entities, &order(&["spec.type,desc"]));
        assert_eq!(names(&entities), ["website", "service", "no-type"]);
        sort_entities(&mut entities, &order(&["spec.type,asc"]));
        assert_eq!(names(&entities), ["service", "website", "no-type"]);
    }

    #[test]
    fn ties_and_no_order_fall_back_to_the_reference() {
        let mut entities = vec![
            component("petstore", Some("service"), None),
            json!({ "kind": "API", "metadata": { "name": "petstore" } }),
            component("Artist-Lookup", Some("service"), None),
            component("queue-proxy", Some("library"), None),
        ];
        sort_entities(&mut entities, &order(&["spec.type,desc"]));
        assert_eq!(
            names(&entities),
            ["Artist-Lookup", "petstore", "queue-proxy", "petstore"]
        );
        assert_eq!(entities[3]["kind"], "API");
        sort_entities(&mut entities, &[]);
        assert_eq!(
            names(&entities),
            ["petstore", "Artist-Lookup", "petstore", "queue-proxy"]
        );
        assert_eq!(entities[0]["kind"], "API");
    }

    #[test]
    fn later_fields_break_ties_of_earlier_ones() {
        let entities = [
            component("a", Some("service"), Some("2")),
            component("b", Some("library"), Some("9")),
            component("c", Some("service"), Some("1")),
        ];
        let mut borrowed: Vec<&Value> = entities.iter().collect();
        sort_entities(&mut borrowed, &order(&["spec.type", "metadata.title,desc"]));
        let sorted: Vec<Value> = borrowed.into_iter().cloned().collect();
        assert_eq!(names(&sorted), ["b", "a", "c"]);
    }
}
