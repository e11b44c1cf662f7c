//! A small plugin that greets: the example every new plugin starts from.

use greenroom_sdk::{PluginRegistrar, RegisterError, ServiceScope};

greenroom_sdk::export! {
    plugins: { "hello" => register_hello },
}

fn register_hello(plugin: &mut PluginRegistrar) -> Result<(), RegisterError> {
    plugin
        .depends_on_service("core.logger", "^1")
        .provides_service("hello.greeter", "1.0.0", ServiceScope::Plugin);
    Ok(())
}
