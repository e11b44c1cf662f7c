//! Query parameters as Backstage's clients send them: repeated keys
//! (`filter=a&filter=b`), comma-separated lists (`fields=kind,metadata.name`).

use greenroom_catalog_model::{Cursor, EntityFilter, OrderField, parse_fields};

use super::error::ApiError;

/// The most `fields` paths, order fields, full-text fields and filter
/// conditions one request may name, so that no request costs more than a
/// few passes over the catalog.
const MAX_NAMED: usize = 100;

/// The decoded query parameters of one request, in order.
pub(super) struct Params {
    pairs: Vec<(String, String)>,
}

/// The largest `limit` or `offset` accepted.
const MAX_NUMBER: usize = 1_000_000_000;

/// Refuses more than [`MAX_NAMED`] of `what`.
pub(super) fn bounded(what: &str, count: usize) -> Result<(), ApiError> {
    if count > MAX_NAMED {
        return Err(ApiError::input(format!(
            "the request names {count} {what}; at most {MAX_NAMED} are allowed"
        )));
    }
    Ok(())
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

    /// `key` as a non-negative integer of at most [`MAX_NUMBER`].
    pub(super) fn number(&self, key: &str) -> Result<Option<usize>, ApiError> {
        self.one(key)
            .map(|text| match text.parse::<usize>() {
                Ok(number) if number <= MAX_NUMBER => Ok(number),
                _ => Err(ApiError::input(format!(
                    "{key} must be an integer from 0 to {MAX_NUMBER}, not \"{text}\""
                ))),
            })
            .transpose()
    }

    /// The `filter` parameters: each ANDs its conditions, together they OR.
    pub(super) fn filter(&self) -> Result<EntityFilter, ApiError> {
        let filters = self.all("filter");
        let conditions: usize = filters.iter().map(|filter| filter.split(',').count()).sum();
        bounded("filter conditions", conditions)?;
        EntityFilter::parse(&filters).map_err(|error| ApiError::input(error.to_string()))
    }

    /// Checks that no list the request names is longer than [`MAX_NAMED`].
    pub(super) fn check_sizes(&self) -> Result<(), ApiError> {
        bounded("fields", self.fields().len())?;
        bounded(
            "order fields",
            self.all("order").len() + self.all("orderField").len(),
        )?;
        bounded(
            "full-text fields",
            self.fields_of("fullTextFilterFields").len(),
        )
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
