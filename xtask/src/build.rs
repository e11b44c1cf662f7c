//! Building the workspace and installing plugin libraries atomically.

use std::{
    io::Write,
    process::{Command, Stdio},
};

use anyhow::{Context, bail};
use camino::{Utf8Path, Utf8PathBuf};

/// Where the workspace and its build output are.
pub(crate) struct Workspace {
    /// The workspace root.
    pub(crate) root: Utf8PathBuf,
    /// The directory debug artifacts are written to.
    pub(crate) target_dir: Utf8PathBuf,
    /// The plugin crates under `plugins/`.
    pub(crate) plugins: Vec<PluginCrate>,
}

/// A plugin crate of the workspace.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct PluginCrate {
    /// The package name, such as `greenroom-plugin-hello`.
    pub(crate) name: String,
    /// The library file cargo writes, such as `libgreenroom_plugin_hello.so`.
    pub(crate) library: String,
    /// The crate's directory.
    pub(crate) dir: Utf8PathBuf,
}

impl PluginCrate {
    /// The name its library is installed under in `plugins/`, without the
    /// extension: the package name without `greenroom-plugin-`.
    pub(crate) fn installed_name(&self) -> &str {
        self.name
            .strip_prefix("greenroom-plugin-")
            .unwrap_or(&self.name)
    }
}

/// Runs cargo with `args`, saying what it does first.
pub(crate) fn cargo(args: &[&str], what: &str) -> anyhow::Result<()> {
    println!("==> {what}: cargo {}", args.join(" "));
    run(cargo_command().args(args))
}

/// A cargo command without the variables `cargo run` set for xtask itself
/// (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, …): inherited, they would make the
/// inner build differ from a plain one and rebuild crates each time.
pub(crate) fn cargo_command() -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else {
            continue;
        };
        let set_by_cargo_run = name.starts_with("CARGO_PKG_")
            || matches!(
                name,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
            );
        if set_by_cargo_run {
            command.env_remove(name);
        }
    }
    command
}

/// Runs a command to completion, failing if it fails.
pub(crate) fn run(command: &mut Command) -> anyhow::Result<()> {
    let shown = shown(command);
    let status = command
        .status()
        .with_context(|| format!("cannot run {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

/// A command as a person would type it: the program and its arguments.
fn shown(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The workspace root, as this crate was built in it (no cargo needed).
pub(crate) fn workspace_root() -> anyhow::Result<Utf8PathBuf> {
    Utf8Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Utf8Path::to_owned)
        .context("xtask lives inside the workspace")
}

/// Reads the workspace layout from `cargo metadata`.
pub(crate) fn workspace() -> anyhow::Result<Workspace> {
    let output = cargo_command()
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed with {}", output.status);
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;

    let root = Utf8PathBuf::from(metadata["workspace_root"].as_str().unwrap_or_default());
    let target_dir =
        Utf8PathBuf::from(metadata["target_directory"].as_str().unwrap_or_default()).join("debug");
    let plugins_dir = root.join("plugins");
    let plugins = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|package| {
            let manifest = Utf8Path::new(package["manifest_path"].as_str().unwrap_or_default());
            manifest.starts_with(&plugins_dir) && is_cdylib(package)
        })
        .filter_map(|package| {
            let name = package["name"].as_str()?.to_string();
            let library = format!("lib{}.{}", name.replace('-', "_"), LIBRARY_EXTENSION);
            let manifest = Utf8Path::new(package["manifest_path"].as_str()?);
            let dir = manifest.parent()?.to_owned();
            Some(PluginCrate { name, library, dir })
        })
        .collect();
    Ok(Workspace {
        root,
        target_dir,
        plugins,
    })
}

fn is_cdylib(package: &serde_json::Value) -> bool {
    package["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|target| {
            target["crate_types"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|kind| kind == "cdylib")
        })
}

use greenroom_host::platform::LIBRARY_EXTENSION;

/// Builds the workspace and installs every plugin crate's library into
/// `plugins/`.
pub(crate) fn build_and_install() -> anyhow::Result<Workspace> {
    let workspace = workspace()?;
    // Not --locked: a plugin just added to the workspace updates Cargo.lock.
    cargo(
        &["build", "--workspace"],
        &format!(
            "building {} plugin crate(s) with the workspace",
            workspace.plugins.len()
        ),
    )?;
    let plugins_dir = workspace.root.join("plugins");
    for plugin in &workspace.plugins {
        let installed_name = format!("{}.{LIBRARY_EXTENSION}", plugin.installed_name());
        let source = workspace.target_dir.join(&plugin.library);
        let destination = plugins_dir.join(&installed_name);
        let bytes = install(&source, &destination)?;
        println!("    installed {destination} ({:.1} MB)", bytes as f64 / 1e6);
    }
    Ok(workspace)
}

/// Copies `source` to `destination` atomically: the bytes go to a hidden
/// temporary file in the same directory, which is then renamed over the
/// destination. A running host that mapped the old file keeps its inode.
pub(crate) fn install(source: &Utf8Path, destination: &Utf8Path) -> anyhow::Result<u64> {
    let bytes =
        std::fs::read(source).with_context(|| format!("cannot read {source}; was it built?"))?;
    let directory = destination
        .parent()
        .context("the destination has no directory")?;
    let temporary = directory.join(format!(
        ".{}.{}.tmp",
        destination.file_name().unwrap_or("plugin"),
        std::process::id()
    ));
    let mut file =
        std::fs::File::create(&temporary).with_context(|| format!("cannot create {temporary}"))?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, destination)
        .with_context(|| format!("cannot rename {temporary} to {destination}"))?;
    Ok(bytes.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_names_drop_the_package_prefix() {
        let plugin = PluginCrate {
            name: "greenroom-plugin-hello".to_string(),
            library: "libgreenroom_plugin_hello.so".to_string(),
            dir: Utf8PathBuf::from("/w/plugins/hello"),
        };
        assert_eq!(plugin.installed_name(), "hello");
    }
}
