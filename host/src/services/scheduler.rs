//! The scheduler: runs plugins' tasks every so often or on a cron pattern,
//! on the host's [`Clock`], and stops a plugin's tasks when it shuts down.
//!
//! A driver checks for due tasks a few times a second. A task that is
//! still running when it falls due again is not started twice; a run that
//! takes longer than its timeout is cut off.
//!
//! A new generation of a plugin schedules its tasks staged: they wait
//! while the old generation's tasks go on running, and replace them all at
//! the swap, or vanish if the new generation fails to start.

use std::{
    str::FromStr as _,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime},
};

use croner::Cron;
use greenroom_contract::{TaskBox, TaskSchedule};
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use super::Clock;
use crate::boundary::PluginFuture;

/// How often the driver looks for due tasks.
const TICK: Duration = Duration::from_millis(20);

/// When a task runs.
enum Frequency {
    Every(Duration),
    Cron(Box<Cron>),
}

struct Scheduled {
    plugin_id: String,
    id: String,
    frequency: Frequency,
    next: Duration,
    timeout: Duration,
    task: Arc<TaskBox>,
    running: Option<JoinHandle<()>>,
    span: tracing::Span,
    /// The staging a new generation's task waits in until the swap.
    staged: Option<Staging>,
}

impl Scheduled {
    fn abort(&self) {
        if let Some(running) = &self.running {
            running.abort();
        }
    }
}

/// The tasks a new generation scheduled, waiting for its swap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Staging(u64);

/// What the host does when a plugin's task panics, given the plugin's id
/// and what happened.
pub(crate) type PanicHandler = Arc<dyn Fn(&str, String) + Send + Sync>;

/// Every plugin's scheduled tasks.
pub struct Scheduler {
    clock: Arc<dyn Clock>,
    default_timeout: Duration,
    tasks: Mutex<Vec<Scheduled>>,
    driver: Mutex<Option<JoinHandle<()>>>,
    stagings: AtomicU64,
    on_panic: Mutex<Option<PanicHandler>>,
}

