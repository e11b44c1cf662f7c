//! Bad files in a plugins directory: each is refused with its reason, a good
//! plugin next to it still loads, and greenroom neither crashes nor blocks.
//! A file replaced while it loads is loaded as exactly the bytes checked.

use std::{
    os::unix::{fs::PermissionsExt, process::ExitStatusExt},
    process::{Command, Output},
    sync::mpsc::Receiver,
};

use camino::{Utf8Path, Utf8PathBuf};
use greenroom_host::{
    Backend,
    report::{LibraryReport, Stage, Status},
};
use sha2::{Digest, Sha256};

use crate::artifacts::{finish, fixture, greenroom, run_greenroom, scratch};

/// The user and group `nobody`, for the run that must not read a file.
const NOBODY: u32 = 65534;

/// The output of a run as text, for assertions and failure messages.
pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("greenroom prints UTF-8")
}

/// Asserts that greenroom exited by itself with `code`.
pub(crate) fn assert_exit(output: &Output, code: i32) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let shown = format!("stdout:\n{}\nstderr:\n{stderr}", stdout(output));
    assert_eq!(
        output.status.signal(),
        None,
        "greenroom was killed by a signal\n{shown}"
    );
    assert_eq!(
        output.status.code(),
        Some(code),
        "unexpected exit status\n{shown}"
    );
}

/// The status line of `file` in a table: the one line that starts with
/// `ok` or `refused` and the file's path.
pub(crate) fn status_line<'a>(table: &'a str, file: &Utf8Path) -> &'a str {
    let refused = format!("refused {file}: ");
    let ok = format!("ok      {file}");
    let lines: Vec<&str> = table
        .lines()
        .filter(|line| line.starts_with(&refused) || *line == ok)
        .collect();
    assert_eq!(lines.len(), 1, "one status line for {file} in:\n{table}");
    lines[0]
}

/// Asserts that `file` was refused with exactly `reason`.
pub(crate) fn assert_refused(table: &str, file: &Utf8Path, reason: &str) {
    assert_eq!(
        status_line(table, file),
        format!("refused {file}: {reason}")
    );
}

/// Asserts that `file` loaded.
pub(crate) fn assert_ok(table: &str, file: &Utf8Path) {
    assert_eq!(status_line(table, file), format!("ok      {file}"));
}

/// A scratch directory holding a copy of the good fixture `minimal`.
pub(crate) fn dir_with_good_plugin(test: &str) -> (Utf8PathBuf, Utf8PathBuf) {
    let dir = scratch(test);
    let good = copy_fixture("minimal", &dir, "minimal.so");
    (dir, good)
}

/// Copies the fixture `name` into `dir` as `file_name`.
pub(crate) fn copy_fixture(name: &str, dir: &Utf8Path, file_name: &str) -> Utf8PathBuf {
    let path = dir.join(file_name);
    std::fs::copy(fixture(name), &path).expect("fixtures can be copied");
    path
}

/// Runs `greenroom check` over `dir`, asserts that it refused something
/// and that `good` still loaded, and returns the table it printed.
pub(crate) fn check_refusing(dir: &Utf8Path, good: &Utf8Path) -> String {
    let output = run_greenroom(&["check", "--plugins", dir.as_str()]);
    assert_exit(&output, 1);
    let table = stdout(&output);
    assert_ok(&table, good);
    table
}

/// Writes `bytes` to `dir/name` and returns the path.
fn write(dir: &Utf8Path, name: &str, bytes: &[u8]) -> Utf8PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("scratch files can be written");
    path
}

/// `len` bytes from a xorshift generator seeded with `seed`.
fn xorshift_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 32) as u8
    };
    (0..len).map(|_| next()).collect()
}

/// Makes a FIFO at `path` with `mkfifo`.
fn make_fifo(path: &Utf8Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {path} failed: {status}");
}

/// The reason given for bytes that are no object file at all.
const NOT_OBJECT: &str =
    "not a shared library: no known object file header; plugins are built as cdylib crates";
/// The end of the reason given for an entry that is not a regular file.
const NOT_REGULAR: &str = "is not a plugin file; only regular files are loaded";

#[test]
fn an_empty_file_is_refused_as_empty() {
    let (dir, good) = dir_with_good_plugin("empty");
    let empty = write(&dir, "empty.so", b"");

    let table = check_refusing(&dir, &good);

    assert_refused(&table, &empty, "the file is empty; reinstall the plugin");
}

