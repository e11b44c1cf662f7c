//! The scheduler: runs plugins' tasks every so often or on a cron pattern,
//! on the host's [`Clock`], and stops a plugin's tasks when it shuts down.
//!
//! A driver checks for due tasks a few times a second. A task that is
//! still running when it falls due again is not started twice; a run that
//! takes longer than its timeout is cut off.

use std::{
    str::FromStr as _,
    sync::{Arc, Mutex},
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
}

/// Every plugin's scheduled tasks.
pub struct Scheduler {
    clock: Arc<dyn Clock>,
    default_timeout: Duration,
    tasks: Mutex<Vec<Scheduled>>,
    driver: Mutex<Option<JoinHandle<()>>>,
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
        })
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

    /// Adds (or replaces) a plugin's task.
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
        tasks.retain(|old| !(old.plugin_id == plugin_id && old.id == id));
        tasks.push(Scheduled {
            plugin_id: plugin_id.to_string(),
            id,
            frequency,
            next,
            timeout,
            task: Arc::new(task),
            running: None,
            span,
        });
        Ok(())
    }

    /// Stops and forgets a plugin's tasks (at its shutdown or restart).
    pub fn remove_plugin(&self, plugin_id: &str) {
        let mut tasks = lock(&self.tasks);
        for task in tasks.iter().filter(|task| task.plugin_id == plugin_id) {
            if let Some(running) = &task.running {
                running.abort();
            }
        }
        tasks.retain(|task| task.plugin_id != plugin_id);
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
            if task.next > now
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
            let run = async move {
                match tokio::time::timeout(timeout, PluginFuture(body.run())).await {
                    Ok(Ok(())) => tracing::debug!(plugin_id, task = id, "scheduled task ran"),
                    Ok(Err(error)) => {
                        tracing::error!(plugin_id, task = id, %error, "scheduled task failed");
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
