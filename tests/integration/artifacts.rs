//! Finding the binary and the fixture libraries cargo built, scratch
//! directories for tests, copies of fixtures with their ids renumbered, and
//! running the binary without ever blocking a test.

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

/// A plugin library of `plugins/` by crate directory name, such as
/// `catalog`.
pub(crate) fn plugin(name: &str) -> Utf8PathBuf {
    built(&format!(
        "libgreenroom_plugin_{}.so",
        name.replace('-', "_")
    ))
}

/// A fixture library by crate directory name, such as `register-panics`.
pub(crate) fn fixture(name: &str) -> Utf8PathBuf {
    built(&format!(
        "libgreenroom_fixture_{}.so",
        name.replace('-', "_")
    ))
}

/// The library of `tests/out-of-tree`, a plugin crate with its own workspace
/// and Cargo.lock, which `cargo xtask test` builds into
/// `target/out-of-tree` after the workspace.
pub(crate) fn out_of_tree_fixture() -> Utf8PathBuf {
    let target = target_dir()
        .parent()
        .expect("the profile directory is inside the target directory")
        .join("out-of-tree");
    let path = target.join("debug/libgreenroom_fixture_out_of_tree.so");
    assert!(
        path.is_file(),
        "{path} is missing: build it first with `cargo xtask test` (or `cargo build --locked \
         --manifest-path tests/out-of-tree/Cargo.toml --target-dir {target}`)"
    );
    path
}

/// A scratch directory, emptied and unique to this test. The first call in
/// a run removes what earlier runs left.
pub(crate) fn scratch(test: &str) -> Utf8PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    static SWEEP: std::sync::Once = std::sync::Once::new();
    let root = target_dir().join("test-scratch");
    SWEEP.call_once(|| sweep(&root));
    let number = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = root.join(format!("{test}-{}-{number}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directories can be created");
    dir
}

