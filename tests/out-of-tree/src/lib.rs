//! Test fixture: the plugin `outside`, built outside the workspace with its
//! own Cargo.lock; `GET /api/outside/hello` answers `built elsewhere`.

use axum::{Router, routing::get};
use greenroom_sdk::{Context, Error, PluginRegistrar};
use greenroom_sdk_http::Serve as _;

greenroom_sdk::export! {
    executor: greenroom_sdk_tokio::EXECUTOR,
    plugins: { "outside" => register },
}

fn register(plugin: &mut PluginRegistrar) -> Result<(), Error> {
    plugin.init(init);
    Ok(())
}

async fn init(context: Context) -> Result<(), Error> {
    context.serve(Router::new().route("/hello", get(|| async { "built elsewhere" })))
}
