//! One debounced file watcher for the whole host.
//!
//! Each thing the host follows on disk (the configuration files and, in
//! development, the plugins directory) registers its files under
//! a [`WatchKind`]; changes arrive on one channel, each batch tagged with
//! the kinds it concerns. Directories are watched rather than files, so
//! that a file replaced by renaming (as editors save) is still seen.
//!
//! Only changes count: the system also reports that a file was opened and
//! read, and the host reads the files it watches, so counting those would
//! make each reading cause the next.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
    time::Duration,
};

use camino::{Utf8Path, Utf8PathBuf};
use notify_debouncer_mini::notify::{
    self, EventKind, RecommendedWatcher, RecursiveMode, Watcher as _,
};
use tokio::sync::mpsc;

/// How long a file must stay quiet before its change is reported, so that
/// an editor's several writes count as one change. A plugin file caught
/// half-written fails the check stage and is taken when complete.
pub const DEBOUNCE: Duration = Duration::from_millis(100);

/// What a watched file is to the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum WatchKind {
    /// A configuration file.
    Config,
    /// A plugin library file in the plugins directory.
    Plugin,
}

/// A batch of changes: the kinds of the files that changed, and the files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changed {
    /// Each kind concerned, with its files that changed.
    pub files: BTreeMap<WatchKind, BTreeSet<Utf8PathBuf>>,
}

/// Why a watch could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// The operating system refused to watch `path`.
    #[error("cannot watch {path}: {source}")]
    Watch {
        /// The directory.
        path: Utf8PathBuf,
        /// The watcher's error.
        source: notify::Error,
    },
    /// The working directory is unknown, so relative paths mean nothing.
    #[error("cannot resolve {path}: the working directory is unknown: {source}")]
    WorkingDirectory {
        /// The relative path.
        path: Utf8PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// The host's file watcher; dropping it stops watching.
pub struct Watcher {
    watcher: RecommendedWatcher,
    files: std::sync::Arc<std::sync::Mutex<BTreeMap<PathBuf, WatchKind>>>,
    directories: BTreeSet<Utf8PathBuf>,
}

/// Which kind a changed path is: a watched file's, or else its directory's
/// when that directory is watched whole and the name is a plugin file's.
fn kind_of(known: &BTreeMap<PathBuf, WatchKind>, path: &std::path::Path) -> Option<WatchKind> {
    if let Some(kind) = known.get(path) {
        return Some(*kind);
    }
    let name = path.file_name()?.to_str()?;
    let candidate = !name.starts_with('.')
        && Utf8Path::new(name).extension() == Some(crate::platform::LIBRARY_EXTENSION);
    candidate
        .then(|| known.get(path.parent()?).copied())
        .flatten()
}

/// Whether an event reports a change to a file, not just its use (the
/// system also reports opening and reading a file, which a watcher's own
/// reads, or a compiler's, would otherwise count).
pub fn is_change(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Any | EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
    )
}