#[test]
fn random_bytes_are_refused_as_not_a_shared_library() {
    let (dir, good) = dir_with_good_plugin("random");
    let random = write(
        &dir,
        "random.so",
        &xorshift_bytes(0x5eed_1234_abcd_ef01, 64 * 1024),
    );

    let table = check_refusing(&dir, &good);

    assert_refused(&table, &random, NOT_OBJECT);
}

#[test]
fn a_text_file_is_refused_as_not_a_shared_library() {
    let (dir, good) = dir_with_good_plugin("text");
    let text = write(&dir, "notes.so", b"These are notes, not a plugin.\n");

    let table = check_refusing(&dir, &good);

    assert_refused(&table, &text, NOT_OBJECT);
}

#[test]
fn every_truncation_of_a_plugin_is_refused_without_loading_it() {
    let (dir, good) = dir_with_good_plugin("truncated");
    let bytes = std::fs::read(fixture("minimal")).expect("the fixture is readable");
    let mut lengths = vec![1024, bytes.len() / 2];
    lengths.extend((4096..bytes.len()).step_by(4096));
    let truncated: Vec<Utf8PathBuf> = lengths
        .iter()
        .map(|&len| write(&dir, &format!("truncated-{len:07}.so"), &bytes[..len]))
        .collect();

    let table = check_refusing(&dir, &good);

    assert!(truncated.len() > 200, "{} truncations", truncated.len());
    for file in &truncated {
        assert_refused(
            &table,
            file,
            "a damaged shared library (Invalid ELF section header offset/size/alignment); \
             reinstall the plugin, it may be truncated",
        );
    }
}

#[test]
fn a_directory_named_like_a_library_is_refused() {
    let (dir, good) = dir_with_good_plugin("directory");
    let directory = dir.join("x.so");
    std::fs::create_dir(&directory).expect("scratch directories can be created");

    let table = check_refusing(&dir, &good);

    assert_refused(&table, &directory, &format!("a directory {NOT_REGULAR}"));
}

#[test]
fn a_fifo_named_like_a_library_is_refused_without_blocking() {
    let (dir, good) = dir_with_good_plugin("fifo");
    let fifo = dir.join("x.so");
    make_fifo(&fifo);

    let table = check_refusing(&dir, &good);

    assert_refused(&table, &fifo, &format!("a FIFO {NOT_REGULAR}"));
}

#[test]
fn a_symlink_to_a_good_plugin_loads() {
    let dir = scratch("symlink-good");
    let link = dir.join("linked.so");
    std::os::unix::fs::symlink(fixture("minimal"), &link).expect("symlinks can be made");

    let output = run_greenroom(&["check", "--plugins", dir.as_str()]);

    assert_exit(&output, 0);
    assert_ok(&stdout(&output), &link);
}

#[test]
fn a_dangling_symlink_is_refused() {
    let (dir, good) = dir_with_good_plugin("symlink-dangling");
    let link = dir.join("dangling.so");
    std::os::unix::fs::symlink(dir.join("nothing-here.so"), &link).expect("symlinks can be made");

    let table = check_refusing(&dir, &good);

    assert_refused(
        &table,
        &link,
        &format!(
            "a symbolic link to {}, which does not exist; fix or remove the link",
            dir.join("nothing-here.so")
        ),
    );
}

#[test]
fn a_symlink_to_a_fifo_is_refused_without_blocking() {
    let (dir, good) = dir_with_good_plugin("symlink-fifo");
    let fifo = dir.join("pipe");
    make_fifo(&fifo);
    let link = dir.join("pipe.so");
    std::os::unix::fs::symlink(&fifo, &link).expect("symlinks can be made");

    let table = check_refusing(&dir, &good);

    assert_refused(
        &table,
        &link,
        &format!("a symbolic link to a FIFO {NOT_REGULAR}"),
    );
}

#[test]
fn a_file_above_the_size_limit_is_refused_naming_both_sizes() {
    let dir = scratch("too-large");
    let large = copy_fixture("minimal", &dir, "large.so");
    let at_limit = write(&dir, "at-limit.so", &[b'x'; 1000]);

    let output = run_greenroom(&[
        "check",
        "--plugins",
        dir.as_str(),
        "--max-plugin-size",
        "1000",
    ]);

    assert_exit(&output, 1);
    let table = stdout(&output);
    let size = std::fs::metadata(&large).expect("the copy exists").len();
    assert_refused(
        &table,
        &large,
        &format!(
            "the file is {size} bytes, above the limit of 1000 bytes; raise the limit with \
             --max-plugin-size if the file is trusted"
        ),
    );
    assert_refused(&table, &at_limit, NOT_OBJECT);
}

