//! `cargo xtask bench catalog`: the catalog family serving Backstage's
//! example catalog, beside a host serving only the `hello` plugin in the
//! same rounds: time from process start until the whole example set is
//! served (against until ready), resident memory at rest and after load,
//! and requests per second for the entity list and a by-name lookup
//! (against hello's greeting) under a loopback load.

use std::{
    net::SocketAddr,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use camino::{Utf8Path, Utf8PathBuf};
use greenroom_host::platform::{LIBRARY_EXTENSION, resident_bytes_of};

use super::{
    cell,
    http::{Sample, generate_load},
    reload::{Host, free_address},
};

const DEFAULT_ROUNDS: usize = 5;

/// The token the benchmark's configuration accepts.
const TOKEN: &str = "bench-catalog-token";

/// The catalog family, by crate directory under `plugins/`.
const FAMILY: [&str; 4] = [
    "catalog",
    "catalog-module-files",
    "catalog-module-annotate",
    "search",
];

/// What the example set serves: 26 entities plus the generated location.
const EXAMPLE_ENTITIES: usize = 27;

/// One round of one host.
struct Round {
    served_ms: f64,
    rest_mb: f64,
    loaded_mb: f64,
    samples: Vec<Sample>,
}

/// Builds in release mode and measures.
pub(crate) fn catalog(args: &[&str]) -> anyhow::Result<()> {
    let rounds = super::rounds(args, DEFAULT_ROUNDS)?;
    let mut packages = vec!["greenroom-host", "greenroom-plugin-hello"];
    let crates: Vec<String> = FAMILY
        .iter()
        .map(|name| format!("greenroom-plugin-{name}"))
        .collect();
    packages.extend(crates.iter().map(String::as_str));
    let release = super::build_release_packages(&packages)?;
    let root = crate::build::workspace()?.root;
    let examples = root.join("../shared/data/backstage-catalog/all.yaml");
    if !examples.is_file() {
        bail!("{examples} is missing: the benchmark reads Backstage's examples from ../shared");
    }
    let dir = release.join("bench-catalog");
    let baseline = plugins_dir(&release, &dir.join("baseline"), &["hello"])?;
    let family = plugins_dir(&release, &dir.join("family"), &FAMILY)?;
    println!("==> {rounds} rounds; each host is started afresh, its database emptied");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut results: [Vec<Round>; 2] = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for case in order {
            let measured = if case == 0 {
                runtime.block_on(measure_host(&release, &dir, &baseline, &examples, None))?
            } else {
                let expected = Some(EXAMPLE_ENTITIES);
                runtime.block_on(measure_host(&release, &dir, &family, &examples, expected))?
            };
            results[case].push(measured);
        }
        println!("    round {} of {rounds} done", round + 1);
    }
    print_table(&results);
    Ok(())
}

/// A plugins directory with the release libraries of `names`.
fn plugins_dir(release: &Utf8Path, dir: &Utf8Path, names: &[&str]) -> anyhow::Result<Utf8PathBuf> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    for name in names {
        let library = format!(
            "libgreenroom_plugin_{}.{LIBRARY_EXTENSION}",
            name.replace('-', "_")
        );
        std::fs::copy(
            release.join(&library),
            dir.join(format!("{name}.{LIBRARY_EXTENSION}")),
        )
        .with_context(|| format!("cannot copy {library}"))?;
    }
    Ok(dir.to_owned())
}

/// Starts the host on `plugins`; waits until it serves `expected` catalog
/// entities (or, without, until it is ready); then measures memory and
/// load.
async fn measure_host(
    release: &Utf8Path,
    dir: &Utf8Path,
    plugins: &Utf8Path,
    examples: &Utf8Path,
    expected: Option<usize>,
) -> anyhow::Result<Round> {
    let address = free_address()?;
    let work = dir.join("work");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    std::fs::write(
        work.join("app-config.yaml"),
        config(address, &work, examples),
    )?;
    let started = Instant::now();
    let mut host = Host(
        Command::new(release.join("greenroom"))
            .args(["start", "--plugins", plugins.as_str()])
            .current_dir(&work)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .context("cannot start greenroom")?,
    );
    match expected {
        Some(count) => wait_for_entities(address, count).await?,
        None => wait_ready(address).await?,
    }
    let served_ms = started.elapsed().as_secs_f64() * 1e3;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rest_mb = resident_mb(host.0.id())?;

    let authorization = format!("Authorization: Bearer {TOKEN}\r\n");
    let paths: &[&str] = match expected {
        Some(_) => &[
            "/api/catalog/entities",
            "/api/catalog/entities/by-name/component/default/petstore",
        ],
        None => &["/api/hello/greeting"],
    };
    let mut samples = Vec::new();
    for path in paths {
        samples.push(generate_load(address, path, &authorization).await?);
    }
    let loaded_mb = resident_mb(host.0.id())?;
    host.stop()?;
    Ok(Round {
        served_ms,
        rest_mb,
        loaded_mb,
        samples,
    })
}

