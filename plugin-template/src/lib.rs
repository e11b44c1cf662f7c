//! The template plugin: a new plugin starts as a copy of this crate with
//! `template` replaced by its id.

use greenroom_sdk::{Error, PluginRegistrar};

greenroom_sdk::export! {
    plugins: { "template" => register_template },
}

/// Declares what the plugin needs and provides.
fn register_template(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin.depends_on_service("core.logger", "^1");
    Ok(())
}
