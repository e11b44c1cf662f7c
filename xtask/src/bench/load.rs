//! `cargo xtask bench load`: the cost of each loading stage beside raw
//! dlopen of the same files.
//!
//! Every measurement runs in a fresh worker process (libraries are never
//! unloaded, so a second load in one process would measure a cache). Runs
//! are interleaved: each round measures every size with both loaders, in an
//! order that alternates between rounds.

use std::{process::Command, time::Instant};

use anyhow::{Context, bail};
use camino::{Utf8Path, Utf8PathBuf};
use greenroom_host::{
    check::{self, CheckOptions},
    load::{self, PrivateDir},
    platform::LIBRARY_EXTENSION,
    register,
};

use super::cell;

const SIZES: [usize; 3] = [1, 10, 100];
const DEFAULT_ROUNDS: usize = 5;
const STAGES: [&str; 5] = ["copy", "check", "open", "register", "total"];

/// Builds in release mode, prepares distinct plugin files and prints the
/// table of medians.
pub(crate) fn load(args: &[&str]) -> anyhow::Result<()> {
    let rounds = super::rounds(args, DEFAULT_ROUNDS)?;
    let release = super::build_release("greenroom-fixture-numbered")?;
    let fixture = release.join(format!("libgreenroom_fixture_numbered.{LIBRARY_EXTENSION}"));
    let worker = release.join("xtask");

    let bench_dir = release.join("bench-load");
    let _ = std::fs::remove_dir_all(&bench_dir);
    let template = std::fs::read(&fixture).with_context(|| format!("cannot read {fixture}"))?;
    for size in SIZES {
        write_numbered_copies(&template, &bench_dir.join(format!("n{size}")), size)?;
    }
    println!(
        "==> {rounds} interleaved rounds of {} workers; fixture {fixture} ({:.2} MB)",
        SIZES.len() * 2,
        template.len() as f64 / 1e6
    );

    let mut samples: Vec<Vec<Vec<[f64; 5]>>> = vec![vec![Vec::new(); 2]; SIZES.len()];
    for round in 0..rounds {
        for (index, size) in SIZES.iter().enumerate() {
            let modes = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for mode in modes {
                let dir = bench_dir.join(format!("n{size}"));
                samples[index][mode].push(run_worker(&worker, mode, &dir, *size)?);
            }
        }
        println!("    round {} of {rounds} done", round + 1);
    }
    print_table(&samples);
    Ok(())
}

/// Writes `count` copies of the numbered fixture, each with its own id.
fn write_numbered_copies(template: &[u8], dir: &Utf8Path, count: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let placeholder = b"numbered-000";
    let places: Vec<usize> = template
        .windows(placeholder.len())
        .enumerate()
        .filter(|(_, window)| window == placeholder)
        .map(|(offset, _)| offset)
        .collect();
    if places.is_empty() {
        bail!("the numbered fixture does not contain its id; was it rebuilt?");
    }
    for number in 1..=count {
        let mut bytes = template.to_vec();
        let digits = format!("{number:03}");
        for offset in &places {
            bytes[offset + 9..offset + 12].copy_from_slice(digits.as_bytes());
        }
        std::fs::write(
            dir.join(format!("numbered-{digits}.{LIBRARY_EXTENSION}")),
            bytes,
        )?;
    }
    Ok(())
}

fn run_worker(
    worker: &Utf8Path,
    mode: usize,
    dir: &Utf8Path,
    size: usize,
) -> anyhow::Result<[f64; 5]> {
    let mode_name = ["greenroom", "raw"][mode];
    let mut command = Command::new(worker);
    command.args(["bench-worker", "load", mode_name, dir.as_str()]);
    super::measure(command, &format!("{mode_name} load of {size} plugins"))
}

/// Runs inside a fresh process: loads every file in a directory and prints
/// the milliseconds spent in each stage.
pub(crate) fn worker(args: &[&str]) -> anyhow::Result<()> {
    let ["load", mode, dir] = args else {
        bail!("usage: xtask bench-worker load greenroom|raw DIR");
    };
    let mut files: Vec<Utf8PathBuf> = std::fs::read_dir(dir)?
        .map(|entry| Ok(Utf8PathBuf::try_from(entry?.path())?))
        .collect::<anyhow::Result<_>>()?;
    files.sort();

    let totals = match *mode {
        "greenroom" => time_greenroom(&files)?,
        "raw" => time_raw(&files)?,
        _ => bail!("unknown mode {mode}"),
    };
    let line: Vec<String> = totals.iter().map(|value| format!("{value:.4}")).collect();
    println!("{}", line.join(" "));
    Ok(())
}

fn time_greenroom(files: &[Utf8PathBuf]) -> anyhow::Result<[f64; 5]> {
    let private = PrivateDir::create(Utf8Path::new(&std::env::temp_dir().to_string_lossy()))?;
    let options = CheckOptions::default();
    let mut stages = [0.0; 5];
    let started = Instant::now();
    for file in files {
        let clock = Instant::now();
        let bytes = check::read_regular_file(file, options.max_file_size)?;
        let read = clock.elapsed();

        let clock = Instant::now();
        let checked = check::check_bytes(file, bytes)?;
        stages[1] += millis(clock);

        let clock = Instant::now();
        let copy = private.write_copy(&checked)?;
        stages[0] += millis(clock) + read.as_secs_f64() * 1e3;

        let clock = Instant::now();
        let root = load::open_copy(&copy, checked.revision)?;
        std::fs::remove_file(&copy)?;
        stages[2] += millis(clock);

        let clock = Instant::now();
        register::register(|| root.register(), &checked.declaration)?;
        stages[3] += millis(clock);
    }
    stages[4] = millis(started);
    Ok(stages)
}

#[allow(
    unsafe_code,
    reason = "the baseline is plain dlopen, with no checks at all"
)]
fn time_raw(files: &[Utf8PathBuf]) -> anyhow::Result<[f64; 5]> {
    let started = Instant::now();
    for file in files {
        // SAFETY: the benchmark's own fixture files, whose constructors are
        // the ones Rust emits; the library is leaked and never unloaded.
        let library = unsafe { libloading::Library::new(file.as_std_path()) }?;
        std::mem::forget(library);
    }
    let total = millis(started);
    Ok([0.0, 0.0, total, 0.0, total])
}

fn millis(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

fn print_table(samples: &[Vec<Vec<[f64; 5]>>]) {
    println!();
    println!(
        "{:>4}  {:<9}  {:>16}  {:>16}  {:>16}  {:>16}  {:>16}",
        "N", "loader", STAGES[0], STAGES[1], STAGES[2], STAGES[3], STAGES[4]
    );
    for (index, size) in SIZES.iter().enumerate() {
        for (mode, name) in ["greenroom", "raw"].iter().enumerate() {
            let cells: Vec<String> = (0..5)
                .map(|stage| {
                    let values: Vec<f64> = samples[index][mode]
                        .iter()
                        .map(|sample| sample[stage])
                        .collect();
                    cell(&values)
                })
                .collect();
            println!(
                "{size:>4}  {name:<9}  {:>16}  {:>16}  {:>16}  {:>16}  {:>16}",
                cells[0], cells[1], cells[2], cells[3], cells[4]
            );
        }
        let ratio: Vec<f64> = samples[index][0]
            .iter()
            .zip(&samples[index][1])
            .map(|(ours, raw)| ours[4] / raw[4])
            .collect();
        println!("{size:>4}  total greenroom / raw dlopen: {}", cell(&ratio));
    }
    println!("\ncells: median (min-max) in ms over the rounds; copy includes reading the file");
}
