//! `cargo xtask soak`: the host with every plugin under a bounded loopback
//! load, one plugin file replaced every few seconds (a hot reload), for a
//! chosen time. Reports requests and failures per route, resident memory
//! and threads over time, and what the reloads left behind: generations,
//! libraries loaded and retired, memory grown per retired library. Fails
//! when any request failed or a reload was not taken.

use std::{
    net::SocketAddr,
    process::{Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use crate::build;
use anyhow::{Context as _, bail};
use camino::{Utf8Path, Utf8PathBuf};
use greenroom_host::platform::{LIBRARY_EXTENSION, resident_bytes_of, thread_names_of};

/// The token the soak's configuration accepts.
const TOKEN: &str = "soak-token-0123456789";

/// Concurrent client connections, each sending one request at a time.
const CONNECTIONS: usize = 4;

/// The routes the load cycles through.
const ROUTES: [&str; 5] = [
    "/api/hello/greeting?name=soak",
    "/api/catalog/entities?fields=kind,metadata.name",
    "/api/catalog/entities/by-name/system/default/greenroom",
    "/api/search/query?term=catalog",
    "/.backstage/health/v1/readiness",
];

/// The plugin files replaced in turn, by installed name.
const RELOADED: [&str; 3] = ["hello", "search", "catalog-module-annotate"];

const USAGE: &str = "usage: cargo xtask soak [--seconds N] [--reload-every SECONDS] [--no-build]";

/// What one route saw.
#[derive(Clone, Default)]
struct Tally {
    ok: u64,
    failed: u64,
    first_failures: Vec<String>,
}

/// Runs the soak named by `args`.
pub(crate) fn soak(args: &[&str]) -> anyhow::Result<()> {
    let options = Options::parse(args)?;
    let libraries = if options.build {
        let workspace = build::build_and_install()?;
        workspace
            .plugins
            .iter()
            .map(|plugin| {
                let name = plugin.installed_name().to_string();
                (name, workspace.target_dir.join(&plugin.library))
            })
            .collect()
    } else {
        built_plugins(&debug_dir()?)?
    };
    let dir = debug_dir()?.join(format!("soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins)?;
    for (name, library) in &libraries {
        std::fs::copy(library, plugins.join(format!("{name}.{LIBRARY_EXTENSION}")))
            .with_context(|| format!("cannot copy {library}"))?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(run(&options, &dir, &plugins));
    if outcome.is_ok() {
        // The host's log outlives the copies of the plugins it ran.
        let kept = debug_dir()?.join("soak-host.log");
        if std::fs::rename(dir.join("host.log"), &kept).is_ok() {
            println!("    the host's log: {kept}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    outcome
}

struct Options {
    seconds: u64,
    reload_every: u64,
    build: bool,
}

impl Options {
    fn parse(mut args: &[&str]) -> anyhow::Result<Self> {
        let mut options = Self {
            seconds: 60,
            reload_every: 5,
            build: true,
        };
        loop {
            match args {
                [] => return Ok(options),
                ["--seconds", value, rest @ ..] => {
                    options.seconds = value.parse().context(USAGE)?;
                    args = rest;
                }
                ["--reload-every", value, rest @ ..] => {
                    options.reload_every = value.parse::<u64>().context(USAGE)?.max(1);
                    args = rest;
                }
                ["--no-build", rest @ ..] => {
                    options.build = false;
                    args = rest;
                }
                _ => bail!("{USAGE}"),
            }
        }
    }
}

/// The directory of this xtask binary's siblings (`target/debug`).
fn debug_dir() -> anyhow::Result<Utf8PathBuf> {
    let exe = Utf8PathBuf::try_from(std::env::current_exe()?)?;
    Ok(exe
        .parent()
        .context("the xtask binary has a directory")?
        .to_owned())
}

/// The libraries built in `dir` of the plugin crates under `plugins/`, by
/// installed name.
fn built_plugins(dir: &Utf8Path) -> anyhow::Result<Vec<(String, Utf8PathBuf)>> {
    let crates = build::workspace_root()?.join("plugins");
    let prefix = "libgreenroom_plugin_";
    let suffix = format!(".{LIBRARY_EXTENSION}");
    let mut found = Vec::new();
    for entry in dir.read_dir_utf8()? {
        let entry = entry?;
        if let Some(name) = entry
            .file_name()
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix.as_str()))
        {
            let name = name.replace('_', "-");
            if crates.join(&name).join("Cargo.toml").is_file() {
                found.push((name, entry.path().to_owned()));
            }
        }
    }
    if found.is_empty() {
        bail!("no plugin libraries in {dir}; build them first (cargo xtask build-plugins)");
    }
    found.sort();
    Ok(found)
}

async fn run(options: &Options, dir: &Utf8Path, plugins: &Utf8Path) -> anyhow::Result<()> {
    let address = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    std::fs::write(dir.join("app-config.yaml"), config(address, dir)?)?;
    let log = dir.join("host.log");
    let mut host = crate::bench::Host(
        Command::new(debug_dir()?.join("greenroom"))
            .args(["start", "--dev", "--plugins", plugins.as_str()])
            .current_dir(dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("cannot start greenroom")?,
    );
    let pid = host.0.id();
    wait_ready(address).await?;
    // The catalog reads its files after it starts: wait until it serves
    // what the load asks for.
    crate::bench::poll_until(address, ROUTES[2], TOKEN, |_| true).await?;
    let threads_at_start = thread_names_of(pid).unwrap_or_default();
    println!(
        "==> soaking for {} s: {CONNECTIONS} connections over {} routes, a plugin file \
         replaced every {} s",
        options.seconds,
        ROUTES.len(),
        options.reload_every
    );

    let tallies = Arc::new(Mutex::new(vec![Tally::default(); ROUTES.len()]));
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = tokio::task::JoinSet::new();
    for connection in 0..CONNECTIONS {
        load.spawn(generate(address, connection, tallies.clone(), stop.clone()));
    }
    let started = Instant::now();
    let mut reloads = 0;
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(options.seconds) {
        tokio::time::sleep(Duration::from_secs(options.reload_every)).await;
        let name = RELOADED[reloads % RELOADED.len()];
        replace(plugins, name, reloads)?;
        reloads += 1;
        let memory = resident_bytes_of(pid).unwrap_or(0) as f64 / 1e6;
        samples.push((
            started.elapsed().as_secs(),
            memory,
            thread_names_of(pid).map(|names| names.len()),
        ));
    }
    // Let the last reload finish before reading what the host kept.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::SeqCst);
    while load.join_next().await.is_some() {}
    // Threads for blocking work end a second after the load does.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let instance = instance(address).await?;
    let threads_at_end = thread_names_of(pid).unwrap_or_default();
    host.stop()?;

    let tallies = tallies.lock().unwrap_or_else(|p| p.into_inner()).clone();
    report(&tallies, &samples, reloads, &instance);
    report_threads(&threads_at_start, &threads_at_end);
    let failed: u64 = tallies.iter().map(|tally| tally.failed).sum();
    if failed > 0 {
        bail!("{failed} requests failed during the soak; see above and {log}");
    }
    if reloads > 0 && instance["memory"]["libraries_retired"].as_u64() == Some(0) {
        bail!("{reloads} plugin files were replaced but no library was retired; see {log}");
    }
    println!("==> soak passed: no request failed, every replaced file was taken");
    Ok(())
}

/// The configuration: the project's own catalog, refreshed every 2 s.
fn config(address: SocketAddr, dir: &Utf8Path) -> anyhow::Result<String> {
    let catalog = build::workspace_root()?.join("plugins/catalog-info.yaml");
    Ok(format!(
        "backend:\n  listen: {{host: 127.0.0.1, port: {}}}\n  auth:\n    externalAccess:\n      \
         - type: static\n        options: {{token: {TOKEN}, subject: soak}}\n  database:\n    \
         directory: {dir}/data\ncatalog:\n  locations:\n    - type: file\n      target: \
         {catalog}\n  processingInterval: {{seconds: 2}}\n",
        address.port()
    ))
}

/// Replaces `plugins/<name>` with a copy whose bytes differ (a trailer
/// after the library), renamed over it as an installer would.
fn replace(plugins: &Utf8Path, name: &str, round: usize) -> anyhow::Result<()> {
    let target = plugins.join(format!("{name}.{LIBRARY_EXTENSION}"));
    let mut bytes = std::fs::read(&target)?;
    bytes.extend_from_slice(format!("\ngreenroom soak {round}\n").as_bytes());
    let temporary = plugins.join(format!(".{name}.soak"));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, &target)?;
    Ok(())
}

/// One connection's loop: a request at a time, cycling through the routes.
async fn generate(
    address: SocketAddr,
    offset: usize,
    tallies: Arc<Mutex<Vec<Tally>>>,
    stop: Arc<AtomicBool>,
) {
    let mut next = offset;
    while !stop.load(Ordering::SeqCst) {
        let route = next % ROUTES.len();
        next += 1;
        let outcome = get(address, ROUTES[route]).await;
        let mut tallies = tallies.lock().unwrap_or_else(|p| p.into_inner());
        let tally = &mut tallies[route];
        match outcome {
            Ok((200, _)) => tally.ok += 1,
            other => {
                tally.failed += 1;
                if tally.first_failures.len() < 3 {
                    let what = match other {
                        Ok((status, body)) => {
                            format!("{status} {}", body.chars().take(200).collect::<String>())
                        }
                        Err(error) => error.to_string(),
                    };
                    tally.first_failures.push(what);
                }
            }
        }
    }
}

async fn get(address: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    crate::bench::get_with_token(address, path, TOKEN).await
}

async fn wait_ready(address: SocketAddr) -> anyhow::Result<()> {
    crate::bench::poll_until(address, "/.backstage/health/v1/readiness", TOKEN, |_| true).await
}

async fn instance(address: SocketAddr) -> anyhow::Result<serde_json::Value> {
    let (status, body) = get(address, "/.greenroom/v1/instance").await?;
    if status != 200 {
        bail!("the instance endpoint answered {status}: {body}");
    }
    Ok(serde_json::from_str(&body)?)
}

fn report(
    tallies: &[Tally],
    samples: &[(u64, f64, Option<usize>)],
    reloads: usize,
    instance: &serde_json::Value,
) {
    println!();
    println!("{:<56}  {:>10}  {:>8}", "route", "ok", "failed");
    for (route, tally) in ROUTES.iter().zip(tallies) {
        println!("{route:<56}  {:>10}  {:>8}", tally.ok, tally.failed);
        for failure in &tally.first_failures {
            println!("    {failure}");
        }
    }
    println!();
    println!("resident memory and threads after each reload:");
    let threads = |count: Option<usize>| count.map_or("-".to_string(), |count| count.to_string());
    for (second, memory, count) in samples {
        println!(
            "    {second:>5} s: {memory:>8.1} MB, threads {}",
            threads(*count)
        );
    }
    let memory = &instance["memory"];
    println!();
    println!(
        "reloads: {reloads} files replaced; each plugin's generation number now {}; libraries \
         loaded {}, retired {} (never unloaded); resident growth per retired library {} bytes",
        instance["generations"],
        instance["libraries_loaded"],
        memory["libraries_retired"],
        memory["growth_per_retired_library_bytes"]
    );
}

/// Prints how the host's threads changed, by name.
fn report_threads(start: &[String], end: &[String]) {
    let mut grown = end.to_vec();
    for name in start {
        if let Some(position) = grown.iter().position(|other| other == name) {
            grown.remove(position);
        }
    }
    println!(
        "threads: {} at the start, {} at the end; more at the end: {}",
        start.len(),
        end.len(),
        if grown.is_empty() {
            "none".to_string()
        } else {
            grown.join(", ")
        }
    );
}
