//! The `catalog` plugin: Backstage's software catalog. Modules feed it
//! entities (entity providers) and shape them (processors) through the
//! extension point `catalog.processing`; it keeps what it serves in its
//! database, serves it under `/api/catalog` in the shapes of Backstage's
//! catalog API, and offers it to other plugins as the service
//! `catalog.entities`.
//!
//! After a restart the entities saved last are served at once, while the
//! providers read their sources again in the background.

mod http;
mod placeholder;
mod processing;
mod reader;
mod service;
mod snapshot;
mod store;

use std::{
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use greenroom_catalog_api::{
    CatalogBox, Contribution, PROCESSING, PROCESSING_VERSION, SERVICE, SERVICE_VERSION,
};
use greenroom_sdk::{
    Config, Context, Error, PluginRegistrar, ServiceScope, abi_stable::sabi_trait::TD_Opaque,
};
use greenroom_sdk_http::Serve as _;

use crate::{
    processing::{Engine, Processor},
    reader::Reader,
    service::{CatalogService, Provider},
    snapshot::Snapshot,
    store::{Store, Stored},
};

greenroom_sdk::export! {
    executor: greenroom_sdk_tokio::EXECUTOR,
    plugins: { "catalog" => register },
}

/// How often providers read their sources when nothing else says.
const DEFAULT_REFRESH: Duration = Duration::from_secs(60);

/// The catalog's configuration, checked by the host before anything starts.
const CONFIG_SCHEMA: &str = r#"{
  "type": "object",
  "properties": {
    "locations": {
      "type": "array",
      "items": {
        "type": "object",
        "required": ["type", "target"],
        "properties": {
          "type": {"enum": ["file"]},
          "target": {"type": "string", "minLength": 1}
        },
        "additionalProperties": false
      }
    },
    "processingInterval": {
      "type": "object",
      "properties": {
        "seconds": {"type": "number", "minimum": 1, "maximum": 604800},
        "minutes": {"type": "number", "minimum": 0.1, "maximum": 10080}
      },
      "additionalProperties": false
    },
    "reading": {
      "type": "object",
      "properties": {
        "allow": {
          "type": "array",
          "items": {
            "type": "object",
            "required": ["host"],
            "properties": {
              "host": {
                "type": "string",
                "pattern": "^[A-Za-z0-9.-]+(:[0-9]{1,5})?$",
                "description": "a host name or address, with a port if not the scheme's"
              }
            },
            "additionalProperties": false
          }
        }
      },
      "additionalProperties": false
    }
  },
  "additionalProperties": false
}"#;

fn register(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .config_schema(CONFIG_SCHEMA)
        .depends_on_service("core.database", "^1")
        .provides_extension_point(PROCESSING, PROCESSING_VERSION)
        .provides_service(SERVICE, SERVICE_VERSION, ServiceScope::Root)
        .init(init);
    Ok(())
}

/// What the catalog's handlers, service and providers share.
pub(crate) struct State {
    /// What is served now.
    served: RwLock<Arc<Snapshot>>,
    /// Turns providers' mutations into new snapshots, one at a time.
    engine: Mutex<Engine>,
    /// The entity providers, for refreshes asked over HTTP.
    providers: Arc<Vec<Provider>>,
}

impl State {
    /// Asks every provider to read its source again, on a blocking thread.
    pub(crate) fn refresh_soon(&self) {
        let providers = self.providers.clone();
        tokio::task::spawn_blocking(move || service::refresh(&providers));
    }

