//! A plugin built outside the workspace, with its own Cargo.lock and target
//! directory, loads in the host and serves its routes.

use greenroom_test_kit::TestBackend;

use crate::artifacts::out_of_tree_fixture;

#[test]
fn a_plugin_built_outside_the_workspace_loads_and_serves() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime starts");
    runtime.block_on(async {
        let backend = TestBackend::builder()
            .file(out_of_tree_fixture())
            .start()
            .await
            .expect("the out-of-tree plugin starts");

        let response = backend.get("/api/outside/hello", None).await;

        assert_eq!(response.status, 200);
        assert_eq!(response.text(), "built elsewhere");
        backend.stop().await;
    });
}
