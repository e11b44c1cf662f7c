//! Stage six: initialize every plugin and module in the order resolution
//! decided, in parallel where the plan allows.
//!
//! Each plugin starts once every plugin it depends on has started. Its
//! modules initialize first, wave by wave (a module consuming an extension
//! point before the module providing it), then the plugin itself, then its
//! startup hooks. Every initialization has a timeout; one that does not
//! finish in time is cut off and its future dropped. A failed plugin's
//! dependents are not initialized and say why. Whether a failure aborts the
//! start is the failure policy's call; all plugins settle first either way.

mod generation;
mod host_api;
mod plugin_config;
mod report;

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::future::join_all;
use greenroom_contract::HookBox;
use tokio::sync::watch;
use tracing::Instrument as _;

pub(crate) use generation::NextGeneration;
pub use plugin_config::PluginConfigs;
pub use report::{FeatureStatus, ModuleResult, PluginResult, StartupReport};

use crate::{
    boundary::PluginFuture,
    load::RootModule,
    register::{FeatureSet, PluginId},
    resolve::{Node, Plan},
};
pub(crate) use host_api::emit;
use host_api::{Feature, Shared, SharedHooks, host_for};

/// Decides whether a failed plugin or module may fail without aborting the
/// start (Backstage's `onPluginBootFailure: continue`).
pub type FailurePolicy = Arc<dyn Fn(&Node) -> bool + Send + Sync>;

/// Settings of initialization.
#[derive(Clone)]
pub struct InitOptions {
    /// How long one plugin's or module's initialization may take.
    pub init_timeout: Duration,
    /// How long one lifecycle hook may take.
    pub hook_timeout: Duration,
    /// Which failures do not abort the start.
    pub allow_failure: FailurePolicy,
}

impl Default for InitOptions {
    fn default() -> Self {
        Self {
            init_timeout: Duration::from_secs(30),
            hook_timeout: Duration::from_secs(10),
            allow_failure: Arc::new(|_| false),
        }
    }
}

/// The entry points, declarations and configuration of every feature to
/// initialize.
#[derive(Clone, Default)]
pub struct Features {
    /// The library each plugin and module comes from.
    pub roots: BTreeMap<Node, RootModule>,
    /// What each plugin and module declared at registration.
    pub declared: BTreeMap<Node, FeatureSet>,
    /// Each plugin's configuration, and who to tell when it changes.
    pub config: Arc<PluginConfigs>,
    /// Where plugins' HTTP routes are published.
    pub routes: Arc<crate::serve::Routes>,
    /// The core services the host provides: cache, discovery, clock.
    pub core: CoreServices,
}

/// The core services every plugin reaches through its host handle.
#[derive(Clone)]
pub struct CoreServices {
    /// The cache, one namespace per plugin.
    pub cache: Arc<crate::services::Cache>,
    /// Where each plugin's routes are reached.
    pub discovery: Arc<crate::services::Discovery>,
    /// Where the cache and the scheduler read the time.
    pub clock: Arc<dyn crate::services::Clock>,
    /// Plugins' scheduled tasks.
    pub scheduler: Arc<crate::services::Scheduler>,
    /// Where plugins' databases live.
    pub database: Arc<crate::services::DatabaseClient>,
}

impl Default for CoreServices {
    fn default() -> Self {
        let clock: Arc<dyn crate::services::Clock> =
            Arc::new(crate::services::SystemClock::default());
        Self {
            cache: Arc::default(),
            discovery: Arc::default(),
            scheduler: crate::services::Scheduler::new(clock.clone(), Duration::from_secs(10)),
            database: Arc::default(),
            clock,
        }
    }
}

/// What initialization left running.
pub struct Initialized {
    /// What happened to every plugin and module.
    pub report: StartupReport,
    hooks: BTreeMap<PluginId, SharedHooks>,
    plan: Plan,
    features: Arc<Features>,
    shared: Shared,
    options: InitOptions,
}

