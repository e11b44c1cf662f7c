//! `cargo xtask bench reload`: from a plugin file renamed over in the plugins
//! directory of `greenroom start --dev` to the first response of the new
//! generation (its `x-greenroom-generation` header), under a bounded
//! loopback load that counts failed requests during the reload.
//!
//! Two cases: a leaf plugin (`web`), and a provider with two dependents, one
//! of which serves the route (`counter` reloaded, `counter-web` answering,
//! `counter-user` also restarting), where the dependents restart inside
//! their loaded libraries. Each round writes a fresh
//! copy of the file (with a trailer naming the round, as the host skips a
//! file whose bytes did not change) as a hidden temporary file, then renames
//! it over.

use std::{
    net::{SocketAddr, TcpListener},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use camino::Utf8Path;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

use super::cell;

const DEFAULT_ROUNDS: usize = 5;

/// Connections of the load, each sending one request, then pausing.
const CONNECTIONS: usize = 4;

/// The pause between a connection's requests, which bounds the load.
const PAUSE: Duration = Duration::from_millis(2);

/// How long a round waits for the new generation before it fails.
const ROUND_DEADLINE: Duration = Duration::from_secs(30);

/// A case: its files, the file reloaded, and the route watched.
struct Case {
    name: &'static str,
    files: &'static [(&'static str, &'static str)],
    reloaded: &'static str,
    path: &'static str,
}

const CASES: [Case; 2] = [
    Case {
        name: "leaf (web)",
        files: &[("libgreenroom_fixture_web.so", "web.so")],
        reloaded: "web.so",
        path: "/api/web/open/ping",
    },
    Case {
        name: "provider with two dependents (counter; counter-web, counter-user)",
        files: &[
            ("libgreenroom_fixture_counter_provider.so", "counter.so"),
            ("libgreenroom_fixture_counter_web.so", "counter-web.so"),
            (
                "libgreenroom_fixture_counter_consumer.so",
                "counter-user.so",
            ),
        ],
        reloaded: "counter.so",
        path: "/api/counter-web/next",
    },
];

/// What one round measured.
struct Round {
    millis: f64,
    requests: u64,
    failed: u64,
}

/// Builds in release mode and measures every case.
pub(crate) fn reload(args: &[&str]) -> anyhow::Result<()> {
    let rounds = super::rounds(args, DEFAULT_ROUNDS)?;
    let release = super::build_release_packages(&[
        "greenroom-host",
        "greenroom-fixture-web",
        "greenroom-fixture-counter-provider",
        "greenroom-fixture-counter-web",
        "greenroom-fixture-counter-consumer",
    ])?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut results = Vec::new();
    for case in &CASES {
        println!("==> {}: {rounds} rounds", case.name);
        results.push(runtime.block_on(measure_case(&release, case, rounds))?);
    }
    print_table(&results);
    Ok(())
}

async fn measure_case(
    release: &Utf8Path,
    case: &Case,
    rounds: usize,
) -> anyhow::Result<Vec<Round>> {
    let dir = release.join("bench-reload").join(case.reloaded);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    for (built, installed) in case.files {
        std::fs::copy(release.join(built), dir.join(installed))?;
    }
    let address = free_address()?;
    let mut host = Host(start_host(release, &dir, address)?);
    wait_ready(address, case.path).await?;

    let mut measured = Vec::new();
    for number in 1..=rounds {
        let replacement = dir.join(format!(".{}.next", case.reloaded));
        write_replacement(&dir.join(case.reloaded), &replacement, number)?;
        let round = one_round(address, case.path, &replacement, &dir.join(case.reloaded)).await?;
        println!(
            "    round {number}: {:.1} ms to the new generation, {} of {} requests failed",
            round.millis, round.failed, round.requests
        );
        measured.push(round);
        // Let the old generation finish before the next round.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    host.stop()?;
    Ok(measured)
}

/// Writes a copy of `current` with a trailer naming the round: the host
/// skips a file whose bytes did not change, so each round's must differ.
fn write_replacement(
    current: &Utf8Path,
    replacement: &Utf8Path,
    round: usize,
) -> anyhow::Result<()> {
    let mut bytes = std::fs::read(current)?;
    bytes.extend_from_slice(format!("\ngreenroom bench round {round}\n").as_bytes());
    std::fs::write(replacement, bytes)?;
    Ok(())
}

/// Renames `replacement` over `target` under load and waits for the new
/// generation's first response.
async fn one_round(
    address: SocketAddr,
    path: &str,
    replacement: &Utf8Path,
    target: &Utf8Path,
) -> anyhow::Result<Round> {
    let (_, before) = get(address, path).await?;
    let before = before.context("the response has no generation header")?;
    let stop = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut load = tokio::task::JoinSet::new();
    for _ in 0..CONNECTIONS {
        let (stop, requests, failed) = (stop.clone(), requests.clone(), failed.clone());
        let path = path.to_string();
        load.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                requests.fetch_add(1, Ordering::Relaxed);
                if !matches!(get(address, &path).await, Ok((200, _))) {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(PAUSE).await;
            }
        });
    }

    let renamed = Instant::now();
    std::fs::rename(replacement, target)?;
    let millis = loop {
        if renamed.elapsed() > ROUND_DEADLINE {
            bail!("no new generation of {path} within {ROUND_DEADLINE:?}");
        }
        if let Ok((200, Some(generation))) = get(address, path).await
            && generation > before
        {
            break renamed.elapsed().as_secs_f64() * 1e3;
        }
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    while load.join_next().await.is_some() {}
    Ok(Round {
        millis,
        requests: requests.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
    })
}

/// One request on a fresh connection: the status and the generation header.
async fn get(address: SocketAddr, path: &str) -> anyhow::Result<(u16, Option<u64>)> {
    let mut stream = TcpStream::connect(address).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response);
    let status = text
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .context("a response without a status line")?;
    let generation = text
        .lines()
        .take_while(|line| !line.is_empty())
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            (name.eq_ignore_ascii_case("x-greenroom-generation"))
                .then(|| value.trim().parse().ok())
                .flatten()
        });
    Ok((status, generation))
}

