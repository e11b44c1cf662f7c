//! Query parameters as Backstage's clients send them: repeated keys
//! (`filter=a&filter=b`), comma-separated lists (`fields=kind,metadata.name`).

use greenroom_catalog_model::{Cursor, EntityFilter, OrderField, parse_fields};

use super::error::ApiError;

/// The decoded query parameters of one request, in order.
pub(super) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Decodes `query` (the part after `?`).
    pub(super) fn parse(query: Option<&str>) -> Self {
        let pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        Self { pairs }
    }

    /// Every value of `key`.
    pub(super) fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// The first value of `key`.
    pub(super) fn one(&self, key: &str) -> Option<&str> {
        self.all(key).first().copied()
    }

    /// `key` as a non-negative integer.
    pub(super) fn number(&self, key: &str) -> Result<Option<usize>, ApiError> {
        self.one(key)
            .map(|text| {
                text.parse().map_err(|_| {
                    ApiError::input(format!(
                        "{key} must be a non-negative integer, not \"{text}\""
                    ))
                })
            })
            .transpose()
    }

    /// The `filter` parameters: each ANDs its conditions, together they OR.
    pub(super) fn filter(&self) -> Result<EntityFilter, ApiError> {
        EntityFilter::parse(&self.all("filter")).map_err(|error| ApiError::input(error.to_string()))
    }

    /// The `fields` to keep, from every `fields` parameter.
    pub(super) fn fields(&self) -> Vec<String> {
        self.all("fields")
            .into_iter()
            .flat_map(parse_fields)
            .collect()
    }

    /// `GET /entities`' `order=asc:metadata.name` parameters.
    pub(super) fn legacy_order(&self) -> Result<Vec<OrderField>, ApiError> {
        self.all("order")
            .into_iter()
            .map(|text| {
                let (direction, field) = text.split_once(':').ok_or_else(|| {
                    ApiError::input(format!(
                        "order \"{text}\" must be asc:<field> or desc:<field>"
                    ))
                })?;
                OrderField::parse(&format!("{field},{direction}"))
                    .map_err(|error| ApiError::input(error.to_string()))
            })
            .collect()
    }

    /// The cursor of the first page of a `by-query` request.
    pub(super) fn first_cursor(&self) -> Result<Cursor, ApiError> {
        let order = self
            .all("orderField")
            .into_iter()
            .map(|text| OrderField::parse(text).map_err(|error| ApiError::input(error.to_string())))
            .collect::<Result<_, _>>()?;
        Ok(Cursor {
            filter: self.all("filter").into_iter().map(str::to_string).collect(),
            order,
            full_text: self
                .one("fullTextFilterTerm")
                .filter(|term| !term.trim().is_empty())
                .map(str::to_string),
            full_text_fields: self.fields_of("fullTextFilterFields"),
            offset: 0,
            total: None,
        })
    }

    fn fields_of(&self, key: &str) -> Vec<String> {
        self.all(key).into_iter().flat_map(parse_fields).collect()
    }

    /// The query with `key` set to `value`, every other parameter kept.
    pub(super) fn with(&self, key: &str, value: &str) -> String {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (name, kept) in self.pairs.iter().filter(|(name, _)| name != key) {
            serializer.append_pair(name, kept);
        }
        serializer.append_pair(key, value);
        serializer.finish()
    }
}
