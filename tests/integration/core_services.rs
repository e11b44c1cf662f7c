//! The core services a plugin reaches through the host: the cache (per
//! plugin, with expiry on a clock the test moves) and discovery.

use std::{sync::Arc, time::Duration};

use axum::{
    body::Body,
    http::{Request, header::AUTHORIZATION},
};
use greenroom_host::{
    Backend,
    serve::{AuthPolicy, HttpOptions, StaticToken},
    services::{DatabaseClient, ManualClock},
};
use tower::ServiceExt as _;

use crate::artifacts::{fixture, runtime, scratch};

const TOKEN: &str = "core-services-token";

fn backend(test: &str, clock: Arc<ManualClock>) -> Backend {
    let auth = AuthPolicy {
        open: false,
        tokens: vec![StaticToken {
            token: TOKEN.to_string(),
            subject: "test".to_string(),
            plugins: None,
        }],
    };
    Backend::new()
        .no_plugins_dir()
        .private_dir(scratch(test))
        .file(fixture("web"))
        .http_options(HttpOptions {
            auth,
            ..HttpOptions::default()
        })
        .clock(clock)
}

async fn call(router: &axum::Router, method: &str, uri: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::from(body.to_vec()))
        .expect("the request is valid");
    let response = router
        .clone()
        .oneshot(request)
        .await
        .unwrap_or_else(|never| match never {});
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, body.to_vec())
}

#[test]
fn a_cached_value_expires_on_the_hosts_clock_and_outlives_a_restart() {
    runtime().block_on(async {
        let clock = Arc::new(ManualClock::default());
        let mut running = backend("core-cache", clock.clone())
            .load()
            .unwrap()
            .start()
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        let router = running.router();

        assert_eq!(
            call(
                &router,
                "PUT",
                "/api/web/cache/greeting?ttl_ms=10000",
                b"hello"
            )
            .await
            .0,
            204
        );
        assert_eq!(
            call(&router, "GET", "/api/web/cache/greeting", b"").await,
            (200, b"hello".to_vec())
        );

        running
            .restart_plugin("web")
            .await
            .expect("the plugin restarts");
        let router = running.router();
        clock.advance(Duration::from_millis(9_999));
        assert_eq!(
            call(&router, "GET", "/api/web/cache/greeting", b"").await,
            (200, b"hello".to_vec())
        );
        clock.advance(Duration::from_millis(1));
        assert_eq!(
            call(&router, "GET", "/api/web/cache/greeting", b"").await.0,
            404
        );
        assert_eq!(running.stop().await, Vec::<String>::new());
    });
}

#[test]
fn discovery_and_instance_metadata_reach_the_plugin() {
    runtime().block_on(async {
        let running = backend("core-discovery", Arc::default())
            .discovery_endpoint("search", "https://search.example/api/search")
            .load()
            .unwrap()
            .start()
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        let router = running.router();

        assert_eq!(
            call(&router, "GET", "/api/web/discovery/catalog", b"").await,
            (200, b"http://127.0.0.1:7007/api/catalog".to_vec())
        );
        assert_eq!(
            call(&router, "GET", "/api/web/discovery/search", b"").await,
            (200, b"https://search.example/api/search".to_vec())
        );
        let (status, instance) = call(&router, "GET", "/api/web/instance", b"").await;
        assert_eq!(status, 200);
        let instance: serde_json::Value = serde_json::from_slice(&instance).unwrap();
        assert_eq!(
            instance,
            serde_json::json!({ "plugins": [{ "id": "web", "version": "1.0.0", "modules": [] }] })
        );
        running.stop().await;
    });
}