/// Removes the scratch directories of earlier runs (named
/// `<test>-<pid>-<number>` with another pid).
fn sweep(root: &Utf8Path) {
    let own = std::process::id().to_string();
    let Ok(entries) = root.read_dir_utf8() else {
        return;
    };
    for entry in entries.flatten() {
        let mut parts = entry.file_name().rsplit('-');
        let (_, pid) = (parts.next(), parts.next());
        if pid.is_some_and(|pid| pid != own) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Polls `probe` until it returns `Some`, failing with `what` after
/// [`DEADLINE`].
pub(crate) fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let started = std::time::Instant::now();
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{what} did not happen within {DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
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
    run_greenroom_with(args, &[])
}

/// Runs `greenroom` with `args` and the environment variables `env` added,
/// and returns what it did.
///
/// # Panics
///
/// Panics when it does not start or still runs after [`DEADLINE`].
pub(crate) fn run_greenroom_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(greenroom());
    command.args(args).envs(env.iter().copied());
    finish(command)
}

/// Runs `command` with warnings logged (unless it sets `RUST_LOG` itself)
/// and returns what it did.
///
/// # Panics
///
/// Panics when it does not start, or kills it and panics when it still runs
/// after [`DEADLINE`].
pub(crate) fn finish(mut command: Command) -> Output {
    let sets_log_filter = command.get_envs().any(|(name, _)| name == "RUST_LOG");
    if !sets_log_filter {
        command.env("RUST_LOG", "warn");
    }
    let mut child = command
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

/// Copies `fixture` to `dest` with every occurrence of each `from` replaced
/// by its `to`, so that one built file can play several plugins.
///
/// # Panics
///
/// Panics when a replacement changes the length (it would move every byte
/// after it) or when the fixture does not contain a `from` at all.
pub(crate) fn renumbered(
    fixture: &Utf8Path,
    replacements: &[(&str, &str)],
    dest: &Utf8Path,
) -> Utf8PathBuf {
    let mut bytes = std::fs::read(fixture).expect("the fixture is readable");
    for (from, to) in replacements {
        assert_eq!(from.len(), to.len(), "`{from}` and `{to}` differ in length");
        let replaced = replace_all(&mut bytes, from.as_bytes(), to.as_bytes());
        assert!(replaced > 0, "{fixture} does not contain `{from}`");
    }
    std::fs::write(dest, bytes).expect("scratch files can be written");
    dest.to_owned()
}

/// Replaces every occurrence of `from` in `bytes` by `to`, of the same
/// length, and returns how many there were.
fn replace_all(bytes: &mut [u8], from: &[u8], to: &[u8]) -> usize {
    let mut count = 0;
    let mut start = 0;
    while start + from.len() <= bytes.len() {
        if bytes[start..].starts_with(from) {
            bytes[start..start + from.len()].copy_from_slice(to);
            count += 1;
            start += from.len();
        } else {
            start += 1;
        }
    }
    count
}

/// The id the specimen fixtures are built with, renumbered in copies.
const SPECIMEN_PLUGIN: &str = "specimen-0000";
/// The module id the specimen-module fixture is built with.
const SPECIMEN_MODULE: &str = "addition-0000";

/// A copy of a specimen fixture: what the copy declares, by renumbered id.
/// What it needs and does comes from `GREENROOM_SPECIMEN` in the run.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Specimen {
    /// A plugin, such as `specimen-0001`.
    Plugin(&'static str),
    /// A module `(plugin, module)`, such as `("specimen-0001", "addition-0001")`.
    Module(&'static str, &'static str),
}

impl Specimen {
    /// A name for the copy's file that says what it declares.
    pub(crate) fn label(self) -> String {
        match self {
            Self::Plugin(plugin) => plugin.to_string(),
            Self::Module(plugin, module) => format!("{plugin}-{module}"),
        }
    }

    /// Writes the renumbered copy to `dest`.
    pub(crate) fn write(self, dest: &Utf8Path) -> Utf8PathBuf {
        match self {
            Self::Plugin(plugin) => {
                renumbered(&fixture("specimen"), &[(SPECIMEN_PLUGIN, plugin)], dest)
            }
            Self::Module(plugin, module) => renumbered(
                &fixture("specimen-module"),
                &[(SPECIMEN_PLUGIN, plugin), (SPECIMEN_MODULE, module)],
                dest,
            ),
        }
    }
}

/// Writes a copy of each of `specimens` into `dir`, named after what it
/// declares, and returns the paths in the same order.
pub(crate) fn write_specimens(dir: &Utf8Path, specimens: &[Specimen]) -> Vec<Utf8PathBuf> {
    specimens
        .iter()
        .map(|specimen| specimen.write(&dir.join(format!("{}.so", specimen.label()))))
        .collect()
}

/// Links `files` into `dir` under names that make them load in `order`
/// (indices into `files`, first loaded first), and returns the links in the
/// order of `files`. Hard links, so that many layouts cost no disk space.
pub(crate) fn lay_out(dir: &Utf8Path, files: &[Utf8PathBuf], order: &[usize]) -> Vec<Utf8PathBuf> {
    let mut links = vec![Utf8PathBuf::new(); files.len()];
    for (position, &index) in order.iter().enumerate() {
        let name = files[index].file_name().expect("copies have file names");
        let link = dir.join(format!("{position:02}-{name}"));
        std::fs::hard_link(&files[index], &link).expect("scratch files can be linked");
        links[index] = link;
    }
    links
}

/// Load orders for `count` files: every rotation of the natural order and of
/// its reverse (for three files, every permutation), without repeats.
pub(crate) fn load_orders(count: usize) -> Vec<Vec<usize>> {
    let forward: Vec<usize> = (0..count).collect();
    let backward: Vec<usize> = (0..count).rev().collect();
    let mut orders: Vec<Vec<usize>> = Vec::new();
    for base in [forward, backward] {
        for shift in 0..count.max(1) {
            let mut order = base.clone();
            order.rotate_left(shift);
            if !orders.contains(&order) {
                orders.push(order);
            }
        }
    }
    orders
}

/// Sends `GET path` to a server on this machine and returns the status code
/// and the body.
///
/// # Panics
///
/// Panics when the server cannot be reached or does not answer within
/// [`DEADLINE`].
pub(crate) fn http_get(address: std::net::SocketAddr, path: &str) -> (u16, String) {
    http_get_as(address, path, None)
}

/// Sends `GET path` to `address`, with `token` as a bearer credential.
pub(crate) fn http_get_as(
    address: std::net::SocketAddr,
    path: &str,
    token: Option<&str>,
) -> (u16, String) {
    http_request(address, "GET", path, token, None)
}

/// Sends `method path` to `address`, with `token` as a bearer credential
/// and `body` as JSON, and returns the status code and the body.
///
/// # Panics
///
/// As [`http_get`].
pub(crate) fn http_request(
    address: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    use std::io::Write as _;

    let mut stream = std::net::TcpStream::connect(address)
        .unwrap_or_else(|error| panic!("cannot connect to {address}: {error}"));
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("a read timeout can be set");
    let authorization = token
        .map(|token| format!("Authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    let content = body
        .map(|body| {
            format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            )
        })
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{authorization}{content}\
         Connection: close\r\n\r\n{}",
        body.unwrap_or_default()
    )
    .expect("the request can be sent");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("the response can be read");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("an HTTP response: {response}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {head}"));
    (status, body.to_string())
}

/// A runtime for a test that drives a host in process: two workers, so
/// that plugins waiting for each other do not stall it.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime starts")
}
