//! Project automation, run as `cargo xtask <command>`.

#![allow(
    clippy::print_stdout,
    reason = "xtask reports to the person running it"
)]

mod bench;
mod build;
mod dev;
mod new_plugin;
mod soak;

use std::process::ExitCode;

use anyhow::{Context, bail};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  build-plugins     build every crate in plugins/ and install its library into plugins/
  new-plugin <id>   create plugins/<id> from plugin-template/, build and install it
  new-plugin <id> --module-for <pluginId>
                    create plugins/<pluginId>-<id>, the module <pluginId>/<id>, build and install it
  new-plugin <id> --out-of-tree <dir>
                    create a crate of its own in <dir>, build it there and install it
  test              build plugins and fixtures, then run fmt check, clippy and every test
  run [--catalog FILE]
                    build and install the plugins, then start greenroom from the workspace
                    root with its app-config.yaml (the catalog reads FILE if given)
  dev               build and install the plugins, start greenroom --dev, and rebuild and
                    reinstall a plugin crate when its sources change (Ctrl-C stops both)
  soak [--seconds N] [--reload-every S]
                    run the host with every plugin under loopback load, replacing a plugin
                    file every S seconds; report failures, memory, threads and generations
  bench load        time each loading stage for 1, 10 and 100 plugins beside raw dlopen
  bench http        serve one handler natively and through a plugin, compare throughput
  bench startup     time process start to ready for 1, 10 and 100 plugins, chain and fan-out
  bench reload      time a plugin file renamed over to the new generation's first response
  bench catalog     serve Backstage's example catalog beside a hello-only host: time to
                    served, memory, and requests/s for the entity list and a lookup
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> anyhow::Result<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["build-plugins"] => build::build_and_install().map(drop),
        ["new-plugin", rest @ ..] => new_plugin::new_plugin(rest),
        ["test"] => test(),
        ["run", rest @ ..] => run_host(rest),
        ["dev", rest @ ..] => dev::dev(rest),
        ["bench", rest @ ..] => bench::run(rest),
        ["soak", rest @ ..] => soak::soak(rest),
        ["bench-worker", rest @ ..] => bench::worker(rest),
        [] | ["help" | "--help" | "-h"] => {
            print!("{USAGE}");
            Ok(())
        }
        _ => bail!("unknown command `{}`\n\n{USAGE}", args.join(" ")),
    }
}

/// `cargo xtask run [--catalog FILE] [greenroom start options]`: builds
/// and installs every plugin, then starts the host from the workspace root,
/// where it reads `app-config.yaml`; `--catalog` points the catalog at
/// another location file.
fn run_host(args: &[&str]) -> anyhow::Result<()> {
    let (catalog, rest) = match args {
        ["--catalog", file, rest @ ..] => (Some(*file), rest),
        ["--catalog"] => bail!(
            "--catalog needs a location file, such as \
            ../shared/data/backstage-catalog/all.yaml"
        ),
        rest => (None, rest),
    };
    let catalog = catalog
        .map(|file| {
            std::path::absolute(file)
                .with_context(|| format!("cannot resolve the catalog location {file}"))
        })
        .transpose()?;
    let workspace = build::build_and_install()?;
    let mut command = std::process::Command::new(workspace.target_dir.join("greenroom"));
    command
        .arg("start")
        .arg("--plugins")
        .arg(workspace.root.join("plugins"))
        .args(rest)
        .current_dir(&workspace.root);
    if let Some(file) = catalog {
        let locations = serde_json::json!([{ "type": "file", "target": file }]);
        command.env("GREENROOM_CONFIG_catalog_locations", locations.to_string());
    }
    build::run(&mut command)
}

/// Builds `tests/out-of-tree`, a plugin crate with its own workspace and
/// Cargo.lock, into `target/out-of-tree` (tests cannot run cargo
/// themselves), and holds it to the workspace's formatting and lints.
fn build_out_of_tree_fixture() -> anyhow::Result<()> {
    let workspace = build::workspace()?;
    let manifest = workspace.root.join("tests/out-of-tree/Cargo.toml");
    let target = workspace
        .target_dir
        .parent()
        .context("the profile directory is inside the target directory")?
        .join("out-of-tree");
    build::cargo(
        &[
            "build",
            "--locked",
            "--manifest-path",
            manifest.as_str(),
            "--target-dir",
            target.as_str(),
        ],
        "building a plugin outside the workspace",
    )?;
    build::cargo(
        &["fmt", "--check", "--manifest-path", manifest.as_str()],
        "checking the outside plugin's formatting",
    )
    .with_context(|| format!("run `cargo fmt --manifest-path {manifest}`"))?;
    build::cargo(
        &[
            "clippy",
            "--locked",
            "--manifest-path",
            manifest.as_str(),
            "--target-dir",
            target.as_str(),
            "--",
            "-D",
            "warnings",
        ],
        "running clippy on the outside plugin",
    )
}

/// The project's test command: what CI runs.
/// The variable naming the PostgreSQL server the tests may use; without
/// it the tests that need one are skipped, and the summary says so.
const POSTGRES_VARIABLE: &str = "GREENROOM_TEST_POSTGRES";

fn test() -> anyhow::Result<()> {
    build::cargo(
        &["build", "--workspace", "--locked"],
        "building plugins, fixtures and the host",
    )?;
    build_out_of_tree_fixture()?;
    build::cargo(
        &["fmt", "--all", "--check"],
        "checking formatting (fix: cargo fmt --all)",
    )
    .context("code is not formatted: run `cargo fmt --all`")?;
    build::cargo(
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        "running clippy with warnings as errors",
    )?;
    let mut args = vec!["test", "--workspace", "--locked"];
    let postgres = std::env::var_os(POSTGRES_VARIABLE).is_some();
    if !postgres {
        args.extend(["--", "--skip", "postgres"]);
    }
    build::cargo(&args, "running every test")?;
    if postgres {
        println!("==> every check passed: formatting, clippy, tests");
    } else {
        println!(
            "==> every check passed: formatting, clippy, tests, except the PostgreSQL tests: \
             {POSTGRES_VARIABLE} is not set (.ci/run sets it; `export \
             {POSTGRES_VARIABLE}=$(.ci/postgres)` starts a server and sets it)"
        );
    }
    Ok(())
}
