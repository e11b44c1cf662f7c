//! `cargo xtask new-plugin <id>`: a new plugin crate in `plugins/<id>`, made
//! from `plugin-template/`, added to the workspace, built and installed; with
//! `--module-for <pluginId>`, a module of that plugin in
//! `plugins/<pluginId>-<id>`, made from `plugin-template/templates/module/`.

use std::time::Instant;

use anyhow::{Context as _, bail};
use camino::{Utf8Path, Utf8PathBuf};

use crate::build;

mod out_of_tree;

/// The files of the template, relative to its directory.
const TEMPLATE_FILES: [&str; 4] = [
    "Cargo.toml",
    "config.schema.json",
    "catalog-info.yaml",
    "src/lib.rs",
];

/// The files of the module template, in `plugin-template/templates/module/`,
/// and where each goes in the new crate.
const MODULE_TEMPLATE_FILES: [(&str, &str); 2] = [
    ("Cargo.toml.template", "Cargo.toml"),
    ("lib.rs.template", "src/lib.rs"),
];

const USAGE: &str =
    "usage: cargo xtask new-plugin <id> [--module-for <pluginId> | --out-of-tree <dir>]";

/// Creates, builds and installs the plugin or module named by `args`.
pub(crate) fn new_plugin(args: &[&str]) -> anyhow::Result<()> {
    match args {
        [id] => new_workspace_plugin(id),
        [id, "--module-for", plugin_id] => new_module(id, plugin_id),
        [id, "--out-of-tree", dir] => {
            check_id(id)?;
            out_of_tree::new_out_of_tree(id, dir)
        }
        _ => bail!("{USAGE}"),
    }
}

fn new_workspace_plugin(id: &str) -> anyhow::Result<()> {
    check_id(id)?;
    let started = Instant::now();
    let workspace = build::workspace()?;
    let package = format!("greenroom-plugin-{id}");
    let dir = check_free(&workspace, id, &package)?;

    for file in TEMPLATE_FILES {
        let text = std::fs::read_to_string(workspace.root.join("plugin-template").join(file))
            .with_context(|| format!("cannot read plugin-template/{file}"))?;
        let text = text
            .replace("greenroom-plugin-template", &package)
            .replace("template", id);
        write(&dir.join(file), &text)?;
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

/// Creates `plugins/<plugin_id>-<id>`, a library exporting the module
/// `<plugin_id>/<id>`, from the module template.
fn new_module(id: &str, plugin_id: &str) -> anyhow::Result<()> {
    check_id(id).context("the module id")?;
    check_id(plugin_id).context("the plugin id (--module-for)")?;
    let started = Instant::now();
    let workspace = build::workspace()?;
    let name = format!("{plugin_id}-{id}");
    let package = format!("greenroom-plugin-{name}");
    let dir = check_free(&workspace, &name, &package)?;
    if let Some(file) = module_declared(&workspace.root.join("plugins"), plugin_id, id)? {
        bail!("{file} declares the module `{plugin_id}/{id}` already; choose another id");
    }

    let templates = workspace.root.join("plugin-template/templates/module");
    for (template, file) in MODULE_TEMPLATE_FILES {
        let text = std::fs::read_to_string(templates.join(template))
            .with_context(|| format!("cannot read {}", templates.join(template)))?;
        write(&dir.join(file), &render(&text, &package, plugin_id, id))?;
    }
    add_member(
        &workspace.root.join("Cargo.toml"),
        &format!("plugins/{name}"),
    )?;
    println!("==> created {dir}, the module `{plugin_id}/{id}`, and added it to the workspace");

    build::build_and_install()?;
    println!(
        "==> module `{plugin_id}/{id}` is installed as plugins/{name}.so ({:.1} s); it starts \
         with the plugin `{plugin_id}`",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Fills the placeholders of a module template.
fn render(template: &str, package: &str, plugin_id: &str, module_id: &str) -> String {
    template
        .replace("__package__", package)
        .replace("__plugin_id__", plugin_id)
        .replace("__module_id__", module_id)
}

/// The directory `plugins/<name>`, failing when it or the package is taken.
fn check_free(
    workspace: &build::Workspace,
    name: &str,
    package: &str,
) -> anyhow::Result<Utf8PathBuf> {
    let dir = workspace.root.join("plugins").join(name);
    if dir.exists() {
        bail!("{dir} exists already; choose another id or remove it");
    }
    if workspace
        .plugins
        .iter()
        .any(|plugin| plugin.name == package)
    {
        bail!("the workspace has a package `{package}` already; choose another id");
    }
    Ok(dir)
}

/// The source file in `plugins/` that exports the module `plugin_id/id`, if any.
fn module_declared(
    plugins: &Utf8Path,
    plugin_id: &str,
    id: &str,
) -> anyhow::Result<Option<Utf8PathBuf>> {
    let needle = format!("(\"{plugin_id}\", \"{id}\")");
    for entry in plugins.read_dir_utf8()? {
        let lib = entry?.path().join("src/lib.rs");
        let Ok(text) = std::fs::read_to_string(&lib) else {
            continue;
        };
        if text.contains(&needle) {
            return Ok(Some(lib));
        }
    }
    Ok(None)
}

/// Writes `text` to `path`, creating its directory.
fn write(path: &Utf8Path, text: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(path.parent().context("a file has a directory")?)?;
    std::fs::write(path, text).with_context(|| format!("cannot write {path}"))
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

    #[test]
    fn the_module_template_leaves_no_placeholder() {
        let templates =
            Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-template/templates/module");
        for (template, _) in MODULE_TEMPLATE_FILES {
            let text = std::fs::read_to_string(templates.join(template)).unwrap();
            let rendered = render(
                &text,
                "greenroom-plugin-catalog-github",
                "catalog",
                "github",
            );
            assert!(!rendered.contains("__"), "{template}: {rendered}");
            if template == "lib.rs.template" {
                assert!(rendered.contains(r#"("catalog", "github") => register"#));
            }
        }
    }

    #[test]
    fn a_module_declared_in_plugins_is_taken() {
        let plugins = Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins");
        assert_eq!(
            module_declared(&plugins, "nobody", "nothing").unwrap(),
            None
        );
    }
}
