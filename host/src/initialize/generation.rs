//! A new generation of some plugins, initialized beside the running one
//! and swapped in when all of it started.
//!
//! While both generations live, the new one sees the services the old one
//! provided until its own providers replace them; at the swap the new
//! generation's services and routes replace the old ones in one step, so a
//! plugin initialized after the swap only ever sees the new ones. Requests
//! already answered by the old generation keep its handler until they end;
//! then the old generation's shutdown hooks run, dependents first.
//!
//! What two live generations of a plugin share:
//! - scheduled tasks: the new generation's wait while the old ones run,
//!   and replace all of them at the swap; a generation that fails to start
//!   leaves the old tasks running;
//! - the cache belongs to the plugin and carries over;
//! - the database is the plugin's, so both generations use the same one:
//!   the new one initializes (and migrates) while the old one still
//!   answers, so a migration must keep working for the old code until the
//!   swap and the drain are over.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::future::join_all;
use tracing::Instrument as _;

use super::host_api::Shared;
use super::{Features, Initialized, PluginJob, PluginResult, SharedHooks, report::FeatureStatus};
use crate::{
    load::RootModule,
    register::{FeatureSet, PluginId},
    resolve::{Node, Plan},
};

/// What a new generation runs: the plan of the whole set after the change,
/// every feature's entry points, and the plugins whose library changed.
pub(crate) struct NextGeneration {
    /// The plan of every plugin, the changed ones included.
    pub(crate) plan: Plan,
    /// The library each plugin and module comes from.
    pub(crate) roots: BTreeMap<Node, RootModule>,
    /// What each plugin and module declared.
    pub(crate) declared: BTreeMap<Node, FeatureSet>,
    /// The plugins whose library was added or replaced.
    pub(crate) changed: BTreeSet<PluginId>,
}

impl Initialized {
    /// Initializes the changed plugins and every plugin depending on them
    /// (inside their loaded libraries) beside the running generation, swaps
    /// their routes and services in, waits up to `drain` for requests the
    /// old generation is answering, then runs its shutdown hooks. Returns
    /// the plugins of the new generation.
    ///
    /// # Errors
    ///
    /// Returns every failure when a plugin of the new generation did not
    /// start; the old generation keeps serving and the new one's shutdown
    /// hooks run.
    pub(crate) async fn next_generation(
        &mut self,
        next: NextGeneration,
        drain: Duration,
    ) -> Result<Vec<PluginId>, String> {
        let waves = affected_waves(&next.plan, &next.changed);
        let ids: Vec<String> = waves.iter().flatten().map(ToString::to_string).collect();
        let live = self.shared.routes.clone();
        let staging = Shared {
            services: Arc::new(Mutex::new(lock(&self.shared.services).clone())),
            routes: Arc::new(live.staging(ids.clone())),
            core: self.shared.core.clone(),
            instance: Arc::new(super::instance_metadata(&next.plan)),
            root_hooks: self.shared.root_hooks.clone(),
            staging: Some(self.shared.core.scheduler.stage()),
        };
        let features = Arc::new(Features {
            roots: next.roots,
            declared: next.declared,
            config: self.features.config.clone(),
            routes: live.clone(),
            core: self.features.core.clone(),
        });

        let mut hooks = BTreeMap::new();
        let mut results = Vec::new();
        for wave in &waves {
            let jobs: Vec<PluginJob> = wave
                .iter()
                .map(|id| {
                    let plugin_hooks = SharedHooks::default();
                    hooks.insert(id.clone(), plugin_hooks.clone());
                    PluginJob {
                        id: id.clone(),
                        module_waves: next.plan.plugins[id].module_waves.clone(),
                        features: features.clone(),
                        options: self.options.clone(),
                        hooks: plugin_hooks,
                        shared: staging.clone(),
                    }
                })
                .collect();
            let runs = jobs.iter().map(|job| {
                let version = &next.plan.plugins[&job.id].version;
                let span =
                    tracing::info_span!("plugin", plugin_id = %job.id, plugin_version = %version);
                job.run(Vec::new()).instrument(span)
            });
            let wave_results = join_all(runs).await;
            let failed = wave_results
                .iter()
                .any(|result| result.status != FeatureStatus::Started);
            results.extend(wave_results);
            if failed {
                let reasons = failures(&results);
                if let Some(staging) = staging.staging {
                    self.shared.core.scheduler.discard(staging);
                }
                let new = Generation { waves, hooks };
                new.shut_down(self.options.hook_timeout).await;
                return Err(reasons);
            }
        }

        let replaced = live.swap_in(&staging.routes, &ids);
        if let Some(tasks) = staging.staging {
            self.shared.core.scheduler.commit(tasks, &ids);
        }
        let services = std::mem::take(&mut *lock(&staging.services));
        *lock(&self.shared.services) = services;
        let old_hooks: BTreeMap<PluginId, SharedHooks> = hooks
            .iter()
            .filter_map(|(id, new)| Some((id.clone(), self.hooks.insert(id.clone(), new.clone())?)))
            .collect();
        self.plan = next.plan;
        self.features = features;
        self.record(results);
        tracing::info!(plugins = %ids.join(", "), "new generation serving");

        wait_for_requests(&replaced, drain).await;
        let old = Generation {
            waves: waves.clone(),
            hooks: old_hooks,
        };
        old.shut_down(self.options.hook_timeout).await;
        Ok(waves.into_iter().flatten().collect())
    }

