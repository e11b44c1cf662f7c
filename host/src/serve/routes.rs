//! Which plugin answers under `/api/<pluginId>`, and whether the host is
//! ready.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU8, AtomicUsize, Ordering},
    },
};

use greenroom_contract::http::HttpHandlerBox;

/// A plugin's router as the host keeps it.
pub(crate) struct Served {
    /// What answers the plugin's requests.
    pub(crate) handler: HttpHandlerBox,
    /// Path prefixes below the mount point that need no credential.
    pub(crate) open_paths: Vec<String>,
    /// Which initialization of the plugin made the handler (1 at start).
    pub(crate) generation: u64,
}

/// The state of one plugin's routes.
#[derive(Clone)]
pub(crate) enum Route {
    /// The plugin is initializing; its router (if it gave one) waits.
    Starting(Option<Arc<Served>>),
    /// The plugin started; `None` when it serves no routes.
    Ready(Option<Arc<Served>>),
    /// The plugin did not start, for this reason.
    Failed(String),
    /// Routes linked into the host, answered without crossing a boundary.
    Native(Arc<Native>),
}

impl Route {
    /// Whether a request still holds this route's handler.
    pub(crate) fn handler_in_use(&self) -> bool {
        match self {
            Route::Starting(Some(served)) | Route::Ready(Some(served)) => {
                Arc::strong_count(served) > 1
            }
            _ => false,
        }
    }
}

/// An axum router linked into the host and served under `/api/<id>`.
pub(crate) struct Native {
    /// The routes.
    pub(crate) router: axum::Router,
    /// Path prefixes that need no credential.
    pub(crate) open_paths: Vec<String>,
}

/// Where the host is in its life, as readiness reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Plugins are initializing.
    Starting,
    /// Every plugin that could start has.
    Ready,
    /// The host is shutting down.
    Stopping,
}

/// Every plugin's routes and the host's phase, shared by the server and
/// the initializer.
#[derive(Default)]
pub struct Routes {
    routes: RwLock<BTreeMap<String, Route>>,
    /// Why plugins still initializing already failed (a task they started
    /// panicked); their initialization reports it when it ends.
    failed_starting: std::sync::Mutex<BTreeMap<String, String>>,
    generations: RwLock<BTreeMap<String, u64>>,
    phase: AtomicU8,
    in_flight: AtomicUsize,
}

/// Counts a request to a plugin as in flight until dropped.
pub(crate) struct InFlight<'a>(&'a Routes);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Routes {
    /// Marks every plugin in `plugin_ids` as starting, each in a new
    /// generation.
    pub(crate) fn starting(&self, plugin_ids: impl IntoIterator<Item = String>) {
        let mut routes = self.write();
        let mut generations = self.write_generations();
        for id in plugin_ids {
            *generations.entry(id.clone()).or_default() += 1;
            routes.insert(id, Route::Starting(None));
        }
    }

    /// Routes where a new generation of the plugins in `plugin_ids` stages
    /// its handlers before they go live, numbered after this table's.
    pub(crate) fn staging(&self, plugin_ids: impl IntoIterator<Item = String>) -> Self {
        let staging = Self::default();
        *staging.write_generations() = self.generations();
        staging.starting(plugin_ids);
        staging
    }

    /// Takes the routes and generations of `plugin_ids` from `staging` in
    /// one step, and returns the routes they replace.
    ///
    /// The routes are moved out of `staging`, not copied: the plugins'
    /// contexts keep `staging` alive, and a handler it still held would look
    /// in use forever when the next generation drains this one.
    pub(crate) fn swap_in(&self, staging: &Self, plugin_ids: &[String]) -> Vec<Route> {
        let mut staged_routes = staging.write();
        let staged_generations = staging.generations();
        let mut routes = self.write();
        let mut generations = self.write_generations();
        let mut replaced = Vec::new();
        for id in plugin_ids {
            if let Some(route) = staged_routes.remove(id) {
                replaced.extend(routes.insert(id.clone(), route));
            }
            if let Some(generation) = staged_generations.get(id) {
                generations.insert(id.clone(), *generation);
            }
        }
        replaced
    }

    /// Stops serving a plugin whose file was removed; returns its route.
    pub(crate) fn remove(&self, plugin_id: &str) -> Option<Route> {
        self.write_generations().remove(plugin_id);
        self.write().remove(plugin_id)
    }