/// A loopback address no one listens on now.
pub(super) fn free_address() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// The host process, stopped when dropped.
pub(crate) struct Host(pub(crate) Child);

impl Host {
    pub(crate) fn stop(&mut self) -> anyhow::Result<()> {
        if self.0.try_wait()?.is_none() {
            crate::build::run(
                Command::new("kill")
                    .arg("-TERM")
                    .arg(self.0.id().to_string()),
            )?;
            self.0.wait()?;
        }
        Ok(())
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn start_host(release: &Utf8Path, dir: &Utf8Path, address: SocketAddr) -> anyhow::Result<Child> {
    Command::new(release.join("greenroom"))
        .args(["start", "--dev", "--plugins", dir.as_str()])
        .arg("--listen")
        .arg(address.to_string())
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .context("cannot start greenroom")
}

async fn wait_ready(address: SocketAddr, path: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + ROUND_DEADLINE;
    while Instant::now() < deadline {
        if let Ok((200, _)) = get(address, path).await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("greenroom did not answer {path} within {ROUND_DEADLINE:?}")
}

fn print_table(results: &[Vec<Round>]) {
    println!();
    println!("| case | rename to new generation, ms: median (min-max) | failed / requests |");
    println!("|---|---|---|");
    for (case, rounds) in CASES.iter().zip(results) {
        let millis: Vec<f64> = rounds.iter().map(|round| round.millis).collect();
        let failed: u64 = rounds.iter().map(|round| round.failed).sum();
        let requests: u64 = rounds.iter().map(|round| round.requests).sum();
        println!(
            "| {} | {} | {failed} / {requests} |",
            case.name,
            cell(&millis)
        );
    }
}