impl Scheduler {
    /// A scheduler reading `clock`, cutting runs off after `default_timeout`
    /// unless a task says otherwise.
    pub fn new(clock: Arc<dyn Clock>, default_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            clock,
            default_timeout,
            tasks: Mutex::default(),
            driver: Mutex::default(),
            stagings: AtomicU64::new(0),
            on_panic: Mutex::default(),
        })
    }

    /// Calls `handler` each time a task panics (after logging it).
    pub(crate) fn on_panic(&self, handler: PanicHandler) {
        *lock(&self.on_panic) = Some(handler);
    }

    /// Starts the driver on the current tokio runtime.
    pub fn start(self: &Arc<Self>) {
        let scheduler = Arc::downgrade(self);
        let driver = tokio::spawn(async move {
            loop {
                tokio::time::sleep(TICK).await;
                let Some(scheduler) = scheduler.upgrade() else {
                    return;
                };
                scheduler.run_due();
            }
        });
        *lock(&self.driver) = Some(driver);
    }

    /// Adds (or replaces) a plugin's task; with `staged`, one that waits for
    /// [`Scheduler::commit`].
    ///
    /// # Errors
    ///
    /// Returns the reason when the schedule is not valid.
    pub(crate) fn add(
        &self,
        plugin_id: &str,
        schedule: &TaskSchedule,
        task: TaskBox,
        span: tracing::Span,
        staged: Option<Staging>,
    ) -> Result<(), String> {
        let id = schedule.id.to_string();
        let frequency = match (schedule.every_ms, schedule.cron.as_str()) {
            (0, "") => {
                return Err(format!(
                    "task `{id}` has neither an interval nor a cron pattern"
                ));
            }
            (every, "") => Frequency::Every(Duration::from_millis(every)),
            (0, pattern) => {
                Frequency::Cron(Box::new(Cron::from_str(pattern).map_err(|error| {
                    format!("task `{id}` has an invalid cron pattern `{pattern}`: {error}")
                })?))
            }
            _ => {
                return Err(format!(
                    "task `{id}` has both an interval and a cron pattern"
                ));
            }
        };
        let now = self.clock.now();
        let next = match &frequency {
            Frequency::Every(_) => now + Duration::from_millis(schedule.initial_delay_ms),
            Frequency::Cron(cron) => next_cron(cron, &*self.clock).unwrap_or(Duration::MAX),
        };
        let timeout = match schedule.timeout_ms {
            0 => self.default_timeout,
            millis => Duration::from_millis(millis),
        };
        let mut tasks = lock(&self.tasks);
        tasks.retain(|old| {
            let replaced = old.plugin_id == plugin_id && old.id == id && old.staged == staged;
            if replaced {
                old.abort();
            }
            !replaced
        });
        tasks.push(Scheduled {
            plugin_id: plugin_id.to_string(),
            id,
            frequency,
            next,
            timeout,
            task: Arc::new(task),
            running: None,
            span,
            staged,
        });
        Ok(())
    }

    /// A new staging for the tasks of a generation about to initialize.
    pub(crate) fn stage(&self) -> Staging {
        Staging(self.stagings.fetch_add(1, Ordering::Relaxed))
    }

    /// Swaps in the tasks of `staging`: every running task of `plugin_ids`
    /// stops and is forgotten, and the staged ones start to run.
    pub(crate) fn commit(&self, staging: Staging, plugin_ids: &[String]) {
        let mut tasks = lock(&self.tasks);
        tasks.retain(|task| {
            let old = task.staged.is_none() && plugin_ids.contains(&task.plugin_id);
            if old {
                task.abort();
            }
            !old
        });
        for task in tasks.iter_mut() {
            if task.staged == Some(staging) {
                task.staged = None;
            }
        }
    }

    /// Forgets the tasks of a `staging` whose generation did not start.
    pub(crate) fn discard(&self, staging: Staging) {
        lock(&self.tasks).retain(|task| task.staged != Some(staging));
    }

    /// Stops and forgets the tasks of one generation of a plugin: the
    /// running one (`staged` is `None`) or one waiting in a staging; the
    /// other generation's go on.
    pub(crate) fn remove_generation(&self, plugin_id: &str, staged: Option<Staging>) {
        lock(&self.tasks).retain(|task| {
            let removed = task.plugin_id == plugin_id && task.staged == staged;
            if removed {
                task.abort();
            }
            !removed
        });
    }

    /// Stops and forgets a plugin's tasks (at its shutdown or restart).
    pub fn remove_plugin(&self, plugin_id: &str) {
        lock(&self.tasks).retain(|task| {
            let removed = task.plugin_id == plugin_id;
            if removed {
                task.abort();
            }
            !removed
        });
    }

    /// Stops the driver and every task.
    pub fn stop(&self) {
        if let Some(driver) = lock(&self.driver).take() {
            driver.abort();
        }
        for task in lock(&self.tasks).drain(..) {
            if let Some(running) = task.running {
                running.abort();
            }
        }
    }

    fn run_due(&self) {
        let now = self.clock.now();
        let mut tasks = lock(&self.tasks);
        for task in tasks.iter_mut() {
            if task.staged.is_some()
                || task.next > now
                || task
                    .running
                    .as_ref()
                    .is_some_and(|running| !running.is_finished())
            {
                continue;
            }
            task.next = match &task.frequency {
                Frequency::Every(period) => now + *period,
                Frequency::Cron(cron) => next_cron(cron, &*self.clock).unwrap_or(Duration::MAX),
            };
            let (body, timeout, span) = (task.task.clone(), task.timeout, task.span.clone());
            let (plugin_id, id) = (task.plugin_id.clone(), task.id.clone());
            let on_panic = lock(&self.on_panic).clone();
            let run = async move {
                match tokio::time::timeout(timeout, PluginFuture(body.run())).await {
                    Ok(Ok(())) => tracing::debug!(plugin_id, task = id, "scheduled task ran"),
                    Ok(Err(error)) => {
                        tracing::error!(plugin_id, task = id, %error, "scheduled task failed");
                        if crate::boundary::is_panic(&error)
                            && let Some(on_panic) = on_panic
                        {
                            on_panic(&plugin_id, format!("its scheduled task `{id}` {error}"));
                        }
                    }
                    Err(_) => {
                        tracing::error!(plugin_id, task = id, "scheduled task was cut off");
                    }
                }
            };
            task.running = Some(tokio::spawn(run.instrument(span)));
        }
    }
}

