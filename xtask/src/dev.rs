//! `cargo xtask dev`: build and install the plugins, run `greenroom start
//! --dev`, and rebuild whenever the sources of a crate under `plugins/`
//! change (a plugin's, or an interface crate's), reinstalling each plugin
//! whose library the build changed; the host reloads the file it sees
//! replaced.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    process::{Child, Command},
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use camino::{Utf8Path, Utf8PathBuf};
use greenroom_host::platform::LIBRARY_EXTENSION;
use notify_debouncer_mini::notify::{self, RecursiveMode, Watcher as _};

use crate::build::{self, Workspace};

/// How long source changes settle before a rebuild starts.
const SETTLE: Duration = Duration::from_millis(300);

/// How long the host may take to stop after Ctrl-C before it is killed.
const STOP_DEADLINE: Duration = Duration::from_secs(20);

/// What the loop waits for.
enum Event {
    /// Files changed under the `src/` of crates in `plugins/`.
    Changed(Vec<PathBuf>),
    /// Ctrl-C or SIGTERM.
    Stop,
}

/// Runs the development loop until Ctrl-C; `host_args` go to `greenroom start`.
pub(crate) fn dev(host_args: &[&str]) -> anyhow::Result<()> {
    let workspace = build::build_and_install()?;
    let (events, receiver) = mpsc::channel();
    spawn_signal_thread(events.clone())?;
    // Only changes count: cargo reading the sources it builds would
    // otherwise start the next build, and so on forever.
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && greenroom_host::reload::is_change(&event.kind)
        {
            let _ = events.send(Event::Changed(event.paths));
        }
    })?;
    for sources in crate_sources(&workspace)? {
        watcher
            .watch(sources.as_std_path(), RecursiveMode::Recursive)
            .with_context(|| format!("cannot watch {sources}"))?;
        println!("==> watching {sources}");
    }

    let mut installed = Installed::now(&workspace);
    let mut host = start_host(&workspace, host_args)?;
    let outcome = run_loop(&workspace, &receiver, &mut host, &mut installed);
    stop_host(&mut host)?;
    outcome
}

/// The `src/` directory of every crate under `plugins/`: plugins, and the
/// interface crates they share.
fn crate_sources(workspace: &Workspace) -> anyhow::Result<Vec<Utf8PathBuf>> {
    let plugins = workspace.root.join("plugins");
    let mut sources = Vec::new();
    for entry in plugins
        .read_dir_utf8()
        .with_context(|| format!("cannot read {plugins}"))?
    {
        let sources_dir = entry?.path().join("src");
        if sources_dir.is_dir() {
            sources.push(sources_dir);
        }
    }
    sources.sort();
    Ok(sources)
}

/// When each plugin's built library was last written, as it was when that
/// library was installed: a library written since is installed again.
struct Installed(BTreeMap<String, Option<std::time::SystemTime>>);

impl Installed {
    fn now(workspace: &Workspace) -> Self {
        Self(
            workspace
                .plugins
                .iter()
                .map(|plugin| (plugin.name.clone(), built(workspace, plugin)))
                .collect(),
        )
    }
}

/// When `plugin`'s library in the target directory was last written.
fn built(workspace: &Workspace, plugin: &build::PluginCrate) -> Option<std::time::SystemTime> {
    modified(&workspace.target_dir.join(&plugin.library))
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
    installed: &mut Installed,
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
                let Some(paths) = settle(receiver, paths) else {
                    println!("==> Ctrl-C: stopping the host");
                    return Ok(());
                };
                rebuild(workspace, &paths, installed);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
        }
    }
}

/// Gathers changes until none came for [`SETTLE`], so that an editor's
/// several writes make one build; `None` when Ctrl-C came meanwhile.
fn settle(receiver: &mpsc::Receiver<Event>, mut paths: Vec<PathBuf>) -> Option<Vec<PathBuf>> {
    loop {
        match receiver.recv_timeout(SETTLE) {
            Ok(Event::Changed(more)) => paths.extend(more),
            Ok(Event::Stop) => return None,
            Err(_) => return Some(paths),
        }
    }
}

/// Builds the workspace (one way of building, so the cache holds) and
/// reinstalls every plugin whose library the build wrote since it was last
/// installed, whichever change led there: a library a failed build already
/// wrote is installed after the next good one. A failed build is reported
/// and the running plugins stay.
fn rebuild(workspace: &Workspace, paths: &[PathBuf], installed: &mut Installed) {
    let mut changed: Vec<String> = paths
        .iter()
        .filter_map(|path| path.strip_prefix(workspace.root.join("plugins")).ok())
        .filter_map(|path| path.components().next())
        .map(|component| component.as_os_str().to_string_lossy().into_owned())
        .collect();
    changed.sort();
    changed.dedup();
    if changed.is_empty() {
        return;
    }
    let started = Instant::now();
    if let Err(error) = build::cargo(
        &["build", "--workspace"],
        &format!(
            "sources in plugins/{{{}}} changed; rebuilding",
            changed.join(",")
        ),
    ) {
        println!("==> build failed, the running plugins stay: {error:#}");
        return;
    }
    let mut reinstalled = 0;
    for plugin in &workspace.plugins {
        let now = built(workspace, plugin);
        if installed.0.get(&plugin.name) == Some(&now) {
            continue;
        }
        reinstalled += 1;
        match install(workspace, plugin) {
            Ok(destination) => {
                installed.0.insert(plugin.name.clone(), now);
                println!(
                    "==> reinstalled {destination} ({:.1} s after the change); the host reloads \
                     it",
                    started.elapsed().as_secs_f64()
                );
            }
            Err(error) => println!("==> cannot install {}: {error:#}", plugin.name),
        }
    }
    if reinstalled == 0 {
        println!("==> no plugin's library changed; nothing reinstalled");
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
