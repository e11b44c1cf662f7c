//! A small plugin that greets: the example every new plugin starts from.

use greenroom_sdk::{Context, Error, PluginRegistrar, ServiceScope};

greenroom_sdk::export! {
    plugins: { "hello" => register_hello },
}

fn register_hello(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .depends_on_service("core.logger", "^1")
        .provides_service("hello.greeter", "1.0.0", ServiceScope::Plugin)
        .init(init);
    Ok(())
}

async fn init(context: Context) -> Result<(), Error> {
    tracing::info!(
        greeting = "hello",
        "plugin {} initialized",
        context.plugin_id()
    );
    context.on_shutdown(|| async {
        tracing::info!("hello says goodbye");
        Ok(())
    });
    Ok(())
}
