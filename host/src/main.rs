//! The `greenroom` command: a thin command line over `greenroom_host`.

#![allow(clippy::print_stdout, reason = "the command line prints its results")]

use std::{process::ExitCode, time::Duration};

use camino::Utf8PathBuf;
use clap::{Args, Parser, Subcommand};
use greenroom_host::{
    Backend,
    check::{CheckOptions, DEFAULT_MAX_FILE_SIZE},
    inspect::{self, InspectOptions},
    report::{LibraryReport, render_table},
};

/// Greenroom: a plugin host for native Rust plugin libraries.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Load every plugin and run until SIGINT or SIGTERM (the default).
    Start(LoadArgs),
    /// Load every plugin in this process, print what happened, and exit
    /// non-zero if any file was refused.
    Check(LoadArgs),
    /// Describe library files, loading each in a child process.
    Inspect {
        /// Directories to scan or files to inspect [default: plugins].
        paths: Vec<Utf8PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Seconds a file may take to load before it is reported as hung.
        #[arg(long, default_value_t = 10.0)]
        timeout: f64,
        #[command(flatten)]
        limits: Limits,
    },
    /// Load one file and print its report as JSON (used by inspect).
    #[command(hide = true)]
    Probe {
        /// The library file.
        file: Utf8PathBuf,
        #[command(flatten)]
        limits: Limits,
    },
}

#[derive(Args)]
struct LoadArgs {
    /// The plugins directory.
    #[arg(long, default_value = "plugins")]
    plugins: Utf8PathBuf,
    /// Where private copies of libraries are made (must allow executable
    /// mappings) [default: the system's temporary directory].
    #[arg(long)]
    private_dir: Option<Utf8PathBuf>,
    #[command(flatten)]
    limits: Limits,
}

#[derive(Args)]
struct Limits {
    /// Refuse library files larger than this many bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_FILE_SIZE)]
    max_plugin_size: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    let command = cli.command.unwrap_or(Command::Start(LoadArgs {
        plugins: "plugins".into(),
        private_dir: None,
        limits: Limits {
            max_plugin_size: DEFAULT_MAX_FILE_SIZE,
        },
    }));
    match run(command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("greenroom: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Start(args) => start(args),
        Command::Check(args) => {
            let backend = backend(args).start()?;
            print!("{}", render_table(backend.reports()));
            let refused = backend.any_refused();
            let failures = backend.stop();
            Ok(exit_code(refused || !failures.is_empty()))
        }
        Command::Inspect {
            paths,
            json,
            timeout,
            limits,
        } => {
            let paths = if paths.is_empty() {
                vec!["plugins".into()]
            } else {
                paths
            };
            let options = InspectOptions {
                check: CheckOptions {
                    max_file_size: limits.max_plugin_size,
                },
                probe_program: Utf8PathBuf::from_path_buf(std::env::current_exe()?)
                    .map_err(|path| anyhow::anyhow!("{} is not UTF-8", path.display()))?,
                timeout: Duration::from_secs_f64(timeout),
            };
            let reports = inspect::inspect(&paths, &options)?;
            print_reports(&reports, json)?;
            Ok(exit_code(reports.iter().any(LibraryReport::is_refused)))
        }
        Command::Probe { file, limits } => {
            let backend = Backend::new()
                .no_plugins_dir()
                .max_file_size(limits.max_plugin_size)
                .file(file)
                .start()?;
            println!("{}", serde_json::to_string(&backend.reports()[0])?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn start(args: LoadArgs) -> anyhow::Result<ExitCode> {
    let backend = backend(args).start()?;
    let loaded = backend.libraries().len();
    let refused = backend
        .reports()
        .iter()
        .filter(|report| report.is_refused())
        .count();
    tracing::info!(
        loaded,
        refused,
        "greenroom started; stop it with Ctrl-C or SIGTERM"
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(wait_for_signal())?;

    tracing::info!("stopping");
    let failures = backend.stop();
    Ok(exit_code(!failures.is_empty()))
}

async fn wait_for_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

fn backend(args: LoadArgs) -> Backend {
    let backend = Backend::new()
        .plugins_dir(args.plugins)
        .max_file_size(args.limits.max_plugin_size);
    match args.private_dir {
        Some(dir) => backend.private_dir(dir),
        None => backend,
    }
}

fn print_reports(reports: &[LibraryReport], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(reports)?);
    } else {
        print!("{}", render_table(reports));
    }
    Ok(())
}

fn exit_code(failed: bool) -> ExitCode {
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
