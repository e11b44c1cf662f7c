//! `cargo xtask bench startup`: from process start to ready for 1, 10 and
//! 100 trivial plugins, as a chain and as a fan-out, with loading (copy,
//! check, open, register), resolution and initialization as columns.
//!
//! The plugins are copies of the specimen fixture with renumbered ids; a
//! `GREENROOM_SPECIMEN` spec makes each depend on the one before (chain) or
//! all on the first (fan-out). Each measurement runs in a fresh process.

use std::{fmt::Write as _, process::Command, time::Instant};

use anyhow::bail;
use camino::{Utf8Path, Utf8PathBuf};
use greenroom_host::{
    Backend,
    backend::host_services,
    resolve::{self, ResolveOptions, Source},
};

use super::cell;

const SIZES: [usize; 3] = [1, 10, 100];
const SHAPES: [&str; 2] = ["chain", "fan-out"];
const DEFAULT_ROUNDS: usize = 5;

/// Builds in release mode, prepares the plugin files and prints the table.
pub(crate) fn startup(args: &[&str]) -> anyhow::Result<()> {
    let rounds = super::rounds(args, DEFAULT_ROUNDS)?;
    let release = super::build_release("greenroom-fixture-specimen")?;
    let template = std::fs::read(release.join("libgreenroom_fixture_specimen.so"))?;
    let bench_dir = release.join("bench-startup");
    let _ = std::fs::remove_dir_all(&bench_dir);
    for size in SIZES {
        write_copies(&template, &bench_dir.join(format!("n{size}")), size)?;
    }

    // [size][shape] -> samples of [load, resolve, init, total] in ms.
    let mut samples = vec![vec![Vec::new(); SHAPES.len()]; SIZES.len()];
    for round in 0..rounds {
        for (index, size) in SIZES.iter().enumerate() {
            for shape in 0..SHAPES.len() {
                let shape = if round % 2 == 0 {
                    shape
                } else {
                    SHAPES.len() - 1 - shape
                };
                let dir = bench_dir.join(format!("n{size}"));
                samples[index][shape].push(run_worker(&release.join("xtask"), &dir, *size, shape)?);
            }
        }
        println!("    round {} of {rounds} done", round + 1);
    }
    print_table(&samples);
    Ok(())
}

fn write_copies(template: &[u8], dir: &Utf8Path, count: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    for number in 1..=count {
        let id = format!("specimen-{number:04}");
        let bytes = replace_all(template, b"specimen-0000", id.as_bytes());
        std::fs::write(dir.join(format!("{id}.so")), bytes)?;
    }
    Ok(())
}

fn replace_all(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let mut offset = 0;
    while let Some(found) = out[offset..]
        .windows(from.len())
        .position(|window| window == from)
    {
        let at = offset + found;
        out[at..at + to.len()].copy_from_slice(to);
        offset = at + to.len();
    }
    out
}

/// The specimen spec for `count` plugins in `shape`.
fn spec(count: usize, shape: usize) -> String {
    let mut spec = String::new();
    for number in 2..=count {
        let needs = if SHAPES[shape] == "chain" {
            number - 1
        } else {
            1
        };
        let _ = writeln!(
            spec,
            "specimen-{number:04} needs plugin specimen-{needs:04} ^1"
        );
    }
    spec
}

fn run_worker(
    worker: &Utf8Path,
    dir: &Utf8Path,
    size: usize,
    shape: usize,
) -> anyhow::Result<[f64; 4]> {
    let mut command = Command::new(worker);
    command
        .args(["bench-worker", "startup", dir.as_str()])
        .env("GREENROOM_SPECIMEN", spec(size, shape))
        .env("RUST_LOG", "off");
    super::measure(command, &format!("startup of {size} plugins"))
}

/// Runs inside a fresh process: loads, resolves and initializes the plugins
/// in `dir`, printing milliseconds for load, resolve, init and total.
pub(crate) fn worker(args: &[&str]) -> anyhow::Result<()> {
    let started = Instant::now();
    let [dir] = args else {
        bail!("usage: xtask bench-worker startup DIR");
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let clock = Instant::now();
    let loaded = Backend::new().plugins_dir(Utf8PathBuf::from(*dir)).load()?;
    let load_and_resolve = millis(clock);
    if loaded.any_refused() {
        bail!("a plugin was refused");
    }

    // Resolution runs inside load; time it alone on the same features.
    let origins = loaded.sources();
    let sources: Vec<Source<'_>> = origins
        .iter()
        .map(|(origin, features)| Source { origin, features })
        .collect();
    let clock = Instant::now();
    resolve::resolve(&sources, &host_services(), ResolveOptions::default())
        .map_err(|problems| anyhow::anyhow!("resolution failed: {}", problems.len()))?;
    let resolve = millis(clock);

    let clock = Instant::now();
    let running = runtime.block_on(loaded.start())?;
    let init = millis(clock);
    let total = millis(started);
    runtime.block_on(running.stop());
    println!(
        "{:.4} {resolve:.4} {init:.4} {total:.4}",
        load_and_resolve - resolve
    );
    Ok(())
}

fn millis(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

fn print_table(samples: &[Vec<Vec<[f64; 4]>>]) {
    println!();
    println!(
        "{:>4}  {:<8}  {:>22}  {:>20}  {:>20}  {:>22}  {:>18}",
        "N", "shape", "load", "resolve", "init", "start to ready", "(resolve+init)/load"
    );
    for (index, size) in SIZES.iter().enumerate() {
        for (shape, name) in SHAPES.iter().enumerate() {
            let runs = &samples[index][shape];
            let column =
                |stage: usize| cell(&runs.iter().map(|run| run[stage]).collect::<Vec<_>>());
            let ratio: Vec<f64> = runs.iter().map(|run| (run[1] + run[2]) / run[0]).collect();
            println!(
                "{size:>4}  {name:<8}  {:>22}  {:>20}  {:>20}  {:>22}  {:>18}",
                column(0),
                column(1),
                column(2),
                column(3),
                cell(&ratio)
            );
        }
    }
    println!(
        "\ncells: median (min-max) in ms over the rounds; load is copy, check, open and register"
    );
    println!("goal: resolution and initialization add at most 50% to loading");
}
