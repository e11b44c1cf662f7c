//! `cargo xtask dev`: build and install the plugins, run `greenroom start
//! --dev`, and rebuild and reinstall a plugin crate whenever its sources
//! change; the host reloads the file it sees replaced.

use std::{
    collections::BTreeSet,
    path::PathBuf,
    process::{Child, Command},
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use camino::{Utf8Path, Utf8PathBuf};
use greenroom_host::platform::LIBRARY_EXTENSION;
use notify_debouncer_mini::{DebounceEventResult, new_debouncer, notify::RecursiveMode};

use crate::build::{self, Workspace};

/// How long source changes settle before a rebuild starts.
const SETTLE: Duration = Duration::from_millis(300);

/// How long the host may take to stop after Ctrl-C before it is killed.
const STOP_DEADLINE: Duration = Duration::from_secs(20);

/// What the loop waits for.
enum Event {
    /// Files changed under these plugin crates' `src/`.
    Changed(Vec<PathBuf>),
    /// Ctrl-C or SIGTERM.
    Stop,
}

/// Runs the development loop until Ctrl-C; `host_args` go to `greenroom start`.
pub(crate) fn dev(host_args: &[&str]) -> anyhow::Result<()> {
    let workspace = build::build_and_install()?;
    let (events, receiver) = mpsc::channel();
    spawn_signal_thread(events.clone())?;
    let mut debouncer = new_debouncer(SETTLE, move |result: DebounceEventResult| {
        if let Ok(changes) = result {
            let paths = changes.into_iter().map(|change| change.path).collect();
            let _ = events.send(Event::Changed(paths));
        }
    })?;
    for crate_dir in plugin_crates(&workspace) {
        let sources = crate_dir.join("src");
        debouncer
            .watcher()
            .watch(sources.as_std_path(), RecursiveMode::Recursive)
            .with_context(|| format!("cannot watch {sources}"))?;
        println!("==> watching {sources}");
    }

    let mut host = start_host(&workspace, host_args)?;
    let outcome = run_loop(&workspace, &receiver, &mut host);
    stop_host(&mut host)?;
    outcome
}

/// The directory of every plugin crate in the workspace.
fn plugin_crates(workspace: &Workspace) -> Vec<Utf8PathBuf> {
    workspace
        .plugins
        .iter()
        .map(|plugin| plugin.dir.clone())
        .collect()
}

/// Starts `greenroom start --dev` in its own process group, so Ctrl-C at the
/// terminal reaches only this loop, which then stops the host once.
fn start_host(workspace: &Workspace, host_args: &[&str]) -> anyhow::Result<Child> {
    use std::os::unix::process::CommandExt as _;

    let mut command = Command::new(workspace.target_dir.join("greenroom"));
    command
        .arg("start")
        .arg("--dev")
        .arg("--plugins")
        .arg(workspace.root.join("plugins"))
        .args(host_args)
        .current_dir(&workspace.root)
        .process_group(0);
    println!("==> starting the host, which reloads replaced plugin files: {command:?}");
    command.spawn().context("cannot start greenroom")
}

/// Rebuilds on changes until Ctrl-C or the host exits.
fn run_loop(
    workspace: &Workspace,
    receiver: &mpsc::Receiver<Event>,
    host: &mut Child,
) -> anyhow::Result<()> {
    loop {
        if let Some(status) = host.try_wait()? {
            anyhow::bail!("greenroom exited with {status}; stopping");
        }
        match receiver.recv_timeout(Duration::from_millis(200)) {
            Ok(Event::Stop) => {
                println!("==> Ctrl-C: stopping the host");
                return Ok(());
            }
            Ok(Event::Changed(paths)) => {
                let mut paths = paths;
                while let Ok(Event::Changed(more)) = receiver.try_recv() {
                    paths.extend(more);
                }
                rebuild(workspace, &paths);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
        }
    }
}

/// Builds the workspace (one way of building, so the cache holds) and
/// reinstalls the libraries of the crates whose sources changed. A failed
/// build is reported and the running plugins stay.
fn rebuild(workspace: &Workspace, paths: &[PathBuf]) {
    let changed: BTreeSet<&build::PluginCrate> = workspace
        .plugins
        .iter()
        .filter(|plugin| {
            paths
                .iter()
                .any(|path| path.starts_with(plugin.dir.join("src")))
        })
        .collect();
    if changed.is_empty() {
        return;
    }
    let names: Vec<&str> = changed.iter().map(|plugin| plugin.name.as_str()).collect();
    let built_before: Vec<_> = changed
        .iter()
        .map(|plugin| modified(&workspace.target_dir.join(&plugin.library)))
        .collect();
    let started = Instant::now();
    if let Err(error) = build::cargo(
        &["build", "--workspace"],
        &format!("sources of {} changed; rebuilding", names.join(", ")),
    ) {
        println!("==> build failed, the running plugins stay: {error:#}");
        return;
    }
    for (plugin, before) in changed.into_iter().zip(built_before) {
        if modified(&workspace.target_dir.join(&plugin.library)) == before {
            println!(
                "==> {} built to the same library; not reinstalled",
                plugin.name
            );
            continue;
        }
        match install(workspace, plugin) {
            Ok(destination) => println!(
                "==> reinstalled {destination} ({:.1} s after the change); the host reloads it",
                started.elapsed().as_secs_f64()
            ),
            Err(error) => println!("==> cannot install {}: {error:#}", plugin.name),
        }
    }
}

/// When `path` was last written, if it exists.
fn modified(path: &Utf8Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .ok()
}

/// Installs one plugin crate's library into `plugins/` by atomic rename.
fn install(workspace: &Workspace, plugin: &build::PluginCrate) -> anyhow::Result<Utf8PathBuf> {
    let destination = workspace
        .root
        .join("plugins")
        .join(format!("{}.{LIBRARY_EXTENSION}", plugin.installed_name()));
    build::install(&workspace.target_dir.join(&plugin.library), &destination)?;
    Ok(destination)
}

/// Sends [`Event::Stop`] on the first Ctrl-C or SIGTERM.
fn spawn_signal_thread(events: mpsc::Sender<Event>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    std::thread::spawn(move || {
        runtime.block_on(async {
            let mut terminate =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM can be handled");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        });
        let _ = events.send(Event::Stop);
    });
    Ok(())
}

/// Asks the host to stop (one SIGTERM: it drains and runs shutdown hooks),
/// waits for it, and kills it after [`STOP_DEADLINE`].
fn stop_host(host: &mut Child) -> anyhow::Result<()> {
    if host.try_wait()?.is_some() {
        return Ok(());
    }
    build::run(Command::new("kill").arg("-TERM").arg(host.id().to_string()))?;
    let deadline = Instant::now() + STOP_DEADLINE;
    while Instant::now() < deadline {
        if let Some(status) = host.try_wait()? {
            println!("==> the host stopped ({status})");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("==> the host did not stop within {STOP_DEADLINE:?}; killing it");
    host.kill()?;
    host.wait()?;
    Ok(())
}