fn config(address: SocketAddr, work: &Utf8Path, examples: &Utf8Path) -> String {
    format!(
        "backend:\n  listen: {{host: 127.0.0.1, port: {}}}\n  auth:\n    externalAccess:\n      \
         - type: static\n        options: {{token: {TOKEN}, subject: bench}}\n  database:\n    \
         directory: {work}/data\ncatalog:\n  locations:\n    - type: file\n      target: \
         {examples}\n",
        address.port()
    )
}

fn resident_mb(pid: u32) -> anyhow::Result<f64> {
    let bytes = resident_bytes_of(pid).context("this platform does not tell resident memory")?;
    Ok(bytes as f64 / 1e6)
}

async fn wait_ready(address: SocketAddr) -> anyhow::Result<()> {
    super::poll_until(address, "/.backstage/health/v1/readiness", TOKEN, |_| true).await
}

async fn wait_for_entities(address: SocketAddr, count: usize) -> anyhow::Result<()> {
    super::poll_until(
        address,
        "/api/catalog/entities?fields=kind",
        TOKEN,
        |body| {
            serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|entities| entities.as_array().map(Vec::len))
                == Some(count)
        },
    )
    .await
}

fn print_table(results: &[Vec<Round>; 2]) {
    let [baseline, family] = results;
    let column = |rounds: &[Round], pick: &dyn Fn(&Round) -> f64| {
        cell(&rounds.iter().map(pick).collect::<Vec<_>>())
    };
    let ratio = |pick: &dyn Fn(&Round) -> f64, base: &dyn Fn(&Round) -> f64| {
        let ratios: Vec<f64> = family
            .iter()
            .zip(baseline)
            .map(|(family, baseline)| pick(family) / base(baseline))
            .collect();
        cell(&ratios)
    };
    let rps = |index: usize| move |round: &Round| round.samples[index].requests_per_second;
    let p99 = |index: usize| move |round: &Round| round.samples[index].p99_micros;
    println!();
    println!(
        "{:<44}  {:>26}  {:>26}",
        "", "hello only (baseline)", "catalog family"
    );
    let row =
        |name: &str, base: String, value: String| println!("{name:<44}  {base:>26}  {value:>26}");
    row(
        "start to served, ms (baseline: to ready)",
        column(baseline, &|round| round.served_ms),
        column(family, &|round| round.served_ms),
    );
    row(
        "resident memory at rest, MB",
        column(baseline, &|round| round.rest_mb),
        column(family, &|round| round.rest_mb),
    );
    row(
        "resident memory after load, MB",
        column(baseline, &|round| round.loaded_mb),
        column(family, &|round| round.loaded_mb),
    );
    row(
        "requests/s: greeting | GET /entities (27)",
        column(baseline, &rps(0)),
        column(family, &rps(0)),
    );
    row(
        "requests/s: by-name lookup",
        String::new(),
        column(family, &rps(1)),
    );
    row(
        "p99 µs: greeting | GET /entities",
        column(baseline, &p99(0)),
        column(family, &p99(0)),
    );
    row(
        "p99 µs: by-name lookup",
        String::new(),
        column(family, &p99(1)),
    );
    println!();
    println!(
        "catalog / baseline: start to served {}, memory at rest {}, requests/s GET /entities {}, \
         by-name {}",
        ratio(&|round| round.served_ms, &|round| round.served_ms),
        ratio(&|round| round.rest_mb, &|round| round.rest_mb),
        ratio(&rps(0), &rps(0)),
        ratio(&rps(1), &rps(0)),
    );
    println!("\ncells: median (min-max) over the rounds");
}
