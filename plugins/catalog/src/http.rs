//! The catalog's routes, in the shapes of Backstage's catalog REST API so
//! that Backstage's own clients work against them.

mod error;
mod params;

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::DefaultBodyLimit,
    extract::{Path, RawQuery, State},
    http::{HeaderValue, header},
    middleware,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use greenroom_catalog_model::{
    Cursor, DEFAULT_FULL_TEXT_FIELDS, EntityFilter, EntityRef, RefDefaults, facets,
    full_text_matches, project, sort_entities,
};
use serde::Deserialize;
use serde_json::{Value, json};

use self::{error::ApiError, params::Params};
use crate::{State as Catalog, snapshot::Snapshot};

/// How many items `GET /entities/by-query` returns when no limit is given.
const DEFAULT_QUERY_LIMIT: usize = 20;

type Shared = State<Arc<Catalog>>;

/// The catalog's router, to be served under `/api/catalog`.
pub(crate) fn router(catalog: Arc<Catalog>) -> Router {
    Router::new()
        .route("/entities", get(entities))
        .route("/entities/by-name/{kind}/{namespace}/{name}", get(by_name))
        .route("/entities/by-uid/{uid}", get(by_uid))
        .route("/entities/by-refs", post(by_refs))
        .route("/entities/by-query", get(by_query))
        .route("/entity-facets", get(entity_facets))
        .route("/locations", get(locations))
        .route("/locations/{id}", get(location))
        .route("/processing-errors", get(processing_errors))
        .route("/refresh", post(refresh))
        .route("/validate-entity", post(validate_entity))
        .fallback(|| async { ApiError::not_found("No such route in the catalog".to_string()) })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(middleware::from_fn(error::describe_request))
        // The host limits request bodies (backend.http.bodyLimit).
        .layer(DefaultBodyLimit::disable())
        .with_state(catalog)
}

/// `GET /entities`: a bare array, filtered, projected and paged.
async fn entities(State(catalog): Shared, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    off_thread(move || entities_now(&catalog, query.as_deref())).await
}

fn entities_now(catalog: &Catalog, query: Option<&str>) -> Result<Response, ApiError> {
    let params = Params::parse(query);
    params.check_sizes()?;
    let filter = params.filter()?;
    let fields = params.fields();
    let offset = params.number("offset")?.unwrap_or(0);
    let limit = params.number("limit")?;
    let order = params.legacy_order()?;
    let snapshot = catalog.snapshot();

    let mut matching: Vec<&Value> = snapshot
        .matching(&filter)
        .into_iter()
        .map(|served| &served.entity)
        .collect();
    if !order.is_empty() {
        sort_entities(&mut matching, &order);
    }
    let total = matching.len();
    let page: Vec<Value> = matching
        .into_iter()
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX))
        .map(|entity| project(entity, &fields))
        .collect();
    let mut response = Json(page).into_response();
    if let Some(limit) = limit
        && limit > 0
        && offset.saturating_add(limit) < total
    {
        let next = params.with("offset", &(offset + limit).to_string());
        if let Ok(link) = HeaderValue::from_str(&format!("<?{next}>; rel=\"next\"")) {
            response.headers_mut().insert(header::LINK, link);
        }
    }
    Ok(response)
}

/// Runs a request's work on the plugin's blocking threads, so that a
/// costly query never holds up the threads serving health checks and other
/// plugins, and the host's request timeout can end the wait.
async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|error| Err(ApiError::internal(format!("the query failed: {error}"))))
}

/// `GET /entities/by-name/:kind/:namespace/:name`.
async fn by_name(
    State(catalog): Shared,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let entity_ref = EntityRef::new(&kind, &namespace, &name);
    catalog
        .snapshot()
        .by_ref(&entity_ref)
        .map(|served| Json(served.entity.clone()))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "No entity named '{name}' found, with kind '{kind}' in namespace '{namespace}'"
            ))
        })
}

/// `GET /entities/by-uid/:uid`.
async fn by_uid(State(catalog): Shared, Path(uid): Path<String>) -> Result<Json<Value>, ApiError> {
    catalog
        .snapshot()
        .by_uid(&uid)
        .map(|served| Json(served.entity.clone()))
        .ok_or_else(|| ApiError::not_found(format!("No entity with uid {uid}")))
}