/// Initializes every plugin of `plan`.
pub async fn initialize(plan: &Plan, features: Features, options: InitOptions) -> Initialized {
    let started = Instant::now();
    let shared = Shared {
        services: Default::default(),
        routes: features.routes.clone(),
        core: features.core.clone(),
        instance: Arc::new(instance_metadata(plan)),
        root_hooks: Arc::default(),
        staging: None,
    };
    shared
        .routes
        .starting(plan.plugins.keys().map(ToString::to_string));
    shared.core.scheduler.on_panic(panic_handler(&shared));
    features.config.on_panic(panic_handler(&shared));
    shared.core.scheduler.start();
    let features = Arc::new(features);
    let mut done: BTreeMap<PluginId, watch::Sender<Option<bool>>> = BTreeMap::new();
    for id in plan.plugins.keys() {
        done.insert(id.clone(), watch::channel(None).0);
    }
    let pending = Arc::new(Mutex::new(
        plan.plugins.keys().cloned().collect::<BTreeSet<_>>(),
    ));
    let progress = tokio::spawn(report_progress(pending.clone(), started));

    let mut tasks = tokio::task::JoinSet::new();
    let mut hooks = BTreeMap::new();
    for (id, plugin) in &plan.plugins {
        let plugin_hooks = SharedHooks::default();
        hooks.insert(id.clone(), plugin_hooks.clone());
        let dependencies: Vec<(PluginId, watch::Receiver<Option<bool>>)> = plugin
            .after
            .iter()
            .map(|dependency| (dependency.clone(), done[dependency].subscribe()))
            .collect();
        let job = PluginJob {
            id: id.clone(),
            module_waves: plugin.module_waves.clone(),
            features: features.clone(),
            options: options.clone(),
            hooks: plugin_hooks,
            shared: shared.clone(),
        };
        let finished = done[id].clone();
        let pending = pending.clone();
        let span = tracing::info_span!("plugin", plugin_id = %id, plugin_version = %plugin.version);
        tasks.spawn(
            async move {
                let result = job.run(dependencies).await;
                finished.send_replace(Some(result.status == FeatureStatus::Started));
                pending
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .remove(&job.id);
                result
            }
            .instrument(span),
        );
    }

    let mut plugins = Vec::new();
    while let Some(result) = tasks.join_next().await {
        match result {
            Ok(result) => plugins.push(result),
            Err(error) => tracing::error!(%error, "a plugin's initialization task failed"),
        }
    }
    progress.abort();
    plugins.sort_by(|left, right| left.plugin_id.cmp(&right.plugin_id));
    let report = StartupReport::new(plugins, started.elapsed());
    report.log();
    if report.ok {
        let startup = std::mem::take(&mut lock(&shared.root_hooks).startup);
        run_root_hooks("startup", startup, options.hook_timeout).await;
    }
    Initialized {
        report,
        hooks,
        plan: plan.clone(),
        features,
        shared,
        options,
    }
}

/// What the host runs, for plugins asking through the instance metadata
/// service.
fn instance_metadata(plan: &Plan) -> String {
    let plugins: Vec<serde_json::Value> = plan
        .plugins
        .iter()
        .map(|(id, plugin)| {
            let modules: Vec<&str> = plugin.module_waves.iter().flatten().map(PluginId::as_str).collect();
            serde_json::json!({ "id": id, "version": plugin.version.to_string(), "modules": modules })
        })
        .collect();
    serde_json::json!({ "plugins": plugins }).to_string()
}

/// Logs which plugins are still initializing, at growing intervals.
async fn report_progress(pending: Arc<Mutex<BTreeSet<PluginId>>>, started: Instant) {
    let (mut wait, mut next) = (Duration::from_secs(1), Duration::from_secs(1));
    loop {
        tokio::time::sleep(wait).await;
        let names: Vec<String> = pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(ToString::to_string)
            .collect();
        tracing::info!(
            elapsed_s = started.elapsed().as_secs(),
            "still initializing: {}",
            names.join(", ")
        );
        (wait, next) = (next, (wait + next).min(Duration::from_secs(60)));
    }
}

/// Everything needed to initialize one plugin and its modules.
struct PluginJob {
    id: PluginId,
    module_waves: Vec<Vec<PluginId>>,
    features: Arc<Features>,
    options: InitOptions,
    hooks: SharedHooks,
    shared: Shared,
}

