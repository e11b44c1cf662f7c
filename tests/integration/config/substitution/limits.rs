//! What loading refuses to read so that no file can hang it, crash it or
//! make it take minutes or gigabytes: files that are no regular file or
//! too large, nesting past 128 levels, and more `$include`s than one load
//! may read.

use std::process::{Command, Output};

use camino::Utf8Path;
use greenroom_host::config::ConfigLoader;

use crate::{
    artifacts::{finish, greenroom, scratch},
    config::{assert_exit, error_lines, load, loaded, stderr, stdout, write},
};

/// The reason given for a file that is not a regular file, after its kind.
const NOT_REGULAR: &str =
    "not a regular file; name a regular file (a symbolic link to one is fine)";

/// `levels` mappings nested inside one another, one key a line.
fn nested_mappings(levels: usize) -> String {
    (0..levels)
        .map(|level| format!("{}k{level}:\n", "  ".repeat(level)))
        .collect()
}

/// Makes a FIFO at `path` with `mkfifo`.
fn make_fifo(path: &Utf8Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {path} failed: {status}");
}

/// Runs `greenroom` in `dir` with `args` and no variables, killing it
/// should it block.
fn greenroom_in(dir: &Utf8Path, args: &[&str]) -> Output {
    let mut command = Command::new(greenroom());
    command.args(args).current_dir(dir).env_clear();
    finish(command)
}

#[test]
fn config_check_refuses_a_file_nesting_deeper_than_128_levels() {
    let dir = scratch("config-limits-deep");
    write(&dir, "mappings.yaml", &nested_mappings(2000));
    write(&dir, "lists.yaml", &"- ".repeat(100_000));

    for (file, line) in [("mappings.yaml", 129), ("lists.yaml", 1)] {
        let output = greenroom_in(&dir, &["config", "check", "--config", file]);

        assert_exit(&output, 1);
        assert_eq!(stdout(&output), "");
        assert_eq!(
            stderr(&output),
            format!(
                "error: {file}:{line}: mappings and lists nest more than 128 levels deep here \
                 (counted from the top of the configuration); flatten them\n"
            )
        );
    }
}

#[test]
fn an_included_file_nests_from_the_key_that_includes_it() {
    let dir = scratch("config-limits-deep-include");
    write(&dir, "fits.yaml", &nested_mappings(125));
    write(&dir, "deep.yaml", &nested_mappings(126));
    write(
        &dir,
        "app-config.yaml",
        "a:\n  b:\n    c:\n      $include: fits.yaml\n",
    );
    assert!(loaded(&dir, &[]).has("a.b.c.k0"));

    write(
        &dir,
        "app-config.yaml",
        "a:\n  b:\n    c:\n      $include: deep.yaml\n",
    );
    let errors = error_lines(load(&dir, &[]));

    assert_eq!(
        errors,
        [format!(
            "{dir}/deep.yaml:126: mappings and lists nest more than 128 levels deep here \
             (counted from the top of the configuration); flatten them"
        )]
    );
}

#[test]
fn file_and_include_refuse_devices_fifos_and_directories() {
    let dir = scratch("config-limits-kinds");
    make_fifo(&dir.join("pipe"));
    std::fs::create_dir(dir.join("folder")).expect("scratch directories can be created");
    write(
        &dir,
        "app-config.yaml",
        "a:\n  $file: /dev/zero\nb:\n  $file: pipe\nc:\n  $include: pipe\nd:\n  $file: folder\n",
    );

    let output = greenroom_in(&dir, &["config", "print"]);

    assert_exit(&output, 1);
    let app = "app-config.yaml";
    assert_eq!(
        stderr(&output),
        format!(
            "error: {app}:1: a: cannot read /dev/zero named by `$file`: it is a device, \
             {NOT_REGULAR}\n\
             error: {app}:3: b: cannot read pipe named by `$file`: it is a FIFO, \
             {NOT_REGULAR}\n\
             error: {app}:5: c: cannot read pipe named by `$include`: it is a FIFO, \
             {NOT_REGULAR}\n\
             error: {app}:7: d: cannot read folder named by `$file`: it is a directory, \
             {NOT_REGULAR}\n"
        )
    );
}

#[test]
fn a_config_file_that_is_a_fifo_is_refused_without_blocking() {
    let dir = scratch("config-limits-fifo");
    make_fifo(&dir.join("pipe.yaml"));

    let output = greenroom_in(&dir, &["config", "check", "--config", "pipe.yaml"]);

    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        format!("error: cannot read pipe.yaml: it is a FIFO, {NOT_REGULAR}\n")
    );
}

#[test]
fn symbolic_links_to_regular_files_are_followed() {
    let dir = scratch("config-limits-symlink");
    write(&dir, "real/token.txt", "s3cret");
    write(&dir, "real/part.yaml", "value: 1\n");
    std::os::unix::fs::symlink("real/token.txt", dir.join("token.txt")).expect("a link");
    std::os::unix::fs::symlink("real/part.yaml", dir.join("part.yaml")).expect("a link");
    write(
        &dir,
        "app-config.yaml",
        "token:\n  $file: token.txt\npart:\n  $include: part.yaml\n",
    );

    let config = loaded(&dir, &[]);

    assert_eq!(config.string("token").unwrap(), "s3cret");
    assert_eq!(config.number("part.value").unwrap(), 1.0);
}

#[test]
fn files_larger_than_16_mib_are_refused_unread() {
    let dir = scratch("config-limits-large");
    let large = dir.join("large.yaml");
    let file = std::fs::File::create(&large).expect("scratch files can be written");
    // A sparse file: its size is past the limit, but nothing is written.
    file.set_len(16 * 1024 * 1024 + 1)
        .expect("a sparse file can be made");
    let main = write(&dir, "main.yaml", "a:\n  $file: large.yaml\n");
    let too_large = "it holds more than 16 MiB, the most one file may; make it smaller or split it";

    let from_file = error_lines(ConfigLoader::new().file(&main).load());
    let as_config = error_lines(ConfigLoader::new().file(&large).load());

    assert_eq!(
        from_file,
        [format!(
            "{main}:1: a: cannot read {large} named by `$file`: {too_large}"
        )]
    );
    assert_eq!(as_config, [format!("cannot read {large}: {too_large}")]);
}

#[test]
fn includes_fanning_out_stop_at_1000_files_read() {
    let dir = scratch("config-limits-fan-out");
    // Seven files, each but the last including the next ten times: a
    // million reads without a limit.
    for level in 0..6 {
        let includes: String = (0..10)
            .map(|key| format!("k{key}:\n  $include: f{}.yaml\n", level + 1))
            .collect();
        write(&dir, &format!("f{level}.yaml"), &includes);
    }
    write(&dir, "f6.yaml", &format!("padding: {}\n", "x".repeat(1500)));

    let errors = error_lines(ConfigLoader::new().file(dir.join("f0.yaml")).load());

    // The top file is read 1st; below k0.k0.k0, each k of f3 leads to 111
    // reads, so the 1001st is at k8.k9.k7 below that.
    assert_eq!(
        errors,
        [format!(
            "{dir}/f5.yaml:15: k0.k0.k0.k8.k9.k7: cannot read {dir}/f6.yaml named by \
             `$include`: one load reads at most 1000 files, and this would be one more (each \
             `$include` and `$file` counts every time it is reached); include fewer files"
        )]
    );
}
