//! Page cursors: the state of a listing query, carried between requests as
//! opaque text.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::order::{OrderError, OrderField};

/// The layout version written into every cursor.
const CURSOR_VERSION: u64 = 1;

/// Why a cursor could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CursorError {
    /// The text is not unpadded base64url.
    NotBase64,
    /// The decoded bytes are not a JSON object.
    NotJson,
    /// The cursor was written by a different layout version.
    Version {
        /// The version this crate reads.
        expected: u64,
        /// The version found, if any.
        found: Option<u64>,
    },
    /// A field is missing or of the wrong type.
    Field {
        /// The field's name inside the cursor.
        field: &'static str,
    },
    /// An order field inside the cursor is malformed.
    Order(OrderError),
}

impl fmt::Display for CursorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid cursor: ")?;
        match self {
            CursorError::NotBase64 => f.write_str("it is not base64url text")?,
            CursorError::NotJson => f.write_str("it does not hold a JSON object")?,
            CursorError::Version { expected, found } => match found {
                Some(found) => write!(f, "it has version {found}, expected {expected}")?,
                None => write!(f, "it has no version, expected {expected}")?,
            },
            CursorError::Field { field } => write!(f, "{field} is missing or malformed")?,
            CursorError::Order(error) => write!(f, "{error}")?,
        }
        f.write_str("; pass back a cursor exactly as the catalog returned it")
    }
}

impl std::error::Error for CursorError {}

/// Where a paged listing query stands: the query it runs and how far it got.
///
/// The catalog hands it to clients as [`encode`]d text and reads it back
/// with [`decode`], so a next or previous page repeats the same query.
///
/// [`encode`]: Cursor::encode
/// [`decode`]: Cursor::decode
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    /// The raw `filter` parameters, one per element.
    pub filter: Vec<String>,
    /// The order fields, in the order they apply.
    pub order: Vec<OrderField>,
    /// The full-text term, if any.
    pub full_text: Option<String>,
    /// The fields the full-text term is matched against; empty for the
    /// defaults.
    pub full_text_fields: Vec<String>,
    /// How many matching entities come before the page.
    pub offset: usize,
    /// How many entities match the query, when known.
    pub total: Option<usize>,
}

impl Cursor {
    /// The cursor as opaque text: compact JSON in unpadded base64url, safe in
    /// a query string.
    pub fn encode(&self) -> String {
        let order: Vec<String> = self.order.iter().map(OrderField::to_string).collect();
        let json = json!({
            "v": CURSOR_VERSION,
            "filter": self.filter,
            "order": order,
            "fullTextTerm": self.full_text,
            "fullTextFields": self.full_text_fields,
            "offset": self.offset,
            "total": self.total,
        });
        URL_SAFE_NO_PAD.encode(json.to_string())
    }

    /// Reads a cursor made by [`Cursor::encode`].
    ///
    /// # Errors
    ///
    /// A [`CursorError`] when the text is not base64url, does not hold a
    /// JSON object, has another version, or a field is missing or malformed.
    pub fn decode(text: &str) -> Result<Cursor, CursorError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| CursorError::NotBase64)?;
        let json: Value = serde_json::from_slice(&bytes).map_err(|_| CursorError::NotJson)?;
        let object = json.as_object().ok_or(CursorError::NotJson)?;

        let version = object.get("v").and_then(Value::as_u64);
        if version != Some(CURSOR_VERSION) {
            return Err(CursorError::Version {
                expected: CURSOR_VERSION,
                found: version,
            });
        }
        let filter = strings(object, "filter")?;
        let order = strings(object, "order")?;
        let order = order.iter().map(|text| OrderField::parse(text));
        Ok(Cursor {
            filter,
            order: order
                .collect::<Result<_, _>>()
                .map_err(CursorError::Order)?,
            full_text: optional(object, "fullTextTerm", Value::as_str)?.map(String::from),
            full_text_fields: strings(object, "fullTextFields")?,
            offset: count(object.get("offset")).ok_or(CursorError::Field { field: "offset" })?,
            total: optional(object, "total", |value| count(Some(value)))?,
        })
    }
}

