//! The `template` plugin of Greenroom: serves `GET /api/template/hello`,
//! configured under `template` in the app config.

use axum::{Json, Router, routing::get};
use greenroom_sdk::{Context, Error, PluginRegistrar};
use greenroom_sdk_http::Serve as _;

greenroom_sdk::export! {
    executor: greenroom_sdk_tokio::EXECUTOR,
    plugins: { "template" => register },
}

/// Declares what the plugin needs and provides.
fn register(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin
        .depends_on_service("core.logger", "^1")
        .config_schema(include_str!("../config.schema.json"))
        .init(init);
    Ok(())
}

/// Reads the configuration and serves the routes.
async fn init(context: Context) -> Result<(), Error> {
    let greeting = context
        .config()
        .optional_string("greeting")?
        .unwrap_or_else(|| "hello".to_string());
    tracing::info!(%greeting, "template is starting");
    let router = Router::new().route(
        "/hello",
        get(move || {
            let greeting = greeting.clone();
            async move { Json(serde_json::json!({ "greeting": greeting })) }
        }),
    );
    context.serve(router)
}

#[cfg(test)]
mod tests {
    use greenroom_test_kit::TestBackend;

    #[test]
    fn it_greets_as_configured() {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime starts");
        runtime.block_on(async {
            let plugin = greenroom_sdk::root_module! {
                executor: greenroom_sdk_tokio::EXECUTOR,
                plugins: { "template" => super::register },
            };
            let backend = TestBackend::builder()
                .add_static("template", plugin)
                .plugin_config("template", serde_json::json!({ "greeting": "welcome" }))
                .start()
                .await
                .expect("the plugin starts");

            let response = backend.get("/api/template/hello", None).await;

            assert_eq!(response.status, 200);
            assert_eq!(
                response.json(),
                serde_json::json!({ "greeting": "welcome" })
            );
            backend.stop().await;
        });
    }
}
