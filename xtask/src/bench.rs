//! `cargo xtask bench …`: benchmarks, each against a baseline measured in
//! the same run, reported as ratios. Never a pass/fail.

mod catalog;
mod http;
mod load;
mod reload;
mod startup;

use std::process::Command;

pub(crate) use reload::Host;

use anyhow::{Context as _, bail};
use camino::Utf8PathBuf;

use crate::build;

/// Runs the benchmark named by `args`.
pub(crate) fn run(args: &[&str]) -> anyhow::Result<()> {
    match args {
        ["load", rest @ ..] => load::load(rest),
        ["http", rest @ ..] => http::http(rest),
        ["startup", rest @ ..] => startup::startup(rest),
        ["reload", rest @ ..] => reload::reload(rest),
        ["catalog", rest @ ..] => catalog::catalog(rest),
        _ => bail!("usage: cargo xtask bench load|http|startup|reload|catalog [--rounds N]"),
    }
}

/// Runs inside a fresh worker process started by a benchmark.
pub(crate) fn worker(args: &[&str]) -> anyhow::Result<()> {
    match args {
        ["load", ..] => load::worker(args),
        ["http-server", rest @ ..] => http::server(rest),
        ["startup", rest @ ..] => startup::worker(rest),
        _ => bail!("unknown benchmark worker {args:?}"),
    }
}

/// Builds the xtask worker and `fixture` in release mode; returns the
/// release directory.
fn build_release(fixture: &str) -> anyhow::Result<Utf8PathBuf> {
    build::cargo(
        &[
            "build",
            "--release",
            "--locked",
            "-p",
            "xtask",
            "-p",
            fixture,
        ],
        "building the benchmark in release mode",
    )?;
    Ok(build::workspace()?.target_dir.with_file_name("release"))
}

/// Builds the xtask worker and `packages` in release mode; returns the
/// release directory.
fn build_release_packages(packages: &[&str]) -> anyhow::Result<Utf8PathBuf> {
    let mut args = vec!["build", "--release", "--locked", "-p", "xtask"];
    for package in packages {
        args.extend(["-p", package]);
    }
    build::cargo(&args, "building the benchmark in release mode")?;
    Ok(build::workspace()?.target_dir.with_file_name("release"))
}

/// Runs a worker process and reads the numbers it prints on one line.
fn measure<const N: usize>(mut worker: Command, what: &str) -> anyhow::Result<[f64; N]> {
    let output = worker
        .output()
        .with_context(|| format!("cannot start the {what} worker"))?;
    if !output.status.success() {
        bail!(
            "the {what} worker failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let values: Vec<f64> = String::from_utf8(output.stdout)?
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    values
        .try_into()
        .map_err(|_| anyhow::anyhow!("the {what} worker printed an unexpected line"))
}

/// Parses `--rounds N`, or gives the default.
fn rounds(args: &[&str], default: usize) -> anyhow::Result<usize> {
    match args {
        [] => Ok(default),
        ["--rounds", count] => Ok(count.parse()?),
        _ => bail!("usage: --rounds N"),
    }
}

/// Formats a median with its spread.
fn cell(values: &[f64]) -> String {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return "-".to_string();
    }
    let median = sorted[sorted.len() / 2];
    format!(
        "{median:.2} ({:.2}-{:.2})",
        sorted[0],
        sorted[sorted.len() - 1]
    )
}

/// How long a host may take to answer as expected.
const ANSWER_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// Sends `GET path` with the bearer `token` on a connection of its own;
/// the status (0 when there is none) and the body, within 30 s.
pub(crate) async fn get_with_token(
    address: std::net::SocketAddr,
    path: &str,
    token: &str,
) -> anyhow::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: greenroom\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        stream.read_to_end(&mut response),
    )
    .await
    .context("no answer within 30 s")??;
    let text = String::from_utf8_lossy(&response);
    let status = text
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    Ok((status, body.to_string()))
}

/// Asks `path` until it answers 200 with a body `done` accepts, for at
/// most a minute.
pub(crate) async fn poll_until(
    address: std::net::SocketAddr,
    path: &str,
    token: &str,
    done: impl Fn(&str) -> bool,
) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + ANSWER_DEADLINE;
    while std::time::Instant::now() < deadline {
        if let Ok((200, body)) = get_with_token(address, path, token).await
            && done(&body)
        {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    bail!("greenroom did not answer {path} as expected within {ANSWER_DEADLINE:?}")
}
