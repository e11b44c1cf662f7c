//! The embedding API: choose plugins, start, stop.
//!
//! ```no_run
//! use greenroom_host::Backend;
//!
//! let backend = Backend::new().plugins_dir("plugins").start()?;
//! for report in backend.reports() {
//!     println!("{}", report.status_line());
//! }
//! backend.stop();
//! # Ok::<(), greenroom_host::BackendError>(())
//! ```

use std::collections::BTreeMap;

use abi_stable::std_types::RResult;
use camino::{Utf8Path, Utf8PathBuf};
use greenroom_contract::{PluginError, Registration};

use crate::{
    check::{self, CheckOptions, CheckedLibrary},
    discover::{self, DiscoverError},
    load::{self, LoadError, PrivateDir, RootModule},
    register::{self, Features},
    report::{LibraryReport, Stage, Status},
};

/// A registration entry point linked into the host binary.
pub type StaticRegister = Box<dyn Fn() -> RResult<Registration, PluginError> + Send + Sync>;

/// Why a backend could not start at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The plugins directory could not be scanned.
    #[error(transparent)]
    Discover(#[from] DiscoverError),
    /// The private directory for library copies could not be created.
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// A backend being configured; [`Backend::start`] loads it.
pub struct Backend {
    plugins_dir: Option<Utf8PathBuf>,
    files: Vec<Utf8PathBuf>,
    check: CheckOptions,
    private_base: Utf8PathBuf,
    statics: Vec<(String, StaticRegister)>,
}

impl Default for Backend {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend {
    /// A backend that loads plugins from `plugins/` in the working directory.
    pub fn new() -> Self {
        let temp = std::env::temp_dir();
        Self {
            plugins_dir: Some(Utf8PathBuf::from("plugins")),
            files: Vec::new(),
            check: CheckOptions::default(),
            private_base: Utf8PathBuf::from_path_buf(temp).unwrap_or_else(|_| "/tmp".into()),
            statics: Vec::new(),
        }
    }

    /// Loads plugin files from `dir` instead of `plugins/`.
    pub fn plugins_dir(mut self, dir: impl Into<Utf8PathBuf>) -> Self {
        self.plugins_dir = Some(dir.into());
        self
    }

    /// Loads no plugins directory; only files and static features added.
    pub fn no_plugins_dir(mut self) -> Self {
        self.plugins_dir = None;
        self
    }

    /// Also loads one library file, after those of the plugins directory.
    pub fn file(mut self, path: impl Into<Utf8PathBuf>) -> Self {
        self.files.push(path.into());
        self
    }

    /// Refuses library files larger than `bytes`.
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.check.max_file_size = bytes;
        self
    }

    /// Keeps private copies of libraries in a new directory inside `base`
    /// (by default the system's temporary directory). It must allow
    /// executable mappings.
    pub fn private_dir(mut self, base: impl Into<Utf8PathBuf>) -> Self {
        self.private_base = base.into();
        self
    }

    /// Adds features linked into the host instead of loaded from a file.
    ///
    /// `register` is what a library's registration entry point would be,
    /// for example a closure calling `greenroom_sdk::register`.
    pub fn add_static(
        mut self,
        name: &str,
        register: impl Fn() -> RResult<Registration, PluginError> + Send + Sync + 'static,
    ) -> Self {
        self.statics.push((name.to_string(), Box::new(register)));
        self
    }

    /// Finds, checks, loads and registers every library.
    ///
    /// A library that fails any stage is refused with a reason in its report
    /// and the others go on.
    ///
    /// # Errors
    ///
    /// Returns an error only when the plugins directory cannot be read or
    /// the private directory cannot be created.
    pub fn start(self) -> Result<RunningBackend, BackendError> {
        let mut files = Vec::new();
        let mut reports = Vec::new();
        if let Some(dir) = &self.plugins_dir {
            let scan = discover::scan(dir)?;
            files.extend(scan.files);
            reports.extend(scan.refused.into_iter().map(|error| {
                LibraryReport::refused(dir.clone(), Stage::Discover, error.to_string())
            }));
        }
        for file in &self.files {
            files.push(discover::absolute(file)?);
        }

        let private = PrivateDir::create(&self.private_base)?;
        let mut claims = Claims::default();
        let mut libraries = Vec::new();
        for (name, register) in &self.statics {
            reports.push(start_static(name, register, &mut claims));
        }
        for path in &files {
            let (report, library) = start_file(path, &self.check, &private, &mut claims);
            tracing::info!(file = %path, status = %report.status_line(), "library");
            reports.push(report);
            libraries.extend(library);
        }
        Ok(RunningBackend {
            reports,
            libraries,
            _private: private,
        })
    }
}

/// Which file claimed each plugin and module id first.
#[derive(Default)]
pub(crate) struct Claims {
    owners: BTreeMap<String, Utf8PathBuf>,
}

impl Claims {
    /// Claims every id of a library, or names the first one already taken.
    pub(crate) fn claim(&mut self, ids: Vec<String>, owner: &Utf8Path) -> Result<(), String> {
        for id in &ids {
            if let Some(first) = self.owners.get(id) {
                return Err(format!(
                    "{id} is already provided by {first}, which loaded first (files load in \
                     name order); remove one of the two files"
                ));
            }
        }
        for id in ids {
            self.owners.insert(id, owner.to_owned());
        }
        Ok(())
    }
}

pub(crate) fn ids_of(plugins: &[String], modules: &[(String, String)]) -> Vec<String> {
    plugins
        .iter()
        .map(|id| format!("plugin `{id}`"))
        .chain(
            modules
                .iter()
                .map(|(plugin, module)| format!("module `{plugin}/{module}`")),
        )
        .collect()
}

fn start_static(name: &str, register: &StaticRegister, claims: &mut Claims) -> LibraryReport {
    let file = Utf8PathBuf::from(format!("(static) {name}"));
    let features = match register().into_result() {
        Ok(registration) => register::validate(registration).map_err(|error| error.to_string()),
        Err(error) => Err(register::RegisterError::from(error).to_string()),
    };
    let result = features.and_then(|features| {
        let plugins: Vec<String> = features.plugins.iter().map(|p| p.id.to_string()).collect();
        let modules: Vec<(String, String)> = features
            .modules
            .iter()
            .map(|m| (m.plugin_id.to_string(), m.module_id.to_string()))
            .collect();
        claims
            .claim(ids_of(&plugins, &modules), &file)
            .map(|()| features)
    });
    let mut report = LibraryReport::refused(file, Stage::Register, String::new());
    report.library = Some(name.to_string());
    match result {
        Ok(features) => {
            report.status = Status::Ok;
            report.features = Some(features);
        }
        Err(reason) => {
            report.status = Status::Refused {
                stage: Stage::Register,
                reason,
            }
        }
    }
    report
}

fn start_file(
    path: &Utf8Path,
    options: &CheckOptions,
    private: &PrivateDir,
    claims: &mut Claims,
) -> (LibraryReport, Option<Library>) {
    let checked = match check::check(path, options) {
        Ok(checked) => checked,
        Err(error) => {
            return (
                LibraryReport::refused(path.to_owned(), Stage::Check, error.to_string()),
                None,
            );
        }
    };
    let mut report = describe(&checked);
    let ids = ids_of(&checked.declaration.plugins, &checked.declaration.modules);
    if let Err(reason) = claims.claim(ids, path) {
        report.status = Status::Refused {
            stage: Stage::Check,
            reason,
        };
        return (report, None);
    }

    let loaded = match load::load(checked, private) {
        Ok(loaded) => loaded,
        Err(error) => {
            report.status = Status::Refused {
                stage: Stage::Load,
                reason: error.to_string(),
            };
            return (report, None);
        }
    };
    match register::register(|| loaded.root.register(), &loaded.declaration) {
        Ok(features) => {
            report.features = Some(features.clone());
            let library = Library {
                path: loaded.path,
                root: loaded.root,
                features,
            };
            (report, Some(library))
        }
        Err(error) => {
            report.status = Status::Refused {
                stage: Stage::Register,
                reason: error.to_string(),
            };
            (report, None)
        }
    }
}

/// A report for a file that passed the check stage, so far `ok`.
pub(crate) fn describe(checked: &CheckedLibrary) -> LibraryReport {
    LibraryReport {
        file: checked.path.clone(),
        sha256: Some(checked.sha256.clone()),
        library: Some(checked.declaration.library.clone()),
        interface: Some(checked.declaration.interface.clone()),
        sdk: Some(checked.declaration.sdk.clone()),
        missing_capabilities: checked
            .revision
            .missing_capabilities()
            .iter()
            .map(|capability| capability.to_string())
            .collect(),
        status: Status::Ok,
        features: None,
    }
}

/// A library file that loaded and registered.
#[derive(Debug)]
pub struct Library {
    /// Where it was found.
    pub path: Utf8PathBuf,
    /// Its entry points.
    pub root: RootModule,
    /// What it registered.
    pub features: Features,
}

/// A started backend.
#[derive(Debug)]
pub struct RunningBackend {
    reports: Vec<LibraryReport>,
    libraries: Vec<Library>,
    _private: PrivateDir,
}

impl RunningBackend {
    /// What became of every library, in load order.
    pub fn reports(&self) -> &[LibraryReport] {
        &self.reports
    }

    /// The libraries that loaded and registered.
    pub fn libraries(&self) -> &[Library] {
        &self.libraries
    }

    /// Whether any library was refused.
    pub fn any_refused(&self) -> bool {
        self.reports.iter().any(LibraryReport::is_refused)
    }

    /// Stops every library, last loaded first, and returns the failures.
    ///
    /// A library built against an interface without a shutdown entry point
    /// is skipped; its report already names the missing capability.
    pub fn stop(self) -> Vec<String> {
        let mut failures = Vec::new();
        for library in self.libraries.iter().rev() {
            let Some(shutdown) = library.root.shutdown() else {
                tracing::debug!(file = %library.path, "library has no shutdown entry point");
                continue;
            };
            if let RResult::RErr(error) = shutdown() {
                tracing::error!(file = %library.path, %error, "library shutdown failed");
                failures.push(format!("{}: shutdown failed: {error}", library.path));
            }
        }
        failures
    }
}
