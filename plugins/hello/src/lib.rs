//! A small plugin that greets: the example every new plugin starts from.

use axum::{Json, Router, extract::Query, routing::get};
use greenroom_sdk::{Context, Error, PluginRegistrar};
use greenroom_sdk_http::Serve as _;
use serde::Deserialize;

greenroom_sdk::export! {
    executor: greenroom_sdk_tokio::EXECUTOR,
    plugins: { "hello" => register_hello },
}

fn register_hello(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin.depends_on_service("core.logger", "^1").init(init);
    Ok(())
}

#[derive(Deserialize)]
struct Greeting {
    name: Option<String>,
}

async fn init(context: Context) -> Result<(), Error> {
    let router = Router::new().route(
        "/greeting",
        get(|Query(greeting): Query<Greeting>| async move {
            let name = greeting.name.unwrap_or_else(|| "world".to_string());
            tracing::debug!(%name, "greeting");
            Json(serde_json::json!({ "greeting": format!("hello, {name}") }))
        }),
    );
    context.serve_with_open_paths(router, &["/greeting"])?;
    tracing::info!("plugin {} initialized", context.plugin_id());
    context.on_shutdown(|| async {
        tracing::info!("hello says goodbye");
        Ok(())
    });
    Ok(())
}
