//! `cargo xtask new-plugin <id>`: a new plugin crate in `plugins/<id>`, made
//! from `plugin-template/`, added to the workspace, built and installed.

use std::time::Instant;

use anyhow::{Context as _, bail};
use camino::Utf8Path;

use crate::build;

/// The files of the template, relative to its directory.
const TEMPLATE_FILES: [&str; 4] = [
    "Cargo.toml",
    "config.schema.json",
    "catalog-info.yaml",
    "src/lib.rs",
];

/// Creates, builds and installs the plugin named by `args`.
pub(crate) fn new_plugin(args: &[&str]) -> anyhow::Result<()> {
    let [id] = args else {
        bail!("usage: cargo xtask new-plugin <id>");
    };
    check_id(id)?;
    let started = Instant::now();
    let workspace = build::workspace()?;
    let dir = workspace.root.join("plugins").join(id);
    if dir.exists() {
        bail!("{dir} exists already; choose another id or remove it");
    }
    let package = format!("greenroom-plugin-{id}");
    if workspace.plugins.iter().any(|(name, _)| *name == package) {
        bail!("the workspace has a package `{package}` already; choose another id");
    }

    for file in TEMPLATE_FILES {
        let text = std::fs::read_to_string(workspace.root.join("plugin-template").join(file))
            .with_context(|| format!("cannot read plugin-template/{file}"))?;
        let text = text
            .replace("greenroom-plugin-template", &package)
            .replace("template", id);
        let target = dir.join(file);
        std::fs::create_dir_all(target.parent().context("a file has a directory")?)?;
        std::fs::write(&target, text).with_context(|| format!("cannot write {target}"))?;
    }
    add_member(&workspace.root.join("Cargo.toml"), &format!("plugins/{id}"))?;
    println!("==> created {dir} from plugin-template/ and added it to the workspace");

    build::build_and_install()?;
    println!(
        "==> plugin `{id}` is installed ({:.1} s); `cargo xtask run` starts it, and its routes \
         are under /api/{id}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Refuses ids that break the host's rule, or that the template reserves.
fn check_id(id: &str) -> anyhow::Result<()> {
    let mut chars = id.chars();
    let valid = chars.next().is_some_and(|first| first.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        bail!(
            "`{id}` is not a valid plugin id: use lowercase letters, digits and dashes, starting with a letter"
        );
    }
    if id == "template" {
        bail!("`template` is the template's own id; choose another");
    }
    Ok(())
}

/// Adds `member` to the workspace's `members` list, after its last entry.
fn add_member(manifest: &Utf8Path, member: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(manifest)?;
    let start = text
        .find("members = [")
        .context("the workspace lists its members")?;
    let end = start + text[start..].find("\n]").context("the members list ends")?;
    let updated = format!("{}\n    \"{member}\",{}", &text[..end], &text[end..]);
    std::fs::write(manifest, updated)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_hosts_rule() {
        assert!(check_id("billing").is_ok());
        assert!(check_id("billing-2").is_ok());
        for bad in ["", "Billing", "2fa", "-x", "a_b", "template"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }
}
