//! The `search` plugin: full-text search over the software catalog, which
//! it reads through the catalog's typed service `catalog.entities`. The
//! index is rebuilt whenever the catalog's contents have changed since the
//! last query.
//!
//! `GET /api/search/query?term=…` answers in the shape of Backstage's
//! search API: `{results: [{type, document, rank}], numberOfResults,
//! nextPageCursor?}`.

mod index;

use std::sync::{Arc, RwLock};

use axum::{
    Json, Router,
    extract::{Query, State, rejection::QueryRejection},
    http::StatusCode,
    routing::get,
};
use greenroom_catalog_api::{CatalogBox, SERVICE};
use greenroom_sdk::{Context, Error, PluginRegistrar, Service, abi_stable::std_types::RResult};
use greenroom_sdk_http::Serve as _;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::index::Index;

greenroom_sdk::export! {
    executor: greenroom_sdk_tokio::EXECUTOR,
    plugins: { "search" => register },
}

/// How many results one page holds unless `pageLimit` says otherwise.
const DEFAULT_PAGE_LIMIT: usize = 25;

/// The most words a term may hold, and its longest length in bytes.
const MAX_TERM_WORDS: usize = 16;
const MAX_TERM_BYTES: usize = 512;

/// The most results one page may hold.
const MAX_PAGE_LIMIT: usize = 100;

fn register(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin.depends_on_service(SERVICE, "^2").init(init);
    Ok(())
}

/// The catalog and the index built from it.
struct Search {
    catalog: Service<CatalogBox>,
    index: RwLock<Arc<Index>>,
}

impl Search {
    /// The index, rebuilt first if the catalog changed since it was built.
    fn index(&self) -> Result<Arc<Index>, String> {
        let generation = self
            .catalog
            .generation()
            .into_result()
            .map_err(|error| format!("the catalog failed: {}", error.message))?;
        let current = self
            .index
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        if current.generation() == Some(generation) {
            return Ok(current);
        }
        let entities = match self.catalog.entities(Vec::new().into()) {
            RResult::ROk(entities) => entities,
            RResult::RErr(error) => return Err(format!("the catalog failed: {}", error.message)),
        };
        let entities: Vec<Value> = entities
            .iter()
            .filter_map(|text| serde_json::from_str(text).ok())
            .collect();
        let rebuilt = Arc::new(Index::build(&entities, generation));
        *self
            .index
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = rebuilt.clone();
        tracing::debug!(
            documents = entities.len(),
            generation,
            "search index rebuilt"
        );
        Ok(rebuilt)
    }
}

async fn init(context: Context) -> Result<(), Error> {
    let catalog = context.service::<CatalogBox>(SERVICE, "^2")?;
    let search = Arc::new(Search {
        catalog,
        index: RwLock::new(Arc::new(Index::default())),
    });
    let router = Router::new().route("/query", get(query)).with_state(search);
    context.serve(router)
}

/// The parameters of `GET /query`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryParams {
    #[serde(default)]
    term: String,
    page_limit: Option<usize>,
    page_cursor: Option<String>,
}

async fn query(
    State(search): State<Arc<Search>>,
    params: Result<Query<QueryParams>, QueryRejection>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let Query(params) =
        params.map_err(|rejection| refuse(StatusCode::BAD_REQUEST, rejection.body_text()))?;
    let limit = params.page_limit.unwrap_or(DEFAULT_PAGE_LIMIT);
    if limit == 0 || limit > MAX_PAGE_LIMIT {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            format!("pageLimit must be between 1 and {MAX_PAGE_LIMIT}, not {limit}"),
        ));
    }
    let offset = match params.page_cursor.as_deref() {
        None => 0,
        Some(cursor) => cursor.parse().map_err(|_| {
            refuse(
                StatusCode::BAD_REQUEST,
                format!("pageCursor \"{cursor}\" is not one this search returned"),
            )
        })?,
    };
    if params.term.len() > MAX_TERM_BYTES || params.term.split_whitespace().count() > MAX_TERM_WORDS
    {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            format!(
                "the term is too long: at most {MAX_TERM_WORDS} words and {MAX_TERM_BYTES} bytes"
            ),
        ));
    }
    // Indexing and matching run on the plugin's blocking threads, never on
    // the threads that serve health checks and other plugins.
    let term = params.term;
    tokio::task::spawn_blocking(move || answer(&search, &term, offset, limit))
        .await
        .unwrap_or_else(|error| {
            Err(refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the search failed: {error}"),
            ))
        })
}

/// The page of results for `term` from `offset`, at most `limit` long.
fn answer(
    search: &Search,
    term: &str,
    offset: usize,
    limit: usize,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let index = search
        .index()
        .map_err(|message| refuse(StatusCode::SERVICE_UNAVAILABLE, message))?;
    let hits = index.search(term);
    let total = hits.len();
    let results: Vec<Value> = hits
        .into_iter()
        .enumerate()
        .skip(offset)
        .take(limit)
        .map(|(position, hit)| {
            json!({
                "type": "software-catalog",
                "document": hit.document,
                "rank": position + 1,
            })
        })
        .collect();
    let mut answer = json!({ "results": results, "numberOfResults": total });
    if offset.saturating_add(limit) < total {
        answer["nextPageCursor"] = (offset + limit).to_string().into();
    }
    if offset > 0 {
        answer["previousPageCursor"] = offset.saturating_sub(limit).to_string().into();
    }
    Ok(Json(answer))
}

fn refuse(status: StatusCode, message: String) -> (StatusCode, Json<Value>) {
    let name = if status == StatusCode::BAD_REQUEST {
        "InputError"
    } else {
        "ServiceUnavailableError"
    };
    let body = json!({
        "error": { "name": name, "message": message },
        "response": { "statusCode": status.as_u16() },
    });
    (status, Json(body))
}