#[test]
fn a_plugin_one_byte_above_the_size_limit_is_refused_and_one_at_it_loads() {
    let (dir, good) = dir_with_good_plugin("size-limit");
    let mut bytes = std::fs::read(&good).expect("the copy is readable");
    let limit = bytes.len().to_string();
    bytes.push(0);
    let large = write(&dir, "large.so", &bytes);

    let output = run_greenroom(&[
        "check",
        "--plugins",
        dir.as_str(),
        "--max-plugin-size",
        &limit,
    ]);

    assert_exit(&output, 1);
    let table = stdout(&output);
    assert_ok(&table, &good);
    assert_refused(
        &table,
        &large,
        &format!(
            "the file is {} bytes, above the limit of {limit} bytes; raise the limit with \
             --max-plugin-size if the file is trusted",
            bytes.len()
        ),
    );
}

#[test]
fn a_file_the_user_cannot_read_is_refused() {
    let (dir, good) = dir_with_good_plugin("unreadable");
    let secret = copy_fixture("minimal", &dir, "secret.so");
    set_mode(&secret, 0o600);
    set_mode(&good, 0o644);
    set_mode(&dir, 0o755);
    set_mode(
        dir.parent().expect("scratch directories have a parent"),
        0o755,
    );
    let private = scratch("unreadable-private");
    std::os::unix::fs::chown(&private, Some(NOBODY), Some(NOBODY)).expect("root can chown");

    let output = run_as_nobody(&[
        "check",
        "--plugins",
        dir.as_str(),
        "--private-dir",
        private.as_str(),
    ]);

    assert_exit(&output, 1);
    let table = stdout(&output);
    assert_ok(&table, &good);
    assert_refused(
        &table,
        &secret,
        "cannot read the file: Permission denied (os error 13); make it readable by the user \
         running greenroom",
    );
}

/// Sets the permission bits of `path`.
fn set_mode(path: &Utf8Path, mode: u32) {
    let permissions = std::fs::Permissions::from_mode(mode);
    std::fs::set_permissions(path, permissions).expect("scratch permissions can be set");
}

/// Runs `greenroom` as the user `nobody`, through `setpriv`.
fn run_as_nobody(args: &[&str]) -> Output {
    let found = Command::new("setpriv").arg("--version").output();
    assert!(
        found.is_ok_and(|output| output.status.success()),
        "setpriv is needed to run greenroom as another user: install util-linux \
         (apt-get install util-linux)"
    );
    let mut command = Command::new("setpriv");
    command
        .arg(format!("--reuid={NOBODY}"))
        .arg(format!("--regid={NOBODY}"))
        .arg("--clear-groups")
        .arg(greenroom())
        .args(args)
        .current_dir("/");
    finish(command)
}

#[test]
fn a_shared_library_that_is_not_a_plugin_is_refused() {
    let (dir, good) = dir_with_good_plugin("not-a-plugin");
    let library = copy_fixture("not-a-plugin", &dir, "library.so");

    let table = check_refusing(&dir, &good);

    assert_refused(
        &table,
        &library,
        "a shared library but not a Greenroom plugin: it exports no GREENROOM_DECLARATION; \
         build it with greenroom_sdk::export!",
    );
}

#[test]
fn an_executable_program_is_refused() {
    let (dir, good) = dir_with_good_plugin("executable");
    let program = dir.join("x.so");
    std::fs::copy("/bin/true", &program).expect("/bin/true can be copied");

    let table = check_refusing(&dir, &good);

    assert_refused(
        &table,
        &program,
        "an executable program, not a shared library; build the plugin with \
         crate-type = [\"cdylib\"]",
    );
}

#[test]
fn a_second_file_declaring_the_same_plugin_is_refused_naming_the_first() {
    let dir = scratch("duplicate");
    let first = copy_fixture("minimal", &dir, "a.so");
    let second = copy_fixture("minimal", &dir, "b.so");

    let table = check_refusing(&dir, &first);

    assert_refused(
        &table,
        &second,
        &format!(
            "plugin `minimal` is already provided by {first}, which comes first (files are taken in \
             name order); remove one of the two files"
        ),
    );
}

#[test]
fn a_constructor_that_crashes_is_reported_by_inspect_which_goes_on() {
    let (dir, good) = dir_with_good_plugin("constructor-crash");
    let crash = copy_fixture("constructor-crash", &dir, "crash.so");

    let output = run_greenroom(&["inspect", dir.as_str()]);

    assert_exit(&output, 1);
    let table = stdout(&output);
    assert_ok(&table, &good);
    assert_refused(
        &table,
        &crash,
        "crashed with SIGSEGV while loading: a constructor in the library, its registration, or \
         the dynamic loader on a damaged file; rebuild or remove it",
    );
}