/// The array of strings at `field`.
fn strings(object: &Map<String, Value>, field: &'static str) -> Result<Vec<String>, CursorError> {
    let malformed = CursorError::Field { field };
    let array = object
        .get(field)
        .and_then(Value::as_array)
        .ok_or(malformed.clone())?;
    let texts = array.iter().map(|value| value.as_str().map(String::from));
    texts.collect::<Option<_>>().ok_or(malformed)
}

/// The value at `field` read by `read`, `None` when it is `null` or absent.
fn optional<'a, T>(
    object: &'a Map<String, Value>,
    field: &'static str,
    read: impl Fn(&'a Value) -> Option<T>,
) -> Result<Option<T>, CursorError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => read(value).map(Some).ok_or(CursorError::Field { field }),
    }
}

fn count(value: Option<&Value>) -> Option<usize> {
    value?.as_u64()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::SortOrder;

    fn cursor() -> Cursor {
        Cursor {
            filter: vec!["kind=component,spec.type=service".into(), "kind=api".into()],
            order: vec![
                OrderField {
                    field: "metadata.name".into(),
                    order: SortOrder::Asc,
                },
                OrderField {
                    field: "spec.type".into(),
                    order: SortOrder::Desc,
                },
            ],
            full_text: Some("pet".into()),
            full_text_fields: vec!["metadata.name".into()],
            offset: 40,
            total: Some(123),
        }
    }

    #[test]
    fn round_trips() {
        let encoded = cursor().encode();
        assert!(
            encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(Cursor::decode(&encoded), Ok(cursor()));
        let empty = Cursor::default();
        assert_eq!(Cursor::decode(&empty.encode()), Ok(empty));
    }

    #[test]
    fn encodes_compact_json() {
        let bytes = URL_SAFE_NO_PAD.decode(Cursor::default().encode()).unwrap();
        let json: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            json,
            json!({
                "v": 1,
                "filter": [],
                "order": [],
                "fullTextTerm": null,
                "fullTextFields": [],
                "offset": 0,
                "total": null,
            })
        );
    }

    fn encoded(json: Value) -> String {
        URL_SAFE_NO_PAD.encode(json.to_string())
    }

    fn decode_error(text: &str) -> String {
        Cursor::decode(text).unwrap_err().to_string()
    }

    #[test]
    fn rejects_what_is_not_a_cursor() {
        const FIX: &str = "; pass back a cursor exactly as the catalog returned it";
        assert_eq!(
            decode_error("not a cursor!"),
            format!("invalid cursor: it is not base64url text{FIX}")
        );
        assert_eq!(
            decode_error(&URL_SAFE_NO_PAD.encode("[1, 2")),
            format!("invalid cursor: it does not hold a JSON object{FIX}")
        );
        assert_eq!(
            decode_error(&encoded(json!([1]))),
            format!("invalid cursor: it does not hold a JSON object{FIX}")
        );
        assert_eq!(
            decode_error(&encoded(json!({ "v": 2 }))),
            format!("invalid cursor: it has version 2, expected 1{FIX}")
        );
        assert_eq!(
            decode_error(&encoded(json!({}))),
            format!("invalid cursor: it has no version, expected 1{FIX}")
        );
    }

    #[test]
    fn rejects_malformed_fields() {
        let mut json = json!({
            "v": 1, "filter": [], "order": [], "fullTextFields": [], "offset": 5,
        });
        assert_eq!(
            Cursor::decode(&encoded(json.clone())).map(|c| c.offset),
            Ok(5)
        );
        json["offset"] = json!(-1);
        assert_eq!(
            Cursor::decode(&encoded(json.clone())),
            Err(CursorError::Field { field: "offset" })
        );
        json["offset"] = json!(0);
        json["filter"] = json!(["kind=api", 3]);
        assert_eq!(
            decode_error(&encoded(json.clone())),
            "invalid cursor: filter is missing or malformed; \
             pass back a cursor exactly as the catalog returned it"
        );
        json["filter"] = json!([]);
        json["total"] = json!("many");
        assert_eq!(
            Cursor::decode(&encoded(json.clone())),
            Err(CursorError::Field { field: "total" })
        );
        json["total"] = json!(null);
        json["order"] = json!(["metadata.name,sideways"]);
        assert_eq!(
            decode_error(&encoded(json)),
            "invalid cursor: order field \"metadata.name,sideways\": the order must be asc or \
             desc; pass back a cursor exactly as the catalog returned it"
        );
    }
}
