//! A module of the `catalog` plugin: an entity provider that reads the
//! catalog files of the locations configured under `catalog.locations`
//! (`{type: file, target: path}`, relative to the working directory),
//! follows the `Location` entities it finds to the files they name, and
//! reads everything again on the catalog's schedule and whenever one of
//! those files changes.

mod read;
mod watch;

use std::{
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use greenroom_catalog_api::{
    ConnectionBox, Contribution, EntityProvider, EntityProviderBox, PROCESSING,
};
use greenroom_sdk::{
    Context, Error, ErrorCode, ModuleRegistrar, PluginError,
    abi_stable::{
        sabi_trait::TD_Opaque,
        std_types::{RResult, RString},
    },
    contained,
};

use crate::watch::Watch;

/// How many times one refresh reads while the watch keeps growing.
const MAX_READS: usize = 3;

greenroom_sdk::export! {
    executor: greenroom_sdk_tokio::EXECUTOR,
    modules: { ("catalog", "files") => register },
}

fn register(module: &mut ModuleRegistrar) -> Result<(), Error> {
    module
        .depends_on_extension_point(PROCESSING, "^2")
        .init(init);
    Ok(())
}

async fn init(context: Context) -> Result<(), Error> {
    let roots = roots(&context)?;
    tracing::info!(locations = roots.len(), "reading catalog files");
    let provider = Arc::new(FileProvider {
        roots,
        connection: Mutex::new(None),
        watch: Mutex::new(None),
        stopped: AtomicBool::new(false),
        last_read: Mutex::default(),
    });
    let stopping = provider.clone();
    context.on_shutdown(move || async move {
        stopping.stop();
        Ok(())
    });
    let provider = EntityProviderBox::from_value(Shared(provider), TD_Opaque);
    context.register_extension(PROCESSING, Contribution::Provider(provider))
}

/// The configured file locations, made absolute.
fn roots(context: &Context) -> Result<Vec<PathBuf>, Error> {
    let working = std::env::current_dir()?;
    let mut roots = Vec::new();
    for location in context
        .config()
        .optional_sections("locations")?
        .unwrap_or_default()
    {
        if location.string("type")? == "file" {
            roots.push(working.join(location.string("target")?));
        }
    }
    Ok(roots)
}

/// The provider: what it reads, the catalog's connection once connected,
/// and the watcher on the files it read.
struct FileProvider {
    roots: Vec<PathBuf>,
    connection: Mutex<Option<ConnectionBox>>,
    watch: Mutex<Option<Watch>>,
    stopped: AtomicBool,
    /// Each file's documents as last read in full.
    last_read: Mutex<read::LastRead>,
}

impl FileProvider {
    /// Reads every location and applies the result, then watches the
    /// directories of every file read.
    fn read_and_apply(self: &Arc<Self>) -> Result<(), String> {
        // A directory is watched only once a read found it, so a change
        // made between that read and the watch would be missed: read again
        // whenever the watch grew (a few times at most, for new trees).
        for _ in 0..MAX_READS {
            let Some(connection) = lock(&self.connection).clone() else {
                return Ok(());
            };
            let read = read::read_all(&self.roots, &mut lock(&self.last_read));
            let directories = read.directories();
            connection
                .apply_full(read.mutation)
                .into_result()
                .map_err(|error| error.message.into_string())?;
            let mut watch = lock(&self.watch);
            if self.stopped.load(Ordering::SeqCst) {
                return Ok(());
            }
            let watch = watch.get_or_insert_with(|| Watch::new(Arc::downgrade(self)));
            if watch.follow(&directories) == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Stops watching and forgets the connection, for good: a refresh
    /// running meanwhile finds the provider stopped and watches nothing.
    fn stop(&self) {
        let mut watch = lock(&self.watch);
        self.stopped.store(true, Ordering::SeqCst);
        watch.take();
        lock(&self.connection).take();
        tracing::info!("stopped reading catalog files");
    }
}

/// The provider as the catalog holds it.
struct Shared(Arc<FileProvider>);

#[contained]
impl EntityProvider for Shared {
    fn name(&self) -> RResult<RString, PluginError> {
        RResult::ROk("files".into())
    }

    fn connect(&self, connection: ConnectionBox) -> RResult<(), PluginError> {
        *lock(&self.0.connection) = Some(connection);
        self.refresh()
    }

    fn refresh(&self) -> RResult<(), PluginError> {
        self.0
            .read_and_apply()
            .map_err(|message| PluginError::new(ErrorCode::FAILED, message))
            .into()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