/// One of the two fixtures a swapped file alternates between, and what
/// loading it must report.
struct Swapped {
    bytes: Vec<u8>,
    library: &'static str,
    sha256: String,
    status: Status,
}

impl Swapped {
    fn new(name: &str, library: &'static str, status: Status) -> Self {
        let bytes = std::fs::read(fixture(name)).expect("the fixture is readable");
        let sha256 = greenroom_host::check::hex(&Sha256::digest(&bytes));
        Self {
            bytes,
            library,
            sha256,
            status,
        }
    }
}

/// Replaces `path` by the other version for every message until the sender
/// is dropped, atomically: a temporary file is written, then renamed.
fn swap_on_request(requests: Receiver<()>, path: &Utf8Path, versions: &[Swapped; 2]) {
    let temporary = path.with_file_name(".next.so");
    for (swaps, ()) in requests.into_iter().enumerate() {
        let next = &versions[(swaps + 1) % 2];
        std::fs::write(&temporary, &next.bytes).expect("scratch is writable");
        std::fs::rename(&temporary, path).expect("a scratch file can be renamed");
    }
}

/// Asserts that `report` describes exactly the bytes of the version whose
/// library it names, and that those bytes are what ran.
fn assert_loaded_as_checked(report: &LibraryReport, versions: &[Swapped; 2]) {
    let library = report
        .library
        .as_deref()
        .expect("the file passed the check stage");
    let version = versions
        .iter()
        .find(|version| version.library == library)
        .unwrap_or_else(|| panic!("a library that is neither fixture: {report:?}"));
    assert_eq!(
        report.sha256.as_deref(),
        Some(version.sha256.as_str()),
        "{report:?}"
    );
    assert_eq!(report.status, version.status, "{report:?}");
    let registered: Vec<String> = report
        .features
        .iter()
        .flat_map(|features| features.plugins.iter().map(|plugin| plugin.id.to_string()))
        .collect();
    let expected: &[&str] = if version.status == Status::Ok {
        &["minimal"]
    } else {
        &[]
    };
    assert_eq!(registered, expected, "{report:?}");
}

/// How many times the race test replaces the file, one start for each.
const SWAPS: usize = 50;

#[test]
fn a_file_replaced_while_loading_loads_exactly_the_bytes_that_were_checked() {
    let dir = scratch("swapped");
    let path = dir.join("plugin.so");
    let fails = Status::Refused {
        stage: Stage::Register,
        reason: "registration failed: registering `fails` failed: this fixture always refuses \
                 to register"
            .to_string(),
    };
    let versions = [
        Swapped::new("minimal", "greenroom-fixture-minimal", Status::Ok),
        Swapped::new("register-fails", "greenroom-fixture-register-fails", fails),
    ];
    std::fs::write(&path, &versions[0].bytes).expect("scratch is writable");

    // Each start asks for one swap and begins at once, so the file is
    // replaced while it is read, checked, copied or opened: wherever the
    // rename lands, the report must describe one fixture throughout.
    std::thread::scope(|scope| {
        let (requests, received) = std::sync::mpsc::channel();
        scope.spawn(|| swap_on_request(received, &path, &versions));
        for _ in 0..SWAPS {
            requests
                .send(())
                .expect("the swapper runs until the sender is dropped");
            let backend = Backend::new()
                .no_plugins_dir()
                .file(&path)
                .private_dir(&dir);
            let backend = backend.load().expect("the backend loads");
            assert_eq!(backend.reports().len(), 1);
            assert_loaded_as_checked(&backend.reports()[0], &versions);
        }
    });
}

/// The minimal fixture with the value of its first dynamic entry tagged
/// `tag` replaced by `value`.
fn with_dynamic_entry(tag: i64, value: u64) -> Vec<u8> {
    let mut bytes = std::fs::read(fixture("minimal")).expect("the fixture is readable");
    let dynamic = dynamic_section(&bytes);
    let entry = bytes[dynamic.clone()]
        .chunks_exact(16)
        .position(|entry| i64::from_le_bytes(entry[..8].try_into().unwrap()) == tag)
        .expect("the fixture has the entry");
    let at = dynamic.start + entry * 16 + 8;
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
    bytes
}

/// Where the `PT_DYNAMIC` segment lies in a 64-bit little-endian ELF file.
fn dynamic_section(bytes: &[u8]) -> std::ops::Range<usize> {
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
    let half = |at: usize| u16::from_le_bytes(bytes[at..at + 2].try_into().unwrap()) as usize;
    let (table, entry_size, count) = (word(0x20), half(0x36), half(0x38));
    (0..count)
        .map(|index| table + index * entry_size)
        .find(|header| u32::from_le_bytes(bytes[*header..*header + 4].try_into().unwrap()) == 2)
        .map(|header| word(header + 8)..word(header + 8) + word(header + 32))
        .expect("the fixture has a dynamic segment")
}