impl PluginJob {
    async fn run(
        &self,
        dependencies: Vec<(PluginId, watch::Receiver<Option<bool>>)>,
    ) -> PluginResult {
        for (dependency, mut done) in dependencies {
            let started = done
                .wait_for(Option::is_some)
                .await
                .is_ok_and(|value| *value == Some(true));
            if !started {
                let reason = format!(
                    "not initialized: it depends on plugin `{dependency}`, which did not start"
                );
                tracing::warn!("{reason}");
                self.shared.routes.failed(self.id.as_str(), reason.clone());
                let mut skipped = PluginResult::skipped(&self.id, reason);
                skipped.failure_allowed =
                    (self.options.allow_failure)(&Node::Plugin(self.id.clone()));
                return skipped;
            }
        }

        // What the modules registered last time this plugin started is
        // theirs to register again.
        self.shared
            .services
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .forget_extensions(self.id.as_str());
        let mut modules = Vec::new();
        for wave in &self.module_waves {
            let runs = wave.iter().map(|module| self.run_module(module));
            modules.extend(join_all(runs).await);
        }

        let node = Node::Plugin(self.id.clone());
        let clock = Instant::now();
        let outcome = self.init(&node).await;
        // A task it started during its initialization may have panicked.
        let outcome = match (
            outcome,
            self.shared.routes.take_failed_starting(self.id.as_str()),
        ) {
            (Ok(()), Some(reason)) => Err(format!("{reason}, during its initialization")),
            (outcome, _) => outcome,
        };
        let mut result = PluginResult::finished(&self.id, outcome, clock.elapsed(), modules);
        result.failure_allowed = (self.options.allow_failure)(&node);
        if result.status == FeatureStatus::Started {
            self.shared.routes.started(self.id.as_str());
            if let Some(panic) = self.run_startup_hooks().await {
                let reason = format!("a startup hook {panic}");
                tracing::error!("plugin `{}` is marked failed: {reason}", self.id);
                self.shared
                    .core
                    .scheduler
                    .remove_generation(self.id.as_str(), self.shared.staging);
                self.shared.routes.failed(self.id.as_str(), reason.clone());
                result.status = FeatureStatus::Failed;
                result.error = Some(reason);
            }
        } else {
            let reason = result.error.clone().unwrap_or_default();
            self.shared.routes.failed(self.id.as_str(), reason);
        }
        result
    }

    async fn run_module(&self, module: &PluginId) -> ModuleResult {
        let node = Node::Module(self.id.clone(), module.clone());
        let clock = Instant::now();
        let outcome = self.init(&node).await;
        let mut result = ModuleResult::finished(module, outcome, clock.elapsed());
        result.failure_allowed = (self.options.allow_failure)(&node);
        result
    }

    /// Runs one feature's initialization with the timeout.
    async fn init(&self, node: &Node) -> Result<(), String> {
        let Some(root) = self.features.roots.get(node) else {
            return Ok(());
        };
        let Some(init) = root.init() else {
            tracing::info!(
                "{node} was built against an interface without initialization; nothing to run"
            );
            return Ok(());
        };
        let feature = Feature {
            node: node.clone(),
            declared: self
                .features
                .declared
                .get(node)
                .cloned()
                .unwrap_or_default(),
            config: self.features.config.clone(),
            span: tracing::Span::current(),
            initializing: Arc::new(AtomicBool::new(true)),
        };
        let initializing = feature.initializing.clone();
        let declared = feature.declared.clone();
        let host = host_for(feature, self.hooks.clone(), self.shared.clone());
        let timeout = self.options.init_timeout;
        let outcome = tokio::time::timeout(timeout, PluginFuture(init(host))).await;
        initializing.store(false, Ordering::SeqCst);
        outcome.unwrap_or_else(|_| {
            Err(format!(
                "initialization did not finish within {} s and was cut off",
                timeout.as_secs_f32()
            ))
        })?;
        self.check_provided(node, &declared)
    }

    /// Checks that `node` provided the services it declared. Its consumers
    /// would be told so when they ask; but a plugin declaring a host service
    /// and not providing it would leave them the host's without a word,
    /// so that fails the plugin.
    fn check_provided(&self, node: &Node, declared: &FeatureSet) -> Result<(), String> {
        let services = self
            .shared
            .services
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for service in services.unprovided(node, declared) {
            let id = service.id.as_str();
            let role = if service.wraps { "wraps" } else { "provides" };
            let message = format!(
                "{node} declared that it {role} service `{id}` but did not provide it during \
                 initialization; call context.provide(\"{id}\", \"{}\", ..) in its init",
                service.version
            );
            if greenroom_contract::REPLACEABLE_SERVICES.contains(&id) {
                return Err(message);
            }
            tracing::warn!("{message}");
        }
        Ok(())
    }

    /// Runs the plugin's startup hooks. An error is logged and the plugin
    /// goes on; a panic stops the rest and is returned, since the plugin's
    /// state can no longer be trusted.
    async fn run_startup_hooks(&self) -> Option<String> {
        let startup =
            std::mem::take(&mut self.hooks.lock().unwrap_or_else(|p| p.into_inner()).startup);
        for hook in startup {
            match run_hook(hook, self.options.hook_timeout).await {
                Err(error) if crate::boundary::is_panic(&error) => return Some(error),
                Err(error) => {
                    tracing::error!(%error, "a startup hook of plugin `{}` failed", self.id);
                }
                Ok(()) => {}
            }
        }
        None
    }
}