/// The clock time of a cron pattern's next occurrence after now.
fn next_cron(cron: &Cron, clock: &dyn Clock) -> Option<Duration> {
    let wall: chrono::DateTime<chrono::Utc> = clock.wall().into();
    let next = cron.find_next_occurrence(&wall, false).ok()?;
    let ahead = (next - wall).to_std().ok()?;
    Some(clock.now() + ahead)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The wall-clock time a [`crate::services::ManualClock`] starts at:
/// 2026-01-01T00:00:00Z.
pub(super) const MANUAL_EPOCH: Duration = Duration::from_secs(1_767_225_600);

/// `SystemTime` for a clock reading, from `start`.
pub(super) fn wall_at(start: SystemTime, elapsed: Duration) -> SystemTime {
    start + elapsed
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use abi_stable::{
        sabi_trait::TD_Opaque,
        std_types::{RResult, RString},
    };
    use async_ffi::{FfiFuture, FutureExt as _};
    use greenroom_contract::{PluginError, host::Task_TO};

    use super::*;
    use crate::services::ManualClock;

    /// A task that counts its runs.
    struct Counting(Arc<AtomicU32>);

    impl greenroom_contract::host::Task for Counting {
        fn run(&self) -> FfiFuture<RResult<(), PluginError>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            async { RResult::ROk(()) }.into_ffi()
        }
    }

    fn every_second(id: &str) -> TaskSchedule {
        TaskSchedule {
            id: RString::from(id),
            every_ms: 1000,
            cron: RString::new(),
            initial_delay_ms: 0,
            timeout_ms: 0,
        }
    }

    /// Adds a counting task `id` of plugin `web`, returning its run count.
    fn add(scheduler: &Scheduler, id: &str, staged: Option<Staging>) -> Arc<AtomicU32> {
        let runs = Arc::new(AtomicU32::new(0));
        let task = Task_TO::from_value(Counting(runs.clone()), TD_Opaque);
        scheduler
            .add(
                "web",
                &every_second(id),
                task,
                tracing::Span::none(),
                staged,
            )
            .expect("the schedule is valid");
        runs
    }

    /// Lets every task that falls due run once.
    async fn tick(scheduler: &Scheduler, clock: &ManualClock) {
        clock.advance(Duration::from_secs(1));
        scheduler.run_due();
        tokio::task::yield_now().await;
    }

    fn counts(runs: &[&Arc<AtomicU32>]) -> Vec<u32> {
        runs.iter()
            .map(|runs| runs.load(Ordering::SeqCst))
            .collect()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_new_generation_s_tasks_replace_every_old_one_at_the_swap() {
        let clock = Arc::new(ManualClock::default());
        let scheduler = Scheduler::new(clock.clone(), Duration::from_secs(5));
        let old_only = add(&scheduler, "old-only", None);
        let old_shared = add(&scheduler, "shared", None);

        let staging = scheduler.stage();
        let new_shared = add(&scheduler, "shared", Some(staging));
        let new_only = add(&scheduler, "new-only", Some(staging));
        tick(&scheduler, &clock).await;
        let all = [&old_only, &old_shared, &new_shared, &new_only];
        assert_eq!(counts(&all), [1, 1, 0, 0], "staged tasks wait");

        scheduler.commit(staging, &["web".to_string()]);
        tick(&scheduler, &clock).await;
        assert_eq!(counts(&all), [1, 1, 1, 1], "only the new tasks run");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_failed_generation_leaves_the_old_tasks_running() {
        let clock = Arc::new(ManualClock::default());
        let scheduler = Scheduler::new(clock.clone(), Duration::from_secs(5));
        let old = add(&scheduler, "shared", None);
        let staging = scheduler.stage();
        let new = add(&scheduler, "shared", Some(staging));

        scheduler.discard(staging);
        tick(&scheduler, &clock).await;
        tick(&scheduler, &clock).await;
        assert_eq!(counts(&[&old, &new]), [2, 0]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn removing_one_generation_s_tasks_leaves_the_other_s() {
        let clock = Arc::new(ManualClock::default());
        let scheduler = Scheduler::new(clock.clone(), Duration::from_secs(5));
        let old = add(&scheduler, "shared", None);
        let staging = scheduler.stage();
        let new = add(&scheduler, "shared", Some(staging));

        // The new generation failed (a startup hook panicked): the old
        // generation's task goes on.
        scheduler.remove_generation("web", Some(staging));
        tick(&scheduler, &clock).await;
        assert_eq!(counts(&[&old, &new]), [1, 0]);

        // The old generation's task panicked while a new one initialized:
        // the new one's runs after its swap.
        let staging = scheduler.stage();
        let newer = add(&scheduler, "shared", Some(staging));
        scheduler.remove_generation("web", None);
        scheduler.commit(staging, &["web".to_string()]);
        tick(&scheduler, &clock).await;
        assert_eq!(counts(&[&old, &new, &newer]), [1, 0, 1]);
    }
}