#[test]
fn a_damaged_dynamic_section_is_refused_before_the_loader_trusts_it() {
    const DT_NEEDED: i64 = 1;
    const DT_STRTAB: i64 = 5;
    const DT_RELASZ: i64 = 8;
    let (dir, good) = dir_with_good_plugin("damaged-dynamic");
    let cases = [
        (
            DT_NEEDED,
            0x7fff_ffff,
            "dynamic entry DT_NEEDED points past the string table",
        ),
        (
            DT_STRTAB,
            0x7fff_ffff_0000,
            "dynamic entry DT_STRTAB points outside the loaded segments",
        ),
        (
            DT_RELASZ,
            0x7fff_ffff_0000,
            "the table of DT_RELA runs past the loaded segments",
        ),
    ];
    let files: Vec<_> = cases
        .iter()
        .enumerate()
        .map(|(index, (tag, value, _))| {
            write(
                &dir,
                &format!("{index}.so"),
                &with_dynamic_entry(*tag, *value),
            )
        })
        .collect();

    let table = check_refusing(&dir, &good);

    for (file, (_, _, reason)) in files.iter().zip(cases) {
        assert_refused(
            &table,
            file,
            &format!(
                "a damaged shared library ({reason}); reinstall the plugin, it may be truncated"
            ),
        );
    }
}

#[test]
fn a_file_refused_after_its_check_gives_up_the_ids_it_declared() {
    let dir = scratch("released-ids");
    // Declares `minimal` like the good fixture and one more plugin its
    // registration does not register, so it is refused after claiming its
    // ids; it comes first in name order.
    let stale = write(&dir, "a-stale.so", &with_declared_line(b"plugin extra\n"));
    let good = copy_fixture("minimal", &dir, "b-minimal.so");

    let table = check_refusing(&dir, &good);

    assert_refused(
        &table,
        &stale,
        "the library registers plugin `minimal` but its declaration lists plugin `extra`, plugin \
         `minimal`; rebuild it with greenroom_sdk::export!",
    );
}

/// The minimal fixture with `line` added to its declaration.
fn with_declared_line(line: &[u8]) -> Vec<u8> {
    const MAGIC: &[u8] = b"greenroom-decl\0\x01";
    let mut bytes = std::fs::read(fixture("minimal")).expect("the fixture is readable");
    let start = bytes
        .windows(MAGIC.len())
        .position(|window| window == MAGIC)
        .expect("the fixture has a declaration");
    let length_at = start + MAGIC.len();
    let length = u32::from_le_bytes(bytes[length_at..length_at + 4].try_into().unwrap()) as usize;
    let text_end = length_at + 4 + length;
    bytes[text_end..text_end + line.len()].copy_from_slice(line);
    let new_length = (length + line.len()) as u32;
    bytes[length_at..length_at + 4].copy_from_slice(&new_length.to_le_bytes());
    bytes
}

#[test]
fn invalid_or_repeated_declared_ids_are_refused_before_any_code_runs() {
    let (dir, good) = dir_with_good_plugin("declared-ids");
    let upper = write(&dir, "upper.so", &with_declared_line(b"plugin MINIMAL\n"));
    let twice = write(&dir, "twice.so", &with_declared_line(b"plugin minimal\n"));

    let table = check_refusing(&dir, &good);

    assert_refused(
        &table,
        &upper,
        "the plugin declaration is invalid: plugin id `MINIMAL` is not a valid id: use lowercase \
         letters, digits and dashes, starting with a letter; rebuild the plugin with greenroom-sdk",
    );
    assert_refused(
        &table,
        &twice,
        "the plugin declaration is invalid: plugin `minimal` is declared twice; rebuild the plugin \
         with greenroom-sdk",
    );
}

#[test]
fn with_probing_a_crashing_constructor_is_refused_and_the_host_goes_on() {
    let (dir, good) = dir_with_good_plugin("probe-crash");
    let crash = copy_fixture("constructor-crash", &dir, "crash.so");

    let output = run_greenroom(&["check", "--probe", "--plugins", dir.as_str()]);

    assert_exit(&output, 1);
    let table = stdout(&output);
    assert_ok(&table, &good);
    assert_refused(
        &table,
        &crash,
        "probing it in a child process: crashed with SIGSEGV while loading: a constructor in the \
         library, its registration, or the dynamic loader on a damaged file; rebuild or remove it",
    );
}
