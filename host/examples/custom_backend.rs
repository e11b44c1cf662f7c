//! A custom backend: plugins from a directory plus one plugin linked in.

#![allow(clippy::print_stdout, reason = "the example prints its startup report")]

use greenroom_sdk::{Error, PluginRegistrar};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    let backend = greenroom_host::Backend::new()
        .plugins_dir("plugins")
        .add_static(
            "greeter",
            greenroom_sdk::root_module! { plugins: { "greeter" => greeter } },
        )
        .listen("127.0.0.1:0".parse()?)
        .load()?
        .start()
        .await?;
    println!("{}", serde_json::to_string_pretty(backend.report())?);
    println!("served on {:?}", backend.http_address());
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