    /// Stops the plugins in `plugin_ids`, whose library was removed: their
    /// routes go (404), their services are forgotten, their shutdown hooks
    /// run. `plan` is the plan of what remains.
    pub(crate) async fn remove(&mut self, plugin_ids: &[String], plan: Plan, drain: Duration) {
        let mut replaced = Vec::new();
        for id in plugin_ids {
            replaced.extend(self.shared.routes.remove(id));
        }
        lock(&self.shared.services).forget(plugin_ids);
        for id in plugin_ids {
            self.shared.core.scheduler.remove_plugin(id);
        }
        wait_for_requests(&replaced, drain).await;
        let waves: Vec<Vec<PluginId>> = self
            .plan
            .waves
            .iter()
            .map(|wave| {
                let removed = wave
                    .iter()
                    .filter(|id| plugin_ids.contains(&id.to_string()));
                removed.cloned().collect()
            })
            .collect();
        let hooks = plugin_ids
            .iter()
            .filter_map(|id| self.hooks.remove_entry(id.as_str()))
            .collect();
        Generation { waves, hooks }
            .shut_down(self.options.hook_timeout)
            .await;
        self.report
            .plugins
            .retain(|plugin| !plugin_ids.contains(&plugin.plugin_id.to_string()));
        self.plan = plan;
    }

    /// Puts the results of a new generation in the report.
    fn record(&mut self, results: Vec<PluginResult>) {
        for result in results {
            let slot = self
                .report
                .plugins
                .iter_mut()
                .find(|old| old.plugin_id == result.plugin_id);
            match slot {
                Some(slot) => *slot = result,
                None => self.report.plugins.push(result),
            }
        }
        self.report
            .plugins
            .sort_by(|left, right| left.plugin_id.cmp(&right.plugin_id));
    }
}

/// The hooks of one generation of some plugins, in initialization order.
struct Generation {
    waves: Vec<Vec<PluginId>>,
    hooks: BTreeMap<PluginId, SharedHooks>,
}

impl Generation {
    /// Runs the shutdown hooks, dependents first.
    async fn shut_down(self, timeout: Duration) {
        for wave in self.waves.iter().rev() {
            let runs = wave.iter().filter_map(|id| {
                let hooks = self.hooks.get(id)?;
                let shutdown = std::mem::take(&mut lock(hooks).shutdown);
                let span = tracing::info_span!("plugin", plugin_id = %id);
                Some(
                    async move {
                        for hook in shutdown.into_iter().rev() {
                            if let Err(error) = super::run_hook(hook, timeout).await {
                                tracing::error!(%error, "a shutdown hook failed");
                            }
                        }
                    }
                    .instrument(span),
                )
            });
            join_all(runs).await;
        }
    }
}

/// The waves of `plan` cut down to `changed` and every plugin depending on
/// one of them, directly or not.
fn affected_waves(plan: &Plan, changed: &BTreeSet<PluginId>) -> Vec<Vec<PluginId>> {
    let mut affected = changed.clone();
    for wave in &plan.waves {
        for id in wave {
            let plugin = &plan.plugins[id];
            if plugin.after.iter().any(|after| affected.contains(after)) {
                affected.insert(id.clone());
            }
        }
    }
    plan.waves
        .iter()
        .map(|wave| {
            wave.iter()
                .filter(|id| affected.contains(*id))
                .cloned()
                .collect()
        })
        .filter(|wave: &Vec<PluginId>| !wave.is_empty())
        .collect()
}

fn failures(results: &[PluginResult]) -> String {
    let lines: Vec<String> = results
        .iter()
        .filter(|result| result.status != FeatureStatus::Started)
        .map(|result| {
            let error = result
                .error
                .clone()
                .unwrap_or_else(|| "a module failed".into());
            format!("plugin `{}`: {error}", result.plugin_id)
        })
        .collect();
    lines.join("; ")
}

/// Waits until no request holds one of the `replaced` handlers, or `drain`
/// has passed.
async fn wait_for_requests(replaced: &[crate::serve::Route], drain: Duration) {
    let deadline = tokio::time::Instant::now() + drain;
    let busy = || {
        replaced
            .iter()
            .filter(|route| route.handler_in_use())
            .count()
    };
    while busy() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if busy() > 0 {
        tracing::warn!("requests to the old generation still ran when the drain timeout ran out");
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
