//! `greenroom inspect`: describe library files without risking the caller.
//!
//! The check stage runs here, since it only parses bytes. Each file that
//! passes is then loaded and registered in a child process (`greenroom
//! probe`), so a library whose constructor crashes or hangs is reported as
//! such and the inspection goes on.

use std::{
    io::Read,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use camino::{Utf8Path, Utf8PathBuf};

use crate::{
    backend::{Claims, describe, ids_of},
    check::{self, CheckOptions},
    discover::{self, DiscoverError},
    platform,
    report::{LibraryReport, Stage, Status},
};

/// How an inspection runs its probes.
#[derive(Clone, Debug)]
pub struct InspectOptions {
    /// The check stage's settings, passed on to probes.
    pub check: CheckOptions,
    /// The program to run as `PROGRAM probe FILE`.
    pub probe_program: Utf8PathBuf,
    /// How long a probe may take before it is killed.
    pub timeout: Duration,
}

/// Inspects every library in `targets` (directories are scanned, files
/// taken as they are).
///
/// # Errors
///
/// Returns an error when a directory cannot be scanned.
pub fn inspect(
    targets: &[Utf8PathBuf],
    options: &InspectOptions,
) -> Result<Vec<LibraryReport>, DiscoverError> {
    let mut reports = Vec::new();
    let mut files = Vec::new();
    for target in targets {
        if target.is_dir() {
            let scan = discover::scan(target)?;
            files.extend(scan.files);
            reports.extend(scan.refused.into_iter().map(|error| {
                LibraryReport::refused(error.entry(), Stage::Discover, error.to_string())
            }));
        } else {
            files.push(discover::absolute(target)?);
        }
    }

    let mut claims = Claims::default();
    for file in files {
        reports.push(inspect_file(&file, options, &mut claims));
    }
    Ok(reports)
}

fn inspect_file(path: &Utf8Path, options: &InspectOptions, claims: &mut Claims) -> LibraryReport {
    let checked = match check::check(path, &options.check) {
        Ok(checked) => checked,
        Err(error) => {
            return LibraryReport::refused(path.to_owned(), Stage::Check, error.to_string());
        }
    };
    let mut report = describe(&checked);
    let ids = ids_of(&checked.declaration.plugins, &checked.declaration.modules);
    if let Err(reason) = claims.claim(ids, path) {
        report.status = Status::Refused {
            stage: Stage::Check,
            reason,
        };
        return report;
    }

    match probe(path, options) {
        Ok(probed) => {
            report.status = probed.status;
            report.features = probed.features;
        }
        Err(reason) => {
            report.status = Status::Refused {
                stage: Stage::Load,
                reason,
            }
        }
    }
    report
}

/// Loads one file in a child process and reads back its report.
pub(crate) fn probe(path: &Utf8Path, options: &InspectOptions) -> Result<LibraryReport, String> {
    let mut child = Command::new(&options.probe_program)
        .arg("probe")
        .arg("--max-plugin-size")
        .arg(options.check.max_file_size.to_string())
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("cannot start the probe {}: {error}", options.probe_program))?;

    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let deadline = Instant::now() + options.timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "did not finish loading within {} s (a constructor that hangs?); \
                     the file was not loaded",
                    options.timeout.as_secs_f32()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(error) => return Err(format!("cannot wait for the probe: {error}")),
        }
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();

    if let Some(signal) = platform::exit_signal(&status) {
        return Err(format!(
            "crashed with {signal} while loading: a constructor in the library, its \
             registration, or the dynamic loader on a damaged file; rebuild or remove it"
        ));
    }
    serde_json::from_str::<LibraryReport>(stdout.trim()).map_err(|_| {
        let detail = stderr
            .lines()
            .last()
            .unwrap_or("no output")
            .trim()
            .to_string();
        format!("exited with {status} while loading, without a report ({detail})")
    })
}
