//! Choosing plugins with `backend.plugins.include` / `exclude`, and the
//! startup failure policy, read from real files.

use greenroom_host::config::{BootFailure, PluginSelection, StartupPolicy};

use super::{loaded, write};
use crate::artifacts::scratch;

#[test]
fn include_and_exclude_lists_choose_plugins_exclude_winning() {
    let dir = scratch("config-selection");
    write(
        &dir,
        "app-config.yaml",
        "backend:\n  plugins:\n    include:\n      - cat*\n      - search\n      - kube?\n",
    );
    write(
        &dir,
        "app-config.local.yaml",
        "backend:\n  plugins:\n    exclude: [catalog-legacy]\n",
    );

    let selection = PluginSelection::from_config(&loaded(&dir, &[])).unwrap();

    assert_eq!(selection.allows("catalog"), Ok(()));
    assert_eq!(selection.allows("search"), Ok(()));
    assert_eq!(selection.allows("kube2"), Ok(()));
    assert_eq!(
        selection.allows("kube"),
        Err(format!(
            "plugin `kube` matches no entry of backend.plugins.include ({dir}/app-config.yaml:3); \
             add it there to load it"
        ))
    );
    assert_eq!(
        selection.allows("catalog-legacy"),
        Err(format!(
            "plugin `catalog-legacy` is excluded by `catalog-legacy` in \
             backend.plugins.exclude[0] ({dir}/app-config.local.yaml:3); remove that entry to \
             load it"
        ))
    );
}

#[test]
fn without_lists_every_plugin_is_allowed() {
    let dir = scratch("config-selection-none");
    write(
        &dir,
        "app-config.yaml",
        "backend:\n  plugins:\n    include: []\n",
    );

    let selection = PluginSelection::from_config(&loaded(&dir, &[])).unwrap();

    assert_eq!(selection.allows("anything"), Ok(()));
}

#[test]
fn a_bad_pattern_names_its_file_and_line() {
    let dir = scratch("config-selection-bad");
    write(
        &dir,
        "app-config.yaml",
        "backend:\n  plugins:\n    exclude:\n      - Catalog\n",
    );

    let errors = PluginSelection::from_config(&loaded(&dir, &[])).unwrap_err();

    assert_eq!(
        errors.to_string(),
        format!(
            "{dir}/app-config.yaml:4: backend.plugins.exclude[0]: string \"Catalog\" can never \
             match a plugin id; plugin ids use lowercase letters, digits and dashes, and patterns \
             may add `*` and `?`"
        )
    );
}

#[test]
fn the_startup_policy_layers_like_any_other_key() {
    let dir = scratch("config-startup");
    write(
        &dir,
        "app-config.yaml",
        "backend:\n  startup:\n    default:\n      onPluginModuleBootFailure: continue\n    \
         plugins:\n      catalog:\n        onPluginBootFailure: continue\n",
    );
    write(
        &dir,
        "app-config.local.yaml",
        "backend:\n  startup:\n    plugins:\n      catalog:\n        modules:\n          \
         github:\n            onPluginModuleBootFailure: abort\n",
    );

    let policy = StartupPolicy::from_config(&loaded(&dir, &[])).unwrap();

    assert_eq!(policy.for_plugin("catalog"), BootFailure::Continue);
    assert_eq!(policy.for_plugin("search"), BootFailure::Abort);
    assert_eq!(policy.for_module("catalog", "github"), BootFailure::Abort);
    assert_eq!(
        policy.for_module("catalog", "gitlab"),
        BootFailure::Continue
    );
    assert_eq!(policy.for_module("search", "index"), BootFailure::Continue);
}

#[test]
fn a_bad_policy_names_the_key_file_and_line() {
    let dir = scratch("config-startup-bad");
    write(&dir, "app-config.yaml", "backend: {}\n");
    write(
        &dir,
        "app-config.local.yaml",
        "backend:\n  startup:\n    plugins:\n      catalog:\n        onPluginBootFailure: ignore\n",
    );

    let errors = StartupPolicy::from_config(&loaded(&dir, &[])).unwrap_err();

    assert_eq!(
        errors.to_string(),
        format!(
            "{dir}/app-config.local.yaml:5: backend.startup.plugins.catalog.onPluginBootFailure: \
             expected `abort` or `continue`, found string \"ignore\""
        )
    );
}