/// Asks for `/api/web/ticks` until it answers `expected`, within a bound.
async fn ticks_reach(router: &axum::Router, expected: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = call(router, "GET", "/api/web/ticks", b"").await;
        if body == expected.as_bytes() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "ticks stayed at {:?}, expected {expected:?}",
            String::from_utf8_lossy(&body)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn scheduled_tasks_run_on_the_hosts_clock_and_stop_with_their_plugin() {
    runtime().block_on(async {
        let clock = Arc::new(ManualClock::default());
        let mut running = backend("core-scheduler", clock.clone())
            .load()
            .unwrap()
            .start()
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        let router = running.router();
        ticks_reach(&router, "0 0").await;

        clock.advance(Duration::from_secs(1));
        ticks_reach(&router, "1 0").await;
        // The manual clock starts at 2026-01-01T00:00:00Z: the cron pattern
        // `* * * * *` falls due at 00:01:00.
        clock.advance(Duration::from_secs(59));
        ticks_reach(&router, "2 1").await;

        // A restart replaces the plugin's tasks rather than adding to them.
        running
            .restart_plugin("web")
            .await
            .expect("the plugin restarts");
        let router = running.router();
        clock.advance(Duration::from_secs(1));
        ticks_reach(&router, "3 1").await;
        assert_eq!(running.stop().await, Vec::<String>::new());
    });
}

/// Starts the notes fixture twice with `database`, and returns what
/// `GET /api/notes/starts` answered each time.
async fn notes_twice(database: DatabaseClient) -> [serde_json::Value; 2] {
    let start = || async {
        Backend::new()
            .no_plugins_dir()
            .private_dir(scratch("core-database"))
            .file(fixture("notes"))
            .database(database.clone())
            .load()
            .unwrap()
            .start()
            .await
            .unwrap_or_else(|error| panic!("{error}"))
    };
    let mut answers = Vec::new();
    for _ in 0..2 {
        let running = start().await;
        let (status, body) = call(&running.router(), "GET", "/api/notes/starts", b"").await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        answers.push(serde_json::from_slice(&body).expect("JSON"));
        assert_eq!(running.stop().await, Vec::<String>::new());
    }
    answers.try_into().expect("two answers")
}

#[test]
fn a_row_written_through_the_database_service_survives_a_restart() {
    runtime().block_on(async {
        let data = scratch("core-database-data");
        let database = DatabaseClient::Sqlite {
            directory: data.clone(),
        };

        let [first, second] = notes_twice(database).await;

        assert_eq!(first, serde_json::json!({"starts": 1, "kept_in": "sqlite"}));
        assert_eq!(
            second,
            serde_json::json!({"starts": 2, "kept_in": "sqlite"})
        );
        assert!(data.join("notes/database.sqlite").is_file());
    });
}

#[test]
fn a_row_written_to_postgres_survives_a_restart_in_the_plugins_own_schema() {
    let connection = std::env::var("GREENROOM_TEST_POSTGRES").expect(
        "GREENROOM_TEST_POSTGRES names a PostgreSQL server (`export \
         GREENROOM_TEST_POSTGRES=$(.ci/postgres)` starts one)",
    );
    runtime().block_on(async {
        let database = DatabaseClient::Postgres { connection };

        let [first, second] = notes_twice(database).await;

        assert_eq!(first["kept_in"], "plugin_notes", "{first}");
        let before = first["starts"].as_i64().expect("a count");
        assert_eq!(
            second,
            serde_json::json!({"starts": before + 1, "kept_in": "plugin_notes"})
        );
    });
}

#[test]
fn a_plugins_database_directory_another_host_holds_is_refused_with_its_pid() {
    let data = scratch("core-database-held");
    let held = data.join("notes");
    std::fs::create_dir_all(&held).expect("scratch directories can be made");
    // Another host: a lock on the directory's lock file, from another open
    // file, as another process would hold it.
    let mut other = std::fs::File::create(held.join("database.lock")).expect("created");
    other.try_lock().expect("nothing else holds it");
    std::io::Write::write_all(&mut other, b"4242").expect("written");

    let refused = runtime().block_on(async {
        Backend::new()
            .no_plugins_dir()
            .private_dir(scratch("core-database-held-copies"))
            .file(fixture("notes"))
            .database(DatabaseClient::Sqlite {
                directory: data.clone(),
            })
            .load()
            .unwrap()
            .start()
            .await
            .err()
            .expect("the notes plugin cannot have its database")
            .to_string()
    });

    assert!(
        refused.contains(&format!(
            "the database directory {held} is in use by another process (pid 4242), another \
             greenroom host; give each host its own backend.database.directory"
        )),
        "{refused}"
    );
}
