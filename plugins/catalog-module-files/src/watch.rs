//! Watching the directories of the files read, so that an edit is served
//! without waiting for the next scheduled refresh.
//!
//! Only changes count: reading the files makes the system report that they
//! were opened and read, and treating those reports as changes would read
//! the files again and again. Changes that come close together are read
//! once they have been quiet for [`DEBOUNCE`].

use std::{
    collections::BTreeSet,
    path::PathBuf,
    sync::{Weak, mpsc},
    time::Duration,
};

use notify_debouncer_mini::notify::{
    self, EventKind, RecommendedWatcher, RecursiveMode, Watcher as _,
};

use crate::FileProvider;

/// How long the files must stay quiet before they are read again.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// A watcher on the directories of the files read; dropping it stops it
/// and the thread that reads the files again.
pub(crate) struct Watch {
    watcher: Option<RecommendedWatcher>,
    watched: BTreeSet<PathBuf>,
}

impl Watch {
    /// A watcher that makes `provider` read again after each change.
    pub(crate) fn new(provider: Weak<FileProvider>) -> Self {
        let (changed, changes) = mpsc::channel::<()>();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok_and(|event| is_change(&event.kind)) {
                let _ = changed.send(());
            }
        });
        let watcher = watcher
            .inspect_err(|error| {
                tracing::warn!("catalog files are not watched for changes: {error}");
            })
            .ok();
        if watcher.is_some() {
            std::thread::spawn(move || read_after_changes(&changes, &provider));
        }
        Self {
            watcher,
            watched: BTreeSet::new(),
        }
    }

    /// Watches each of `directories` not watched yet; how many it began
    /// to watch.
    pub(crate) fn follow(&mut self, directories: &BTreeSet<PathBuf>) -> usize {
        let Some(watcher) = &mut self.watcher else {
            return 0;
        };
        let mut added = 0;
        for directory in directories.difference(&self.watched.clone()) {
            match watcher.watch(directory, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.watched.insert(directory.clone());
                    added += 1;
                }
                Err(error) => {
                    tracing::warn!(directory = %directory.display(), "cannot watch: {error}");
                }
            }
        }
        added
    }
}

/// Whether an event reports a change to a file, not just its use.
fn is_change(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Any | EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
    )
}

/// Reads the files again once changes have been quiet for [`DEBOUNCE`],
/// until the watcher (and with it the sender) is dropped.
fn read_after_changes(changes: &mpsc::Receiver<()>, provider: &Weak<FileProvider>) {
    while changes.recv().is_ok() {
        loop {
            match changes.recv_timeout(DEBOUNCE) {
                Ok(()) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
        let Some(provider) = provider.upgrade() else {
            return;
        };
        if let Err(error) = provider.read_and_apply() {
            tracing::error!("cannot apply the changed catalog files: {error}");
        }
    }
}

#[cfg(test)]
mod tests {
    use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind};

    use super::*;

    #[test]
    fn opening_and_reading_a_file_is_no_change() {
        assert!(!is_change(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(is_change(&EventKind::Create(CreateKind::File)));
        assert!(is_change(&EventKind::Modify(ModifyKind::Any)));
    }
}
