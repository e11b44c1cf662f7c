//! The `greenroom` command: a thin command line over `greenroom_host`.

#![allow(clippy::print_stdout, reason = "the command line prints its results")]

use std::{process::ExitCode, time::Duration};

use camino::Utf8PathBuf;
use clap::{Args, Parser, Subcommand};
use greenroom_host::{
    Backend, LoadedBackend, StartError,
    check::{CheckOptions, DEFAULT_MAX_FILE_SIZE},
    config::{self, Config, ConfigLoader, ENVIRONMENT_VARIABLE, HostSettings, PluginSchemas},
    initialize::StartupReport,
    inspect::{self, InspectOptions},
    platform,
    report::{LibraryReport, render_plan, render_table},
    resolve::{GraphFormat, Source, render_graph},
};

/// Greenroom: a plugin host for native Rust plugin libraries.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// How log lines are written to stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Load every plugin and run until SIGINT or SIGTERM (the default).
    Start {
        #[command(flatten)]
        load: LoadArgs,
        /// Initialize, shut down at once, and print the startup report as
        /// JSON (with the process's thread count before loading and after
        /// stopping); exit non-zero if the start failed or a plugin file
        /// was refused.
        #[arg(long)]
        once: bool,
        /// Where to serve HTTP [default: backend.listen.host and port, else
        /// 127.0.0.1:7007; with --once, nowhere].
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Development mode: watch the configuration files and hand plugins
        /// each change that passes every check (also when
        /// GREENROOM_ENV=development).
        #[arg(long)]
        dev: bool,
    },
    /// Load and resolve every plugin in this process without initializing
    /// any; print each file's status and the plan (or every problem), and
    /// exit non-zero if a file was refused or the plugins cannot start.
    Check(LoadArgs),
    /// Check or print the configuration (app-config*.yaml and
    /// GREENROOM_CONFIG_* variables).
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Print the resolved graph of plugins and modules.
    Graph {
        #[command(flatten)]
        load: LoadArgs,
        /// The output format.
        #[arg(long, value_enum, default_value_t = Format::Dot)]
        format: Format,
    },
    /// Describe library files, loading each in a child process.
    Inspect {
        /// Directories to scan or files to inspect [default: plugins].
        paths: Vec<Utf8PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Seconds a file may take to load before it is reported as hung.
        #[arg(long, default_value = "10", value_parser = seconds)]
        timeout: Duration,
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

#[derive(Subcommand)]
enum ConfigCommand {
    /// Load the configuration, check it against the host's schema and every
    /// plugin's, print every problem, and exit 1 on any error.
    Check {
        #[command(flatten)]
        args: ConfigArgs,
        /// Treat keys no schema declares as errors, not warnings.
        #[arg(long)]
        strict: bool,
    },
    /// Print the merged configuration as YAML, secrets shown as <secret>.
    Print {
        #[command(flatten)]
        args: ConfigArgs,
    },
}

#[derive(Args)]
struct ConfigArgs {
    /// Read this file instead of the app-config*.yaml files; repeat it for
    /// several, the last one winning.
    #[arg(long = "config", value_name = "FILE")]
    files: Vec<Utf8PathBuf>,
    /// The plugins directory whose schemas apply [default:
    /// backend.plugins.dir, else plugins when it exists].
    #[arg(long, value_name = "DIR")]
    plugins: Option<Utf8PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Dot,
    Mermaid,
}

#[derive(Args, Default)]
struct LoadArgs {
    /// The plugins directory [default: backend.plugins.dir, else plugins].
    #[arg(long)]
    plugins: Option<Utf8PathBuf>,
    /// Read this file instead of the app-config*.yaml files; repeat it for
    /// several, the last one winning.
    #[arg(long = "config", value_name = "FILE")]
    config_files: Vec<Utf8PathBuf>,
    /// Treat configuration keys no schema declares as errors, not warnings.
    #[arg(long)]
    strict: bool,
    /// Where private copies of libraries are made (must allow executable
    /// mappings) [default: the system's temporary directory].
    #[arg(long)]
    private_dir: Option<Utf8PathBuf>,
    #[command(flatten)]
    limits: Limits,
    /// Seconds a plugin's or module's initialization may take [default:
    /// backend.startup.initTimeout, else 30].
    #[arg(long, value_parser = seconds)]
    init_timeout: Option<Duration>,
    /// Seconds a lifecycle hook may take [default:
    /// backend.startup.hookTimeout, else 10].
    #[arg(long, value_parser = seconds)]
    hook_timeout: Option<Duration>,
    /// Load each plugin file in a child process first, so one that crashes
    /// or hangs while loading is refused instead of taking the host down
    /// (on with --dev; costs a process start per file).
    #[arg(long)]
    probe: bool,
}

#[derive(Args)]
struct Limits {
    /// Refuse library files larger than this many bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_FILE_SIZE)]
    max_plugin_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_plugin_size: DEFAULT_MAX_FILE_SIZE,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    install_logging(cli.log_format, cli.command.as_ref());
    std::panic::set_hook(Box::new(|info| {
        tracing::error!(target: "greenroom::panic", "panicked: {info}");
    }));

    let command = cli.command.unwrap_or(Command::Start {
        load: LoadArgs::default(),
        once: false,
        listen: None,
        dev: false,
    });
    match run(command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("greenroom: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Logs to stderr: `info` for `start`, only warnings for the commands whose
/// output is their report; `RUST_LOG` overrides either.
fn install_logging(format: LogFormat, command: Option<&Command>) {
    use std::io::IsTerminal as _;

    let default = match command {
        None | Some(Command::Start { .. }) => "info",
        // The other commands' output is their report.
        Some(_) => "off",
    };
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Start {
            load,
            once,
            listen,
            dev,
        } => start(load, once, listen, dev),
        Command::Check(args) => {
            let (backend, _) = match configured(args)? {
                Ok(configured) => configured,
                Err(code) => return Ok(code),
            };
            let backend = backend.load()?;
            print!("{}", render_table(backend.reports()));
            let config_errors = backend.config_errors();
            for problem in backend.config_problems() {
                let level = if config_errors.contains(problem) {
                    "error"
                } else {
                    "warning"
                };
                println!("{level}: {problem}");
            }
            let resolution = backend.resolution();
            match resolution {
                Ok(plan) => print!("{}", render_plan(plan)),
                Err(problems) => {
                    println!("\nthe plugins cannot start together:");
                    for problem in problems {
                        println!("  {problem}");
                    }
                }
            }
            let failed = backend.any_refused() || resolution.is_err() || !config_errors.is_empty();
            Ok(exit_code(failed))
        }
        Command::Config { command } => config_command(command),
        Command::Graph { load, format } => {
            let (backend, _) = match configured(load)? {
                Ok(configured) => configured,
                Err(code) => return Ok(code),
            };
            let backend = backend.load()?;
            let plan = match backend.resolution() {
                Ok(plan) => plan,
                Err(problems) => {
                    for problem in problems {
                        eprintln!("greenroom: {problem}");
                    }
                    return Ok(ExitCode::FAILURE);
                }
            };
            let origins = backend.sources();
            let sources: Vec<Source<'_>> = origins
                .iter()
                .map(|(origin, features)| Source { origin, features })
                .collect();
            let format = match format {
                Format::Dot => GraphFormat::Dot,
                Format::Mermaid => GraphFormat::Mermaid,
            };
            print!("{}", render_graph(plan, &sources, format));
            // A refused file is not in the graph: say so, as check does.
            for report in backend.reports() {
                if let greenroom_host::report::Status::Refused { reason, .. } = &report.status {
                    eprintln!(
                        "greenroom: {} was refused and is not in the graph: {reason}",
                        report.file
                    );
                }
            }
            Ok(exit_code(backend.any_refused()))
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
                    ..CheckOptions::default()
                },
                probe_program: Utf8PathBuf::from_path_buf(std::env::current_exe()?)
                    .map_err(|path| anyhow::anyhow!("{} is not UTF-8", path.display()))?,
                timeout,
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
                .load()?;
            println!("{}", serde_json::to_string(&backend.reports()[0])?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn start(
    args: LoadArgs,
    once: bool,
    listen: Option<std::net::SocketAddr>,
    dev: bool,
) -> anyhow::Result<ExitCode> {
    let threads_before = platform::thread_count();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let loader = config_loader(&args.config_files);
    let dev = dev || std::env::var(ENVIRONMENT_VARIABLE).is_ok_and(|env| env == "development");
    let args = LoadArgs {
        probe: args.probe || dev,
        ..args
    };
    let (backend, settings) = match configured(args)? {
        Ok(configured) => configured,
        Err(code) => return Ok(code),
    };
    let address = match (listen, once) {
        (Some(address), _) => Some(address),
        (None, false) => Some(settings.listen),
        (None, true) => None,
    };
    // A taken address is found before any library's constructors run.
    if let Some(address) = address
        && let Err(error) = std::net::TcpListener::bind(address)
    {
        anyhow::bail!(
            "cannot listen on {address}: {error}; choose another address with --listen or \
             backend.listen.port"
        );
    }
    let backend = match address {
        Some(address) => backend.listen(address),
        None => backend,
    };
    let backend = if dev && !once {
        tracing::info!(
            "development mode: configuration changes and plugin files apply while running"
        );
        backend.watch_config(loader).watch_plugins(true)
    } else {
        backend
    };
    let backend = backend.load()?;
    let outcome = runtime.block_on(run_backend(backend, once))?;
    drop(runtime);

    if once {
        let summary = serde_json::json!({
            "startup": outcome.report,
            "problems": outcome.problems,
            "stop_failures": outcome.stop_failures,
            "threads_before_load": threads_before,
            "threads_after_stop": platform::thread_count(),
        });
        println!("{}", serde_json::to_string_pretty(&summary)?);
    }
    Ok(exit_code(!outcome.ok))
}

/// What running the backend came to.
struct Outcome {
    ok: bool,
    report: Option<StartupReport>,
    /// Why it did not start, or which plugin files were refused.
    problems: Vec<String>,
    stop_failures: Vec<String>,
}

async fn run_backend(backend: LoadedBackend, once: bool) -> anyhow::Result<Outcome> {
    let running = match backend.start().await {
        Ok(running) => running,
        Err(error) => {
            tracing::error!("{error}");
            let (report, problems, stop_failures) = match error {
                StartError::Aborted {
                    report,
                    stop_failures,
                } => (Some(*report), Vec::new(), stop_failures),
                StartError::Resolve(problems) => (
                    None,
                    problems.iter().map(ToString::to_string).collect(),
                    Vec::new(),
                ),
                other => (None, vec![other.to_string()], Vec::new()),
            };
            return Ok(Outcome {
                ok: false,
                report,
                problems,
                stop_failures,
            });
        }
    };
    let mut running = running;
    let report = running.report().clone();
    let refused: Vec<String> = running
        .reports()
        .iter()
        .filter(|library| library.is_refused())
        .map(LibraryReport::status_line)
        .collect();
    if !refused.is_empty() {
        tracing::warn!(
            refused = refused.len(),
            "some plugin files were refused; see above"
        );
    }
    if !once {
        let plugins = report.plugins.len();
        tracing::info!(plugins, "greenroom started; stop it with Ctrl-C or SIGTERM");
        let signal = wait_for_signal();
        tokio::pin!(signal);
        loop {
            tokio::select! {
                result = &mut signal => break result?,
                // Each change runs to its end before a signal is handled.
                Some(_) = running.follow_plugin_files() => {}
            }
        }
        tracing::info!("stopping (a second signal exits at once)");
        tokio::spawn(async {
            if wait_for_signal().await.is_ok() {
                tracing::warn!("second signal: exiting without finishing shutdown");
                std::process::exit(130);
            }
        });
    }
    let stop_failures = running.stop().await;
    tracing::info!(failures = stop_failures.len(), "stopped");
    Ok(Outcome {
        ok: stop_failures.is_empty() && refused.is_empty(),
        report: once.then_some(report),
        problems: refused,
        stop_failures,
    })
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

/// The configuration loader for `files` (the app-config*.yaml files of the
/// working directory when there are none) with this process's environment.
fn config_loader(files: &[Utf8PathBuf]) -> ConfigLoader {
    files
        .iter()
        .fold(ConfigLoader::new().process_env(), |loader, file| {
            loader.file(file)
        })
}

/// Loads the configuration, printing every error to stderr (`Err` with the
/// exit code when there is one).
fn load_config(files: &[Utf8PathBuf]) -> Result<(Config, HostSettings), ExitCode> {
    let loaded = config_loader(files).load().and_then(|config| {
        let settings = HostSettings::from_config(&config)?;
        Ok((config, settings))
    });
    loaded.map_err(|errors| {
        errors.iter().for_each(|error| eprintln!("error: {error}"));
        ExitCode::FAILURE
    })
}

/// A backend configured by the files and the command line, the command line
/// winning; `Err` with the exit code when the configuration is unusable.
fn configured(args: LoadArgs) -> anyhow::Result<Result<(Backend, HostSettings), ExitCode>> {
    let (config, settings) = match load_config(&args.config_files) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(Err(code)),
    };
    let mut backend = Backend::new()
        .settings(&settings)
        .app_config(config)
        .strict_config(args.strict)
        .max_file_size(args.limits.max_plugin_size);
    if let Some(dir) = args.plugins {
        backend = backend.plugins_dir(dir);
    }
    if let Some(timeout) = args.init_timeout {
        backend = backend.init_timeout(timeout);
    }
    if let Some(timeout) = args.hook_timeout {
        backend = backend.hook_timeout(timeout);
    }
    if let Some(dir) = args.private_dir {
        backend = backend.private_dir(dir);
    }
    if args.probe {
        let program = Utf8PathBuf::from_path_buf(std::env::current_exe()?)
            .map_err(|path| anyhow::anyhow!("{} is not UTF-8", path.display()))?;
        backend = backend.probe_with(program, Duration::from_secs(10));
    }
    Ok(Ok((backend, settings)))
}

fn print_reports(reports: &[LibraryReport], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(reports)?);
    } else {
        print!("{}", render_table(reports));
    }
    Ok(())
}

fn config_command(command: ConfigCommand) -> anyhow::Result<ExitCode> {
    let (ConfigCommand::Check { args, .. } | ConfigCommand::Print { args }) = &command;
    let loaded = config_loader(&args.files)
        .load()
        .map_err(|errors| errors.0)
        .and_then(|config| {
            let dir = config::plugins_dir(&config, args.plugins.clone()).map_err(|e| vec![e])?;
            Ok((config, dir))
        });
    let (config, dir) = match loaded {
        Ok(loaded) => loaded,
        Err(errors) => {
            errors.iter().for_each(|error| eprintln!("error: {error}"));
            return Ok(ExitCode::FAILURE);
        }
    };
    let schemas = match dir {
        Some(dir) => PluginSchemas::from_dir(&dir)?,
        None => PluginSchemas::none(),
    };

    match command {
        ConfigCommand::Check { strict, .. } => {
            let report = config::check_config(&config, &schemas, strict);
            print!("{}", report.render());
            Ok(exit_code(report.failed()))
        }
        ConfigCommand::Print { .. } => {
            print!("{}", config::print_config(&config, &schemas));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Parses a positive number of seconds.
fn seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(0.001..=86_400.0).contains(&value) {
        return Err(format!(
            "`{text}` is out of range: give at least 0.001 and at most 86400 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(value))
}

fn exit_code(failed: bool) -> ExitCode {
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
