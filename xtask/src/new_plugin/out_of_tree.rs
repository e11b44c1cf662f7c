//! `cargo xtask new-plugin <id> --out-of-tree <dir>`: a standalone plugin
//! crate outside this workspace, depending on the SDK by path, built in its
//! own directory and installed into `plugins/`.

use std::time::Instant;

use anyhow::{Context as _, bail};
use camino::{Utf8Path, Utf8PathBuf};
use greenroom_host::platform::LIBRARY_EXTENSION;

use crate::build;

/// The plugin template's files reused as they are (ids replaced).
const SHARED_FILES: [&str; 3] = ["config.schema.json", "catalog-info.yaml", "src/lib.rs"];

/// Creates the crate `dir` for the plugin `id`, builds it there and installs
/// its library as `plugins/<id>.so`.
pub(crate) fn new_out_of_tree(id: &str, dir: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let workspace = build::workspace()?;
    let dir = absolute(Utf8Path::new(dir))?;
    if dir.join("Cargo.toml").exists() {
        bail!("{dir}/Cargo.toml exists already; choose an empty or new directory");
    }
    if dir.starts_with(&workspace.root) {
        bail!(
            "{dir} is inside this workspace; choose a directory outside {}",
            workspace.root
        );
    }
    let installed = workspace
        .root
        .join("plugins")
        .join(format!("{id}.{LIBRARY_EXTENSION}"));
    if installed.exists() || workspace.root.join("plugins").join(id).exists() {
        bail!("plugins/ has a plugin `{id}` already; choose another id or remove it");
    }

    write_crate(&workspace.root, &dir, id)?;
    println!(
        "==> created {dir}, a crate of its own depending on the SDK in {}",
        workspace.root
    );

    let library = build_crate(&dir, id)?;
    let bytes = build::install(&library, &installed)?;
    println!(
        "==> plugin `{id}` is installed as {installed} ({:.1} MB, {:.1} s); rebuild it with \
         `cargo build --manifest-path {dir}/Cargo.toml` and copy {library} over it",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Writes the crate's files: its manifest, the template's sources, and the
/// workspace's Cargo.lock as a seed, so the crates crossing the boundary start
/// at the host's releases.
fn write_crate(root: &Utf8Path, dir: &Utf8Path, id: &str) -> anyhow::Result<()> {
    let manifest = std::fs::read_to_string(
        root.join("plugin-template/templates/out-of-tree/Cargo.toml.template"),
    )?;
    let manifest = manifest
        .replace("__plugin_id__", id)
        .replace("__sdk_root__", root.as_str());
    super::write(&dir.join("Cargo.toml"), &manifest)?;
    for file in SHARED_FILES {
        let text = std::fs::read_to_string(root.join("plugin-template").join(file))
            .with_context(|| format!("cannot read plugin-template/{file}"))?;
        super::write(&dir.join(file), &text.replace("template", id))?;
    }
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock"))?;
    Ok(())
}

/// Builds the crate in `dir` with its own target directory and returns its
/// library.
fn build_crate(dir: &Utf8Path, id: &str) -> anyhow::Result<Utf8PathBuf> {
    let target = dir.join("target");
    let mut command = build::cargo_command();
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .env_remove("CARGO_TARGET_DIR");
    println!("==> building {dir} on its own: {command:?}");
    build::run(&mut command)?;
    Ok(target.join("debug").join(format!(
        "libgreenroom_plugin_{}.{LIBRARY_EXTENSION}",
        id.replace('-', "_")
    )))
}

fn absolute(dir: &Utf8Path) -> anyhow::Result<Utf8PathBuf> {
    let current = Utf8PathBuf::try_from(std::env::current_dir()?)?;
    Ok(current.join(dir))
}