/// Gathers changed paths until they have been quiet for [`DEBOUNCE`], then
/// sends the batch, tagged with the kinds of the watched files; ends when
/// the watcher is dropped.
fn debounce(
    changes: &std::sync::mpsc::Receiver<PathBuf>,
    known: &std::sync::Mutex<BTreeMap<PathBuf, WatchKind>>,
    sender: &mpsc::UnboundedSender<Changed>,
) {
    use std::sync::mpsc::RecvTimeoutError;

    while let Ok(first) = changes.recv() {
        let mut paths = BTreeSet::from([first]);
        loop {
            match changes.recv_timeout(DEBOUNCE) {
                Ok(path) => {
                    paths.insert(path);
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        let known = known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut changed = Changed {
            files: BTreeMap::new(),
        };
        for path in paths {
            let Some(kind) = kind_of(&known, &path) else {
                continue;
            };
            if let Ok(path) = Utf8PathBuf::from_path_buf(path) {
                changed.files.entry(kind).or_default().insert(path);
            }
        }
        if !changed.files.is_empty() && sender.send(changed).is_err() {
            return;
        }
    }
}

impl Watcher {
    /// Starts a watcher whose batches of changes arrive on the returned
    /// channel.
    ///
    /// # Errors
    ///
    /// Returns the watcher's error when the operating system offers no way
    /// to watch files.
    pub fn start() -> Result<(Self, mpsc::UnboundedReceiver<Changed>), notify::Error> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let files: std::sync::Arc<std::sync::Mutex<BTreeMap<PathBuf, WatchKind>>> =
            std::sync::Arc::default();
        let known = files.clone();
        let (changed_paths, changes) = std::sync::mpsc::channel::<PathBuf>();
        let watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
                Ok(event) if is_change(&event.kind) => {
                    for path in event.paths {
                        let _ = changed_paths.send(path);
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "the file watcher reported an error"),
            })?;
        std::thread::Builder::new()
            .name("greenroom-watch".to_string())
            .spawn(move || debounce(&changes, &known, &sender))
            .map_err(|error| notify::Error::generic(&error.to_string()))?;
        let watcher = Self {
            watcher,
            files,
            directories: BTreeSet::new(),
        };
        Ok((watcher, receiver))
    }

    /// Reports changes to each of `files` (which need not exist yet) as
    /// `kind`.
    ///
    /// # Errors
    ///
    /// Returns an error when a file's directory cannot be watched.
    pub fn watch_files(
        &mut self,
        kind: WatchKind,
        files: &[Utf8PathBuf],
    ) -> Result<(), WatchError> {
        for file in files {
            let file = absolute(file)?;
            let directory = file.parent().map_or_else(|| "/".into(), Utf8Path::to_owned);
            self.watch_once(directory)?;
            self.know(file, kind);
        }
        Ok(())
    }
}

impl Watcher {
    /// Reports changes to every plugin file (`*.so`, not hidden) directly
    /// inside `directory` as `kind`.
    ///
    /// # Errors
    ///
    /// Returns an error when the directory cannot be watched.
    pub fn watch_directory(
        &mut self,
        kind: WatchKind,
        directory: &Utf8Path,
    ) -> Result<(), WatchError> {
        let directory = absolute(directory)?;
        self.watch_once(directory.clone())?;
        self.know(directory, kind);
        Ok(())
    }

    /// Asks the operating system to watch `directory`, unless it already
    /// does.
    fn watch_once(&mut self, directory: Utf8PathBuf) -> Result<(), WatchError> {
        if !self.directories.insert(directory.clone()) {
            return Ok(());
        }
        self.watcher
            .watch(directory.as_std_path(), RecursiveMode::NonRecursive)
            .map_err(|source| WatchError::Watch {
                path: directory,
                source,
            })
    }

    /// Reports changes to `path` as `kind`.
    fn know(&self, path: Utf8PathBuf, kind: WatchKind) {
        self.files
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(path.into_std_path_buf(), kind);
    }
}

fn absolute(path: &Utf8Path) -> Result<Utf8PathBuf, WatchError> {
    if path.is_absolute() {
        return Ok(path.to_owned());
    }
    let working = std::env::current_dir().map_err(|source| WatchError::WorkingDirectory {
        path: path.to_owned(),
        source,
    })?;
    let working =
        Utf8PathBuf::from_path_buf(working).map_err(|_| WatchError::WorkingDirectory {
            path: path.to_owned(),
            source: std::io::Error::other("the working directory is not UTF-8"),
        })?;
    Ok(working.join(path))
}

#[cfg(test)]
mod tests {
    use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RemoveKind};

    use super::*;

    #[test]
    fn opening_and_reading_a_watched_file_is_no_change() {
        assert!(!is_change(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(is_change(&EventKind::Create(CreateKind::File)));
        assert!(is_change(&EventKind::Modify(ModifyKind::Any)));
        assert!(is_change(&EventKind::Remove(RemoveKind::File)));
    }
}
