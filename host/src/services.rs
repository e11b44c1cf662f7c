//! Core services the host provides to every plugin beyond configuration,
//! logging and lifecycle: a cache with one namespace per plugin, a
//! scheduler, a database of its own, and discovery of other plugins' base
//! URLs. Time comes from a
//! [`Clock`] that tests can control.

mod database;
mod defaults;
mod scheduler;

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

pub use database::{Assigned, DatabaseClient};
pub(crate) use defaults::{host_default, host_interface, host_interface_name, settings};
pub use scheduler::Scheduler;
pub(crate) use scheduler::{PanicHandler, Staging};

/// Where the host's services read the time.
pub trait Clock: Send + Sync {
    /// Time elapsed since some fixed start.
    fn now(&self) -> Duration;

    /// The calendar time now, for cron patterns.
    fn wall(&self) -> SystemTime;
}

/// The real, monotonic clock.
pub struct SystemClock {
    start: Instant,
    wall: SystemTime,
}

impl Default for SystemClock {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            wall: SystemTime::now(),
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn wall(&self) -> SystemTime {
        scheduler::wall_at(self.wall, self.now())
    }
}

/// A clock that moves only when told, for tests.
#[derive(Default)]
pub struct ManualClock {
    millis: AtomicU64,
}

impl ManualClock {
    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let millis = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.millis.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_millis(self.millis.load(Ordering::SeqCst))
    }

    /// Starts at 2026-01-01T00:00:00Z.
    fn wall(&self) -> SystemTime {
        scheduler::wall_at(SystemTime::UNIX_EPOCH + scheduler::MANUAL_EPOCH, self.now())
    }
}

/// How many entries one plugin's cache namespace holds at most; the
/// soonest to expire make way for new ones.
pub const CACHE_ENTRIES_PER_PLUGIN: usize = 10_000;

/// One plugin's entries: each value with the time it expires.
type Namespace = HashMap<String, (Vec<u8>, Duration)>;

/// An in-memory cache with one namespace per plugin and a time to live per
/// entry.
#[derive(Default)]
pub struct Cache {
    namespaces: Mutex<HashMap<String, Namespace>>,
}

impl Cache {
    /// The value under `key` in `plugin_id`'s namespace, if it has not
    /// expired at `now`.
    pub fn get(&self, plugin_id: &str, key: &str, now: Duration) -> Option<Vec<u8>> {
        let mut namespaces = self.lock();
        let namespace = namespaces.get_mut(plugin_id)?;
        match namespace.get(key) {
            Some((value, expires)) if *expires > now => Some(value.clone()),
            Some(_) => {
                namespace.remove(key);
                None
            }
            None => None,
        }
    }

    /// Stores `value` under `key` in `plugin_id`'s namespace until
    /// `now + ttl`.
    pub fn set(&self, plugin_id: &str, key: &str, value: Vec<u8>, now: Duration, ttl: Duration) {
        let mut namespaces = self.lock();
        let namespace = namespaces.entry(plugin_id.to_string()).or_default();
        namespace.retain(|_, (_, expires)| *expires > now);
        if namespace.len() >= CACHE_ENTRIES_PER_PLUGIN && !namespace.contains_key(key) {
            let soonest = namespace
                .iter()
                .min_by_key(|(_, (_, expires))| *expires)
                .map(|(key, _)| key.clone());
            if let Some(soonest) = soonest {
                namespace.remove(&soonest);
            }
        }
        namespace.insert(key.to_string(), (value, now.saturating_add(ttl)));
    }

    /// Removes `key` from `plugin_id`'s namespace.
    pub fn delete(&self, plugin_id: &str, key: &str) {
        if let Some(namespace) = self.lock().get_mut(plugin_id) {
            namespace.remove(key);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Namespace>> {
        self.namespaces
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Where each plugin's routes are reached.
#[derive(Clone, Debug, Default)]
pub struct Discovery {
    /// The host's own base, such as `http://127.0.0.1:7007/api`.
    pub base: String,
    /// Plugins reached elsewhere, by plugin id (their full base URL).
    pub endpoints: BTreeMap<String, String>,
}

impl Discovery {
    /// The base URL of `plugin_id`'s routes.
    pub fn url(&self, plugin_id: &str) -> String {
        self.endpoints
            .get(plugin_id)
            .cloned()
            .unwrap_or_else(|| format!("{}/{plugin_id}", self.base.trim_end_matches('/')))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_with_the_clock_and_namespaces_are_apart() {
        let clock = ManualClock::default();
        let cache = Cache::default();
        cache.set(
            "a",
            "key",
            b"one".to_vec(),
            clock.now(),
            Duration::from_secs(10),
        );

        assert_eq!(cache.get("a", "key", clock.now()), Some(b"one".to_vec()));
        assert_eq!(cache.get("b", "key", clock.now()), None);
        clock.advance(Duration::from_secs(9));
        assert_eq!(cache.get("a", "key", clock.now()), Some(b"one".to_vec()));
        clock.advance(Duration::from_secs(1));
        assert_eq!(cache.get("a", "key", clock.now()), None);
    }

    #[test]
    fn a_full_namespace_drops_what_expires_soonest() {
        let cache = Cache::default();
        let now = Duration::ZERO;
        for index in 0..CACHE_ENTRIES_PER_PLUGIN {
            let ttl = Duration::from_secs(100 + index as u64);
            cache.set("a", &index.to_string(), vec![], now, ttl);
        }
        cache.set("a", "new", vec![1], now, Duration::from_secs(1));

        assert_eq!(cache.get("a", "0", now), None);
        assert_eq!(cache.get("a", "1", now), Some(vec![]));
        assert_eq!(cache.get("a", "new", now), Some(vec![1]));
    }

    #[test]
    fn discovery_uses_the_host_unless_told_otherwise() {
        let mut discovery = Discovery {
            base: "http://127.0.0.1:7007/api/".to_string(),
            endpoints: BTreeMap::new(),
        };
        discovery.endpoints.insert(
            "search".to_string(),
            "https://search.internal/api/search".to_string(),
        );
        assert_eq!(
            discovery.url("catalog"),
            "http://127.0.0.1:7007/api/catalog"
        );
        assert_eq!(
            discovery.url("search"),
            "https://search.internal/api/search"
        );
    }
}
