//! Watching the directories of the files read, so that an edit is served
//! without waiting for the next scheduled refresh.

use std::{collections::BTreeSet, path::PathBuf, sync::Weak, time::Duration};

use notify_debouncer_mini::{
    DebounceEventResult, Debouncer, new_debouncer, notify::RecommendedWatcher,
    notify::RecursiveMode,
};

use crate::FileProvider;

/// How long the files must stay quiet before they are read again.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// A watcher on the directories of the files read; dropping it stops it.
pub(crate) struct Watch {
    debouncer: Option<Debouncer<RecommendedWatcher>>,
    watched: BTreeSet<PathBuf>,
}

impl Watch {
    /// A watcher that makes `provider` read again on each change.
    pub(crate) fn new(provider: Weak<FileProvider>) -> Self {
        let debouncer = new_debouncer(DEBOUNCE, move |result: DebounceEventResult| {
            let Some(provider) = provider.upgrade() else {
                return;
            };
            if result.is_ok_and(|events| !events.is_empty())
                && let Err(error) = provider.read_and_apply()
            {
                tracing::error!("cannot apply the changed catalog files: {error}");
            }
        });
        let debouncer = debouncer
            .inspect_err(|error| {
                tracing::warn!("catalog files are not watched for changes: {error}");
            })
            .ok();
        Self {
            debouncer,
            watched: BTreeSet::new(),
        }
    }

    /// Watches each of `directories` not watched yet.
    pub(crate) fn follow(&mut self, directories: &BTreeSet<PathBuf>) {
        let Some(debouncer) = &mut self.debouncer else {
            return;
        };
        for directory in directories.difference(&self.watched.clone()) {
            match debouncer
                .watcher()
                .watch(directory, RecursiveMode::NonRecursive)
            {
                Ok(()) => {
                    self.watched.insert(directory.clone());
                }
                Err(error) => {
                    tracing::warn!(directory = %directory.display(), "cannot watch: {error}");
                }
            }
        }
    }
}
