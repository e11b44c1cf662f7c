//! Reading a catalog file or a placeholder's file from disk, bounded: only
//! a regular file, opened without blocking (a FIFO or device never stalls
//! the reader), and never more than [`MAX_TEXT_BYTES`] of it, whatever size
//! it claims (files under `/proc` claim none).

use std::{fs::File, io::Read as _, path::Path};

use crate::yaml::MAX_TEXT_BYTES;

/// Reads the regular file at `path` as UTF-8 text.
///
/// # Errors
///
/// Says why, naming the path: it cannot be opened, is not a regular file,
/// is larger than [`MAX_TEXT_BYTES`], or is not UTF-8.
pub fn read_text(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let file = open(path).map_err(|error| format!("cannot read {shown}: {error}"))?;
    let metadata = file
        .metadata()
        .map_err(|error| format!("cannot read {shown}: {error}"))?;
    if !metadata.is_file() {
        return Err(format!(
            "cannot read {shown}: it is not a regular file (a directory, a FIFO or a device)"
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_TEXT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| format!("cannot read {shown}: {error}"))?;
    if bytes.len() > MAX_TEXT_BYTES {
        return Err(format!(
            "cannot read {shown}: it holds more than the {MAX_TEXT_BYTES} bytes a catalog file \
             may"
        ));
    }
    String::from_utf8(bytes).map_err(|_| format!("cannot read {shown}: it is not UTF-8 text"))
}

#[cfg(unix)]
fn open(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;

    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_of_bounded_size_are_read() {
        let dir = std::env::temp_dir().join(format!("catalog-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let file = dir.join("a.yaml");
        std::fs::write(&file, "kind: A\n").expect("written");

        assert_eq!(read_text(&file), Ok("kind: A\n".to_string()));
        assert_eq!(
            read_text(&dir),
            Err(format!(
                "cannot read {}: it is not a regular file (a directory, a FIFO or a device)",
                dir.display()
            ))
        );
        #[cfg(target_os = "linux")]
        {
            let error = read_text(Path::new("/dev/zero")).expect_err("a device");
            assert!(error.ends_with("it is not a regular file (a directory, a FIFO or a device)"));
            let fifo = dir.join("fifo");
            let made = std::process::Command::new("mkfifo").arg(&fifo).status();
            if made.is_ok_and(|status| status.success()) {
                let error = read_text(&fifo).expect_err("a FIFO, refused without blocking");
                assert!(error.contains("not a regular file"), "{error}");
            }
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