    /// Each plugin's generation: how many times it was initialized.
    pub(crate) fn generations(&self) -> BTreeMap<String, u64> {
        self.generations
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Serves a router linked into the host under `/api/<id>`.
    pub(crate) fn native(&self, id: &str, router: axum::Router, open_paths: Vec<String>) {
        let native = Native { router, open_paths };
        self.write()
            .insert(id.to_string(), Route::Native(Arc::new(native)));
    }

    /// Keeps a plugin's handler until the plugin has started.
    ///
    /// # Errors
    ///
    /// Returns the reason when the plugin already gave a handler.
    pub(crate) fn stage(
        &self,
        plugin_id: &str,
        handler: HttpHandlerBox,
        open_paths: Vec<String>,
    ) -> Result<(), String> {
        if let Some(path) = open_paths.iter().find(|path| !path.starts_with('/')) {
            return Err(format!(
                "plugin `{plugin_id}` marks `{path}` as open, but open paths start with `/`"
            ));
        }
        let mut routes = self.write();
        match routes.get_mut(plugin_id) {
            Some(Route::Starting(staged @ None)) => {
                let generation = self.generations().get(plugin_id).copied().unwrap_or(1);
                *staged = Some(Arc::new(Served {
                    handler,
                    open_paths,
                    generation,
                }));
                Ok(())
            }
            Some(Route::Starting(Some(_))) => Err(format!(
                "plugin `{plugin_id}` already serves its routes; serve one router"
            )),
            _ => Err(format!(
                "plugin `{plugin_id}` can only serve routes while it initializes"
            )),
        }
    }

    /// Publishes a started plugin's handler.
    pub(crate) fn started(&self, plugin_id: &str) {
        let mut routes = self.write();
        let handler = match routes.get(plugin_id) {
            Some(Route::Starting(handler)) => handler.clone(),
            _ => None,
        };
        routes.insert(plugin_id.to_string(), Route::Ready(handler));
    }

    /// Records why a plugin did not start.
    pub(crate) fn failed(&self, plugin_id: &str, reason: String) {
        self.write().insert(
            plugin_id.to_string(),
            Route::Failed(format!("failed to start: {reason}")),
        );
    }

    /// Takes a running plugin out of service for `reason`, such as a panic
    /// in its code. A plugin still initializing keeps the reason until
    /// [`Routes::take_failed_starting`].
    pub(crate) fn failed_running(&self, plugin_id: &str, reason: String) {
        let mut routes = self.write();
        if let Some(Route::Starting(_)) = routes.get(plugin_id) {
            self.failed_starting
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(plugin_id.to_string(), reason);
            return;
        }
        routes.insert(
            plugin_id.to_string(),
            Route::Failed(format!("failed while running: {reason}")),
        );
    }

    /// Why plugin `plugin_id` failed while it was still initializing, once.
    pub(crate) fn take_failed_starting(&self, plugin_id: &str) -> Option<String> {
        self.failed_starting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(plugin_id)
    }

    /// The route of a plugin, if it is installed.
    pub(crate) fn get(&self, plugin_id: &str) -> Option<Route> {
        self.routes
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(plugin_id)
            .cloned()
    }

    /// Every plugin, whether it is ready, and why it failed if it did.
    pub(crate) fn statuses(&self) -> Vec<(String, &'static str, Option<String>)> {
        let routes = self
            .routes
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        routes
            .iter()
            .map(|(id, route)| {
                let (status, reason) = match route {
                    Route::Starting(_) => ("starting", None),
                    Route::Ready(_) | Route::Native(_) => ("started", None),
                    Route::Failed(reason) => ("failed", Some(reason.clone())),
                };
                (id.clone(), status, reason)
            })
            .collect()
    }

    /// Counts a plugin request as in flight while the guard lives.
    pub(crate) fn enter(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self)
    }

    /// How many plugin requests are being answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// The host's phase.
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Starting,
            1 => Phase::Ready,
            _ => Phase::Stopping,
        }
    }

    /// Moves the host to `phase`.
    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Release);
    }

    fn write_generations(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, u64>> {
        self.generations
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Route>> {
        self.routes
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