impl Initialized {
    /// Runs every plugin's shutdown hooks, dependents before what they
    /// depend on, each hook within the hook timeout; returns the failures.
    pub async fn shut_down(self) -> Vec<String> {
        let before = std::mem::take(&mut lock(&self.shared.root_hooks).before_shutdown);
        let mut failures =
            run_root_hooks("before-shutdown", before, self.options.hook_timeout).await;
        self.shared.core.scheduler.stop();
        for wave in self.plan.waves.iter().rev() {
            let runs = wave.iter().map(|id| self.run_shutdown_hooks(id));
            failures.extend(join_all(runs).await.into_iter().flatten());
        }
        let root = std::mem::take(&mut lock(&self.shared.root_hooks).shutdown);
        failures.extend(run_root_hooks("shutdown", root, self.options.hook_timeout).await);
        failures
    }

    /// Shuts one plugin down (its shutdown hooks) and initializes it and its
    /// modules again inside the libraries already loaded, as a reload of
    /// something it depends on needs. Its routes answer 503 meanwhile.
    ///
    /// # Errors
    ///
    /// Returns an error when `plugin_id` is not part of the plan.
    pub async fn restart(&mut self, plugin_id: &str) -> Result<PluginResult, String> {
        let (id, plugin) = self
            .plan
            .plugins
            .get_key_value(plugin_id)
            .map(|(id, plugin)| (id.clone(), plugin.clone()))
            .ok_or_else(|| format!("plugin `{plugin_id}` is not running here"))?;
        self.shared.routes.starting([id.to_string()]);
        self.shared.core.scheduler.remove_plugin(id.as_str());
        let failures = self.run_shutdown_hooks(&id).await;
        if !failures.is_empty() {
            tracing::warn!(
                plugin_id,
                failures = failures.len(),
                "shutdown hooks failed before a restart"
            );
        }

        let hooks = SharedHooks::default();
        self.hooks.insert(id.clone(), hooks.clone());
        let job = PluginJob {
            id: id.clone(),
            module_waves: plugin.module_waves.clone(),
            features: self.features.clone(),
            options: self.options.clone(),
            hooks,
            shared: self.shared.clone(),
        };
        let span = tracing::info_span!("plugin", plugin_id = %id, plugin_version = %plugin.version);
        let result = job.run(Vec::new()).instrument(span).await;
        tracing::info!(plugin_id, status = ?result.status, "plugin restarted");
        if let Some(slot) = self
            .report
            .plugins
            .iter_mut()
            .find(|old| old.plugin_id == id)
        {
            *slot = result.clone();
        }
        Ok(result)
    }

    async fn run_shutdown_hooks(&self, id: &PluginId) -> Vec<String> {
        let hooks = self.hooks.get(id).cloned().unwrap_or_default();
        let shutdown =
            std::mem::take(&mut hooks.lock().unwrap_or_else(|p| p.into_inner()).shutdown);
        let mut failures = Vec::new();
        for hook in shutdown.into_iter().rev() {
            if let Err(error) = run_hook(hook, self.options.hook_timeout).await {
                tracing::error!(plugin_id = %id, %error, "a shutdown hook failed");
                failures.push(format!("plugin `{id}`: shutdown hook: {error}"));
            }
        }
        failures
    }
}

/// Runs root hooks one after the other, last registered first for the
/// shutdown moments; returns the failures, which are also logged.
async fn run_root_hooks(moment: &str, mut hooks: Vec<HookBox>, timeout: Duration) -> Vec<String> {
    if moment != "startup" {
        hooks.reverse();
    }
    let mut failures = Vec::new();
    for hook in hooks {
        if let Err(error) = run_hook(hook, timeout).await {
            tracing::error!(%error, "a root {moment} hook failed");
            failures.push(format!("root {moment} hook: {error}"));
        }
    }
    failures
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the host does when a running plugin's scheduled task or
/// configuration subscriber panics: the plugin's state can no longer be
/// trusted, so its routes answer 503 with the reason and its tasks stop,
/// until it is reloaded or the host restarts; every other plugin goes on.
fn panic_handler(shared: &Shared) -> crate::services::PanicHandler {
    let routes = shared.routes.clone();
    let scheduler = Arc::downgrade(&shared.core.scheduler);
    Arc::new(move |plugin_id: &str, reason: String| {
        tracing::error!(
            "plugin `{plugin_id}` is marked failed: {reason}; its routes answer 503 until it is \
             reloaded or the host restarts"
        );
        routes.failed_running(plugin_id, reason);
        // Only the running generation's tasks panic here; a new generation
        // initializing beside it keeps its own, which start at its swap.
        if let Some(scheduler) = scheduler.upgrade() {
            scheduler.remove_generation(plugin_id, None);
        }
    })
}

async fn run_hook(mut hook: HookBox, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, PluginFuture(hook.run())).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!(
            "did not finish within {} s and was cut off",
            timeout.as_secs_f32()
        )),
    }
}
