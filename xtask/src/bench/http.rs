//! `cargo xtask bench http`: one trivial handler served natively by the host
//! and through a plugin, behind the same checks and middleware, under the
//! same loopback load.
//!
//! A worker process runs the host with the `web` fixture plugin and a native
//! router answering the same route; this process generates the load: a few
//! keep-alive connections, each sending one request at a time. Rounds
//! alternate which target goes first.

use std::{
    io::{BufRead as _, BufReader, Write as _},
    net::SocketAddr,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use axum::{Router, routing::get};
use greenroom_host::{Backend, serve::HttpOptions};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

use super::cell;

const DEFAULT_ROUNDS: usize = 5;
const CONNECTIONS: usize = 8;
const RUN: Duration = Duration::from_secs(2);
const TARGETS: [(&str, &str); 2] = [
    ("native", "/api/native/open/ping"),
    ("plugin", "/api/web/open/ping"),
];

/// Builds in release mode, starts the server worker and measures.
pub(crate) fn http(args: &[&str]) -> anyhow::Result<()> {
    let rounds = super::rounds(args, DEFAULT_ROUNDS)?;
    let release = super::build_release("greenroom-fixture-web")?;
    let mut server = Command::new(release.join("xtask"))
        .args(["bench-worker", "http-server"])
        .arg(release.join("libgreenroom_fixture_web.so"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start the benchmark server")?;
    let mut line = String::new();
    BufReader::new(server.stdout.take().context("the server's stdout")?).read_line(&mut line)?;
    let address: SocketAddr = line
        .trim()
        .parse()
        .with_context(|| format!("the server said {line:?}"))?;
    println!(
        "==> {rounds} rounds of {} s per target, {CONNECTIONS} keep-alive connections, server {address}",
        RUN.as_secs()
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut results: Vec<Vec<Sample>> = vec![Vec::new(), Vec::new()];
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for target in order {
            let sample = runtime.block_on(generate_load(address, TARGETS[target].1, ""))?;
            results[target].push(sample);
        }
        println!("    round {} of {rounds} done", round + 1);
    }
    drop(server.stdin.take());
    server.wait()?;
    print_table(&results);
    Ok(())
}

/// What one run of load measured.
#[derive(Clone, Copy)]
pub(super) struct Sample {
    pub(super) requests_per_second: f64,
    pub(super) p50_micros: f64,
    pub(super) p99_micros: f64,
}

/// Sends `GET path` (with the extra header lines `headers`, each ending in
/// CRLF) for [`RUN`] over [`CONNECTIONS`] keep-alive connections, one
/// request at a time on each.
pub(super) async fn generate_load(
    address: SocketAddr,
    path: &str,
    headers: &str,
) -> anyhow::Result<Sample> {
    let deadline = Instant::now() + RUN;
    let mut connections = tokio::task::JoinSet::new();
    for _ in 0..CONNECTIONS {
        let request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n{headers}\r\n").into_bytes();
        connections.spawn(async move {
            let mut stream = TcpStream::connect(address).await?;
            stream.set_nodelay(true)?;
            let mut latencies = Vec::new();
            let mut buffer = Vec::new();
            while Instant::now() < deadline {
                let sent = Instant::now();
                stream.write_all(&request).await?;
                read_response(&mut stream, &mut buffer).await?;
                latencies.push(sent.elapsed().as_secs_f64() * 1e6);
            }
            anyhow::Ok(latencies)
        });
    }
    let mut latencies = Vec::new();
    while let Some(joined) = connections.join_next().await {
        latencies.extend(joined??);
    }
    latencies.sort_by(f64::total_cmp);
    let at = |fraction: f64| latencies[((latencies.len() - 1) as f64 * fraction) as usize];
    Ok(Sample {
        requests_per_second: latencies.len() as f64 / RUN.as_secs_f64(),
        p50_micros: at(0.50),
        p99_micros: at(0.99),
    })
}

/// Reads one response with a `content-length` body into `buffer` (grown
/// as needed); fails on any status but 200, so a misconfigured run cannot
/// pass for a fast one.
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> anyhow::Result<()> {
    let mut filled = 0;
    loop {
        grow(buffer, filled);
        let read = stream.read(&mut buffer[filled..]).await?;
        if read == 0 {
            bail!("the server closed the connection");
        }
        filled += read;
        let Some(end) = buffer[..filled]
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
        else {
            continue;
        };
        let head = std::str::from_utf8(&buffer[..end])?;
        if !head.starts_with("HTTP/1.1 200") {
            bail!(
                "the server answered {}",
                head.lines().next().unwrap_or_default()
            );
        }
        let length: usize = head
            .lines()
            .find_map(|line| {
                line.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().to_string())
            })
            .context("a response without content-length")?
            .parse()?;
        while filled < end + 4 + length {
            grow(buffer, filled);
            let read = stream.read(&mut buffer[filled..]).await?;
            if read == 0 {
                bail!("the server closed the connection mid-body");
            }
            filled += read;
        }
        return Ok(());
    }
}

/// Makes room in `buffer` past its first `filled` bytes.
fn grow(buffer: &mut Vec<u8>, filled: usize) {
    if buffer.len() < filled + 4096 {
        buffer.resize((filled + 4096).max(buffer.len() * 2), 0);
    }
}

fn print_table(results: &[Vec<Sample>]) {
    println!();
    println!(
        "{:<8}  {:>24}  {:>22}  {:>22}",
        "target", "requests/s", "p50 µs", "p99 µs"
    );
    for (index, (name, _)) in TARGETS.iter().enumerate() {
        let column =
            |pick: fn(&Sample) -> f64| cell(&results[index].iter().map(pick).collect::<Vec<_>>());
        println!(
            "{name:<8}  {:>24}  {:>22}  {:>22}",
            column(|sample| sample.requests_per_second),
            column(|sample| sample.p50_micros),
            column(|sample| sample.p99_micros)
        );
    }
    let ratio = |pick: fn(&Sample) -> f64| {
        let ratios: Vec<f64> = results[1]
            .iter()
            .zip(&results[0])
            .map(|(plugin, native)| pick(plugin) / pick(native))
            .collect();
        cell(&ratios)
    };
    println!(
        "plugin / native: throughput {}, p50 {}, p99 {}",
        ratio(|sample| sample.requests_per_second),
        ratio(|sample| sample.p50_micros),
        ratio(|sample| sample.p99_micros)
    );
    println!("\ncells: median (min-max) over the rounds; goal: throughput >= 0.95, p99 <= 1.2");
}

/// The benchmark's server: the host with the web fixture and a native router
/// answering the same route. Prints its address, serves until stdin closes.
pub(crate) fn server(args: &[&str]) -> anyhow::Result<()> {
    let [plugin] = args else {
        bail!("usage: xtask bench-worker http-server PLUGIN_FILE");
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let native = Router::new().route("/open/ping", get(|| async { "pong" }));
        let options = HttpOptions {
            request_timeout: Duration::from_secs(5),
            ..HttpOptions::default()
        };
        let running = Backend::new()
            .no_plugins_dir()
            .file(*plugin)
            .route("native", native, &["/open"])
            .http_options(options)
            .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
            .load()?
            .start()
            .await?;
        let address = running.http_address().context("the server listens")?;
        println!("{address}");
        std::io::stdout().flush()?;
        tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new())).await??;
        running.stop().await;
        anyhow::Ok(())
    })
}