    /// What is served now.
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        self.served
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

async fn init(context: Context) -> Result<(), Error> {
    let config = context.config();
    let reader = Reader::from_config(&config).map_err(Error::msg)?;
    let refresh = refresh_interval(&config)?;
    let (providers, processors) = contributions(&context)?;
    let (store, snapshot) = open_store(&context)?;
    tracing::info!(
        entities = snapshot.entities.len(),
        providers = providers.len(),
        processors = processors.len(),
        "serving the entities saved last while the providers read their sources"
    );
    let engine = Engine::new(processors, reader, store, &snapshot);
    let providers = Arc::new(providers);
    let state = Arc::new(State {
        served: RwLock::new(Arc::new(snapshot)),
        engine: Mutex::new(engine),
        providers: providers.clone(),
    });

    let catalog = CatalogBox::from_value(CatalogService::new(state.clone()), TD_Opaque);
    context.provide(SERVICE, SERVICE_VERSION, catalog)?;
    context.serve(http::router(state.clone()))?;
    let connecting = (providers.clone(), state);
    context.on_startup(move || async move {
        let (providers, state) = connecting;
        tokio::task::spawn_blocking(move || service::connect(&providers, &state));
        Ok(())
    });
    // A refresh cut off by the scheduler goes on reading on its thread;
    // the next waits for it rather than piling up beside it.
    let refreshing = Arc::new(AtomicBool::new(false));
    context.schedule_every("refresh", refresh, move || {
        let (providers, refreshing) = (providers.clone(), refreshing.clone());
        async move {
            if refreshing.swap(true, Ordering::SeqCst) {
                tracing::warn!("the previous refresh is still running; skipping this one");
                return Ok(());
            }
            tokio::task::spawn_blocking(move || {
                service::refresh(&providers);
                refreshing.store(false, Ordering::SeqCst);
            })
            .await
            .map_err(Error::msg)
        }
    })
}

/// Splits what modules registered into providers and processors.
fn contributions(context: &Context) -> Result<(Vec<Provider>, Vec<Processor>), Error> {
    let mut providers = Vec::new();
    let mut processors = Vec::new();
    for registered in context.extensions::<Contribution>(PROCESSING)? {
        match &*registered.value {
            Contribution::Provider(_) => providers.push(Provider {
                module_id: registered.module_id,
                contribution: registered.value,
            }),
            Contribution::Processor(_) => processors.push(Processor {
                module_id: registered.module_id,
                contribution: registered.value,
            }),
        }
    }
    Ok((providers, processors))
}

/// Opens the catalog's database and reads what it served last. The
/// database only keeps what was served, so one that cannot be read is set
/// aside and the catalog starts empty; one that cannot be opened at all
/// leaves the catalog serving without saving.
fn open_store(context: &Context) -> Result<(Option<Store>, Snapshot), Error> {
    let database = context.database()?;
    if database.client != "sqlite" {
        return Err(Error::msg(format!(
            "the catalog keeps its entities in SQLite, but its database is {}; configure \
             backend.database.client: sqlite",
            database.client
        )));
    }
    let path = &database.connection;
    let opened = Store::open(path).and_then(|store| Ok((store.load()?, store)));
    let (stored, store) = match opened {
        Ok(opened) => opened,
        Err(error) => {
            let aside = format!("{path}.unreadable");
            tracing::warn!(
                "{error}; it only keeps what was served last, so it is moved to {aside} and \
                 the catalog starts empty"
            );
            let _ = std::fs::rename(path, &aside);
            match Store::open(path) {
                Ok(store) => (Stored::default(), store),
                Err(error) => {
                    tracing::error!("{error}; the catalog serves without saving");
                    return Ok((None, Snapshot::default()));
                }
            }
        }
    };
    let snapshot = Snapshot::new(stored.entities, stored.errors, stored.locations, 0);
    Ok((Some(store), snapshot))
}

/// `catalog.processingInterval` (`{seconds}` or `{minutes}`), or the
/// default.
fn refresh_interval(config: &Config) -> Result<Duration, Error> {
    let seconds = config.optional_number("processingInterval.seconds")?;
    let minutes = config.optional_number("processingInterval.minutes")?;
    let total = seconds.unwrap_or(0.0) + minutes.unwrap_or(0.0) * 60.0;
    if seconds.is_none() && minutes.is_none() {
        return Ok(DEFAULT_REFRESH);
    }
    if total < 1.0 {
        return Err(Error::msg(format!(
            "catalog.processingInterval is {total} s; read the sources at most once a second"
        )));
    }
    Duration::try_from_secs_f64(total).map_err(|_| {
        Error::msg(format!(
            "catalog.processingInterval is {total} s, more than a duration can hold; give at \
             most a week"
        ))
    })
}
