//! Everything that differs between operating systems, in one place.
//!
//! Linux is where Greenroom is built and tested. macOS and Windows need their
//! own values for each item here and nothing elsewhere.

use std::{
    fs::{self, File, OpenOptions},
    io,
    path::Path,
};

/// The file extension of a dynamic library on this platform, without a dot.
#[cfg(target_os = "linux")]
pub const LIBRARY_EXTENSION: &str = "so";
/// The file extension of a dynamic library on this platform, without a dot.
#[cfg(target_os = "macos")]
pub const LIBRARY_EXTENSION: &str = "dylib";
/// The file extension of a dynamic library on this platform, without a dot.
#[cfg(target_os = "windows")]
pub const LIBRARY_EXTENSION: &str = "dll";

/// The object file format of a dynamic library on this platform.
#[cfg(target_os = "linux")]
pub const OBJECT_FORMAT: object::BinaryFormat = object::BinaryFormat::Elf;
/// The object file format of a dynamic library on this platform.
#[cfg(target_os = "macos")]
pub const OBJECT_FORMAT: object::BinaryFormat = object::BinaryFormat::MachO;
/// The object file format of a dynamic library on this platform.
#[cfg(target_os = "windows")]
pub const OBJECT_FORMAT: object::BinaryFormat = object::BinaryFormat::Pe;

/// The processor architecture this host was built for, as `object` names it.
pub const ARCHITECTURE: object::Architecture = if cfg!(target_arch = "x86_64") {
    object::Architecture::X86_64
} else if cfg!(target_arch = "aarch64") {
    object::Architecture::Aarch64
} else {
    object::Architecture::Unknown
};

/// Opens a file for reading without blocking, even if it is a FIFO or a device.
///
/// # Errors
///
/// Returns the operating system's error.
pub fn open_without_blocking(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC);
    }
    options.open(path)
}

/// Creates a directory that only the current user can enter.
///
/// # Errors
///
/// Returns the operating system's error.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Creates a new file that only the current user can read, refusing to
/// follow or overwrite anything already at `path`.
///
/// # Errors
///
/// Returns the operating system's error.
pub fn create_private_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o500);
    }
    options.open(path)
}

/// A short name for the kind of a file that is not a regular file.
pub fn file_kind(file_type: fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "a device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

/// The name of the signal that ended a child process, if one did.
pub fn exit_signal(status: &std::process::ExitStatus) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        status.signal().map(signal_name)
    }
    #[cfg(not(unix))]
    {
        let _ = status;
        None
    }
}

#[cfg(unix)]
fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGABRT => "SIGABRT",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGTRAP => "SIGTRAP",
        _ => return format!("signal {signal}"),
    };
    name.to_string()
}

/// Whether a parsed object file is an executable program rather than a
/// library (a position-independent executable looks like a library to a
/// generic parser; on ELF it is told apart by its program interpreter).
pub fn is_executable(file: &object::File<'_>, bytes: &[u8]) -> bool {
    use object::Object as _;

    if file.kind() == object::ObjectKind::Executable {
        return true;
    }
    #[cfg(target_os = "linux")]
    {
        use object::read::elf::{ElfFile64, ProgramHeader};

        if let Ok(elf) = ElfFile64::<object::Endianness>::parse(bytes) {
            let endian = elf.endian();
            return elf
                .elf_program_headers()
                .iter()
                .any(|header| header.p_type(endian) == object::elf::PT_INTERP);
        }
    }
    let _ = bytes;
    false
}

/// How many threads this process has, where the platform tells.
pub fn thread_count() -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        std::fs::read_dir("/proc/self/task")
            .ok()
            .map(Iterator::count)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// The names of process `pid`'s threads, sorted; `None` where the platform
/// cannot tell.
pub fn thread_names_of(pid: u32) -> Option<Vec<String>> {
    #[cfg(target_os = "linux")]
    {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
        let mut names: Vec<String> = tasks
            .flatten()
            .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
            .map(|name| name.trim().to_string())
            .collect();
        names.sort();
        Some(names)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}

/// How many bytes of this process are resident in memory, where the
/// platform tells.
pub fn resident_bytes() -> Option<u64> {
    resident_bytes_at("self")
}

/// The resident memory of process `pid`, where the platform tells.
pub fn resident_bytes_of(pid: u32) -> Option<u64> {
    resident_bytes_at(&pid.to_string())
}

fn resident_bytes_at(process: &str) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let status = std::fs::read_to_string(format!("/proc/{process}/status")).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = process;
        None
    }
}

/// Why a file or directory with `metadata` at `path` could be changed by a
/// user other than this process's and root, with the command that fixes
/// it; `None` when only they can change it (or the platform cannot tell).
pub fn writable_by_others(path: &Path, metadata: &fs::Metadata) -> Option<(String, String)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;

        let mode = metadata.mode() & 0o7777;
        if mode & 0o022 != 0 {
            let who = if mode & 0o002 != 0 {
                "every user"
            } else {
                "its group"
            };
            return Some((
                format!("writable by {who} (mode {mode:04o})"),
                format!("run `chmod go-w {}`", path.display()),
            ));
        }
    }
    owned_by_others(path, metadata)
}

/// Why an entry with `metadata` at `path` belongs to a user other than
/// this process's and root, with the fix; `None` otherwise (or when the
/// platform cannot tell).
pub fn owned_by_others(path: &Path, metadata: &fs::Metadata) -> Option<(String, String)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;

        let owner = metadata.uid();
        match own_uid() {
            Some(me) if owner != me && owner != 0 => Some((
                format!(
                    "owned by user {owner}, neither root nor the user running greenroom ({me})"
                ),
                format!(
                    "run `chown {me} {}` or install it as that user",
                    path.display()
                ),
            )),
            _ => None,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (path, metadata);
        None
    }
}

/// Whether a directory has the sticky bit: others may add entries to it
/// but not rename or remove ours.
pub fn is_sticky(metadata: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;

        metadata.is_dir() && metadata.mode() & 0o1000 != 0
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        false
    }
}

/// The user id this process runs as, where the platform tells without
/// calling into C.
#[cfg(unix)]
fn own_uid() -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt as _;

        fs::metadata("/proc/self")
            .ok()
            .map(|metadata| metadata.uid())
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Whether the process `pid` has certainly ended (false where the platform
/// cannot tell).
pub fn process_is_gone(pid: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        !Path::new(&format!("/proc/{pid}")).exists()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        false
    }
}

/// Whether an error from opening a path says its symbolic links loop.
pub fn is_symlink_loop(error: &io::Error) -> bool {
    #[cfg(unix)]
    {
        error.raw_os_error() == Some(libc::ELOOP)
    }
    #[cfg(not(unix))]
    {
        let _ = error;
        false
    }
}
