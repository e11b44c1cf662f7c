//! Finding the binary and the fixture libraries cargo built, scratch
//! directories for tests, and running the binary without ever blocking a test.

use std::{
    io::Read,
    process::{Command, Output, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use camino::{Utf8Path, Utf8PathBuf};

/// The directory cargo put this test binary's siblings in (`target/debug`).
pub(crate) fn target_dir() -> Utf8PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    let exe = Utf8PathBuf::from_path_buf(exe).expect("the target directory is UTF-8");
    exe.parent()
        .and_then(Utf8Path::parent)
        .expect("test binaries live in target/<profile>/deps")
        .to_owned()
}

/// The path of a built artifact, failing with the command that builds it.
fn built(name: &str) -> Utf8PathBuf {
    let path = target_dir().join(name);
    assert!(
        path.is_file(),
        "{path} is missing: build plugins and fixtures first with `cargo xtask test` \
         (or `cargo build --workspace --locked`)"
    );
    path
}

/// The `greenroom` binary.
pub(crate) fn greenroom() -> Utf8PathBuf {
    built("greenroom")
}

/// A fixture library by crate directory name, such as `register-panics`.
pub(crate) fn fixture(name: &str) -> Utf8PathBuf {
    built(&format!(
        "libgreenroom_fixture_{}.so",
        name.replace('-', "_")
    ))
}

/// A scratch directory, emptied and unique to this test.
pub(crate) fn scratch(test: &str) -> Utf8PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let number = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = target_dir()
        .join("test-scratch")
        .join(format!("{test}-{}-{number}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directories can be created");
    dir
}

/// How long one run may take before the test kills it and fails: far more
/// than any run needs, so only a run that blocks reaches it.
const DEADLINE: Duration = Duration::from_secs(60);

/// Runs `greenroom` with `args` and returns what it did.
///
/// # Panics
///
/// Panics when it does not start or still runs after [`DEADLINE`].
pub(crate) fn run_greenroom(args: &[&str]) -> Output {
    let mut command = Command::new(greenroom());
    command.args(args);
    finish(command)
}

/// Runs `command` with warnings logged and returns what it did.
///
/// # Panics
///
/// Panics when it does not start, or kills it and panics when it still runs
/// after [`DEADLINE`].
pub(crate) fn finish(mut command: Command) -> Output {
    let mut child = command
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("{command:?} does not start: {error}"));
    let stdout = drain(child.stdout.take().expect("stdout is piped"));
    let stderr = drain(child.stderr.take().expect("stderr is piped"));

    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} still ran after {DEADLINE:?} and was killed: it blocked");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: stdout.join().expect("the stdout reader does not panic"),
        stderr: stderr.join().expect("the stderr reader does not panic"),
    }
}

/// Reads a child's pipe to the end on its own thread, so a full pipe never
/// stops the child.
fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}
