//! Running the stages for each file: check, claim ids, load, register.

use std::collections::{BTreeMap, BTreeSet};

use camino::{Utf8Path, Utf8PathBuf};

use super::Library;
use crate::{
    check::{self, CheckOptions, CheckedLibrary},
    config::PluginSelection,
    inspect::InspectOptions,
    load::{self, PrivateDir, RootModule},
    register,
    report::{LibraryReport, Stage, Status},
};

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
                    "{id} is already provided by {first}, which comes first (files are taken in \
                     name order); remove one of the two files"
                ));
            }
        }
        for id in ids {
            self.owners.insert(id, owner.to_owned());
        }
        Ok(())
    }

    /// Gives up the ids of a library that was refused after claiming them.
    pub(crate) fn release(&mut self, ids: &[String]) {
        for id in ids {
            self.owners.remove(id);
        }
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

/// Whether the configuration selects a library that provides `plugins` and
/// `modules` (as `(plugin, module)` pairs): `Ok` when it selects every plugin
/// they belong to, [`Status::Excluded`] when it selects none, and a refusal
/// when it selects some, since a library loads whole or not at all.
pub(crate) fn selected(
    plugins: &[String],
    modules: &[(String, String)],
    selection: &PluginSelection,
) -> Result<(), Status> {
    let owners: BTreeSet<&str> = plugins
        .iter()
        .map(String::as_str)
        .chain(modules.iter().map(|(plugin, _)| plugin.as_str()))
        .collect();
    let (allowed, excluded): (Vec<_>, Vec<_>) = owners
        .iter()
        .map(|id| (*id, selection.allows(id)))
        .partition(|(_, verdict)| verdict.is_ok());
    let Some((first_excluded, reason)) = excluded.first() else {
        return Ok(());
    };
    let reason = reason.clone().err().unwrap_or_default();
    match allowed.first() {
        None => Err(Status::Excluded { reason }),
        Some((kept, _)) => Err(Status::Refused {
            stage: Stage::Check,
            reason: format!(
                "the library provides plugin `{first_excluded}`, which is not selected \
                 ({reason}), together with plugin `{kept}`, which is; a library loads whole, so \
                 select both or neither"
            ),
        }),
    }
}

pub(super) fn start_static(
    name: &str,
    root: RootModule,
    selection: &PluginSelection,
    claims: &mut Claims,
) -> (LibraryReport, Option<Library>) {
    let file = Utf8PathBuf::from(format!("(static) {name}"));
    let mut report = LibraryReport::refused(file.clone(), Stage::Register, String::new());
    report.library = Some(name.to_string());
    let registered = match root.register().into_result() {
        Ok(registration) => register::validate(registration).map_err(|error| error.to_string()),
        Err(error) => Err(register::RegisterError::from(error).to_string()),
    };
    let features = match registered {
        Ok(features) => features,
        Err(reason) => return (refuse(report, Stage::Register, reason), None),
    };

    let plugins: Vec<String> = features.plugins.iter().map(|p| p.id.to_string()).collect();
    let modules: Vec<(String, String)> = features
        .modules
        .iter()
        .map(|m| (m.plugin_id.to_string(), m.module_id.to_string()))
        .collect();
    if let Err(status) = selected(&plugins, &modules, selection) {
        report.status = status;
        return (report, None);
    }
    if let Err(reason) = claims.claim(ids_of(&plugins, &modules), &file) {
        return (refuse(report, Stage::Register, reason), None);
    }
    report.status = Status::Ok;
    report.features = Some(features.clone());
    let library = Library {
        path: file,
        root,
        features,
    };
    (report, Some(library))
}

fn refuse(mut report: LibraryReport, stage: Stage, reason: String) -> LibraryReport {
    report.status = Status::Refused { stage, reason };
    report
}

/// Checks, selects, claims, loads and registers one library file. A file
/// the configuration does not select is left out after the check, before
/// any of its code runs.
pub(super) fn start_file(
    path: &Utf8Path,
    probe: Option<&InspectOptions>,
    options: &CheckOptions,
    selection: &PluginSelection,
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
    let declaration = &checked.declaration;
    if let Err(status) = selected(&declaration.plugins, &declaration.modules, selection) {
        report.status = status;
        return (report, None);
    }
    let ids = ids_of(&declaration.plugins, &declaration.modules);
    if let Err(reason) = claims.claim(ids.clone(), path) {
        report.status = Status::Refused {
            stage: Stage::Check,
            reason,
        };
        return (report, None);
    }

    if let Some(probe) = probe
        && let Err(reason) = probe_checked(&checked, private, probe)
    {
        claims.release(&ids);
        report.status = Status::Refused {
            stage: Stage::Load,
            reason,
        };
        return (report, None);
    }

    let loaded = match load::load(checked, private) {
        Ok(loaded) => loaded,
        Err(error) => {
            // A library that did not load provides nothing: a later file
            // may provide its ids.
            claims.release(&ids);
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
            claims.release(&ids);
            report.status = Status::Refused {
                stage: Stage::Register,
                reason: error.to_string(),
            };
            (report, None)
        }
    }
}

/// Loads a private copy of the checked bytes in a child process first, so a
/// library that crashes or hangs while loading is refused instead of taking
/// the host down.
fn probe_checked(
    checked: &CheckedLibrary,
    private: &PrivateDir,
    options: &InspectOptions,
) -> Result<(), String> {
    let copy = private
        .write_copy(checked)
        .map_err(|error| error.to_string())?;
    let probed = crate::inspect::probe(&copy, options);
    let _ = std::fs::remove_file(&copy);
    probed
        .map(drop)
        .map_err(|reason| format!("probing it in a child process: {reason}"))
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