/// The body of `POST /entities/by-refs`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ByRefs {
    entity_refs: Vec<String>,
    #[serde(default)]
    fields: Vec<String>,
}

/// `POST /entities/by-refs`: `{items}`, one entity or `null` per ref, in
/// the order asked.
async fn by_refs(
    State(catalog): Shared,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    off_thread(move || by_refs_now(&catalog, query.as_deref(), &body)).await
}

fn by_refs_now(
    catalog: &Catalog,
    query: Option<&str>,
    body: &[u8],
) -> Result<Json<Value>, ApiError> {
    let request: ByRefs = serde_json::from_slice(body).map_err(|error| {
        ApiError::input(format!(
            "the body must be JSON like {{\"entityRefs\": [\"component:default/name\"]}}: {error}"
        ))
    })?;
    let params = Params::parse(query);
    params.check_sizes()?;
    let filter = params.filter()?;
    let mut fields = params.fields();
    fields.extend(request.fields);
    let snapshot = catalog.snapshot();
    let items: Vec<Value> = request
        .entity_refs
        .iter()
        .map(|text| {
            EntityRef::parse(text, RefDefaults::default())
                .ok()
                .and_then(|entity_ref| snapshot.by_ref(&entity_ref))
                .filter(|served| filter.matches(&served.entries))
                .map_or(Value::Null, |served| project(&served.entity, &fields))
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// `GET /entities/by-query`: `{items, totalItems, pageInfo}` with opaque
/// cursors.
async fn by_query(
    State(catalog): Shared,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    off_thread(move || by_query_now(&catalog, query.as_deref())).await
}

fn by_query_now(catalog: &Catalog, query: Option<&str>) -> Result<Json<Value>, ApiError> {
    let params = Params::parse(query);
    params.check_sizes()?;
    let limit = params.number("limit")?.unwrap_or(DEFAULT_QUERY_LIMIT);
    if limit == 0 {
        return Err(ApiError::input(
            "limit must be at least 1 for paging with cursors".to_string(),
        ));
    }
    let fields = params.fields();
    let cursor = match params.one("cursor") {
        Some(text) => Cursor::decode(text).map_err(|error| ApiError::input(error.to_string()))?,
        None => params.first_cursor()?,
    };
    let snapshot = catalog.snapshot();
    let (items, total) = query_page(&snapshot, &cursor, limit)?;

    let items: Vec<Value> = items
        .into_iter()
        .map(|entity| project(entity, &fields))
        .collect();
    let next = (cursor.offset.saturating_add(limit) < total).then(|| {
        Cursor {
            offset: cursor.offset + limit,
            ..cursor.clone()
        }
        .encode()
    });
    let previous = (cursor.offset > 0).then(|| {
        Cursor {
            offset: cursor.offset.saturating_sub(limit),
            ..cursor.clone()
        }
        .encode()
    });
    let mut page_info = serde_json::Map::new();
    if let Some(next) = next {
        page_info.insert("nextCursor".into(), next.into());
    }
    if let Some(previous) = previous {
        page_info.insert("prevCursor".into(), previous.into());
    }
    Ok(Json(json!({
        "items": items,
        "totalItems": total,
        "pageInfo": page_info,
    })))
}

/// The entities on the page `cursor` points at, and how many match.
fn query_page<'a>(
    snapshot: &'a Snapshot,
    cursor: &Cursor,
    limit: usize,
) -> Result<(Vec<&'a Value>, usize), ApiError> {
    params::bounded("filters in the cursor", cursor.filter.len())?;
    params::bounded("order fields in the cursor", cursor.order.len())?;
    params::bounded(
        "full-text fields in the cursor",
        cursor.full_text_fields.len(),
    )?;
    let filter =
        EntityFilter::parse(&cursor.filter).map_err(|error| ApiError::input(error.to_string()))?;
    let fields: Vec<&str> = if cursor.full_text_fields.is_empty() {
        DEFAULT_FULL_TEXT_FIELDS.to_vec()
    } else {
        cursor.full_text_fields.iter().map(String::as_str).collect()
    };
    let mut matching: Vec<&Value> = snapshot
        .matching(&filter)
        .into_iter()
        .filter(|served| {
            cursor
                .full_text
                .as_ref()
                .is_none_or(|term| full_text_matches(&served.entries, term, &fields))
        })
        .map(|served| &served.entity)
        .collect();
    sort_entities(&mut matching, &cursor.order);
    let total = matching.len();
    let page = matching
        .into_iter()
        .skip(cursor.offset)
        .take(limit)
        .collect();
    Ok((page, total))
}

/// `GET /entity-facets?facet=kind`: `{facets: {kind: [{value, count}]}}`.
async fn entity_facets(
    State(catalog): Shared,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    off_thread(move || entity_facets_now(&catalog, query.as_deref())).await
}

fn entity_facets_now(catalog: &Catalog, query: Option<&str>) -> Result<Json<Value>, ApiError> {
    let params = Params::parse(query);
    params.check_sizes()?;
    let filter = params.filter()?;
    let wanted = params.all("facet");
    if wanted.is_empty() {
        return Err(ApiError::input(
            "name at least one facet, such as ?facet=kind".to_string(),
        ));
    }
    let snapshot = catalog.snapshot();
    let matching: Vec<&Value> = snapshot
        .matching(&filter)
        .into_iter()
        .map(|served| &served.entity)
        .collect();
    let mut result = serde_json::Map::new();
    for facet in wanted {
        let counted: Vec<Value> = facets(matching.iter().copied(), facet)
            .into_iter()
            .map(|(value, count)| json!({ "value": value, "count": count }))
            .collect();
        result.insert(facet.to_string(), counted.into());
    }
    Ok(Json(json!({ "facets": result })))
}

/// `GET /locations`: `[{data: {id, type, target}}]`.
async fn locations(State(catalog): Shared) -> Json<Value> {
    let snapshot = catalog.snapshot();
    let locations: Vec<Value> = snapshot
        .locations
        .iter()
        .map(|location| json!({ "data": location }))
        .collect();
    Json(locations.into())
}

/// `GET /locations/:id`.
async fn location(State(catalog): Shared, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let snapshot = catalog.snapshot();
    snapshot
        .locations
        .iter()
        .find(|location| location.id == id)
        .map(|location| Json(json!(location)))
        .ok_or_else(|| ApiError::not_found(format!("Found no location with ID {id}")))
}

/// The body of `POST /refresh`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Refresh {
    entity_ref: String,
}

/// `POST /refresh` (`{entityRef}`): reads every source again soon; 404
/// when the entity is not served.
async fn refresh(
    State(catalog): Shared,
    body: axum::body::Bytes,
) -> Result<axum::http::StatusCode, ApiError> {
    let request: Refresh = serde_json::from_slice(&body).map_err(|error| {
        ApiError::input(format!(
            "the body must be JSON like {{\"entityRef\": \"component:default/name\"}}: {error}"
        ))
    })?;
    let entity_ref = EntityRef::parse(&request.entity_ref, RefDefaults::default())
        .map_err(|error| ApiError::input(error.to_string()))?;
    if catalog.snapshot().by_ref(&entity_ref).is_none() {
        return Err(ApiError::not_found(format!(
            "No entity with ref {entity_ref} found"
        )));
    }
    catalog.refresh_soon();
    Ok(axum::http::StatusCode::OK)
}

/// `POST /validate-entity` (`{entity, location}`): 200 when the entity
/// is valid, else 400 with every problem in `errors`.
async fn validate_entity(body: axum::body::Bytes) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return ApiError::input(format!(
                "the body must be JSON like {{\"entity\": {{…}}, \"location\": \"url:…\"}}: \
                 {error}"
            ))
            .into_response();
        }
    };
    let entity = request.get("entity").cloned().unwrap_or(Value::Null);
    let mut problems = greenroom_catalog_model::validate(&entity)
        .err()
        .unwrap_or_default();
    if problems.is_empty() {
        problems = greenroom_catalog_model::relations(&entity)
            .err()
            .unwrap_or_default();
    }
    if problems.is_empty() {
        return Json(json!({})).into_response();
    }
    let errors: Vec<Value> = problems
        .into_iter()
        .map(|message| json!({ "name": "InputError", "message": message }))
        .collect();
    (
        axum::http::StatusCode::BAD_REQUEST,
        Json(json!({ "errors": errors })),
    )
        .into_response()
}

/// `GET /processing-errors`: each entity left out and location not read,
/// with why.
async fn processing_errors(State(catalog): Shared) -> Json<Value> {
    Json(json!(catalog.snapshot().errors))
}
