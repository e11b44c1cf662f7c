//! A custom backend: plugins from a directory plus one plugin linked in.

#![allow(clippy::print_stdout, reason = "the example prints its startup report")]

use greenroom_sdk::{Error, PluginRegistrar};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let backend = greenroom_host::Backend::new()
        .plugins_dir("plugins")
        .add_static(
            "greeter",
            greenroom_sdk::root_module! { plugins: { "greeter" => greeter } },
        )
        .load()?
        .start()
        .await?;
    println!("{}", serde_json::to_string_pretty(backend.report())?);
    backend.stop().await;
    Ok(())
}

fn greeter(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin.init(|context| async move {
        tracing::info!(plugin = %context.plugin_id(), "hello from a linked-in plugin");
        Ok(())
    });
    Ok(())
}
