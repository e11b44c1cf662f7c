//! `cargo xtask bench …`: benchmarks, each against a baseline measured in
//! the same run, reported as ratios. Never a pass/fail.

mod http;
mod load;
mod startup;

use anyhow::bail;

/// Runs the benchmark named by `args`.
pub(crate) fn run(args: &[&str]) -> anyhow::Result<()> {
    match args {
        ["load", rest @ ..] => load::load(rest),
        ["http", rest @ ..] => http::http(rest),
        ["startup", rest @ ..] => startup::startup(rest),
        _ => bail!("usage: cargo xtask bench load|http|startup [--rounds N]"),
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
