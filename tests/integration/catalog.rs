//! The catalog plugin family on real input: Backstage's example catalog
//! files, read by the file provider module, annotated by the processor
//! module, served by the catalog over a loopback socket and searched by the
//! search plugin through the catalog's typed service.

use std::net::SocketAddr;

use camino::{Utf8Path, Utf8PathBuf};
use greenroom_host::{Backend, RunningBackend, config::ConfigLoader};
use serde_json::{Value, json};

use crate::artifacts::{eventually, http_request, plugin, scratch};

/// The token the tests' configuration accepts.
const TOKEN: &str = "catalog-test-token";

/// Backstage's example catalog, beside the repository.
fn examples() -> Utf8PathBuf {
    let path =
        Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/backstage-catalog");
    let path = std::fs::canonicalize(&path)
        .unwrap_or_else(|error| panic!("{path}: {error}; the examples live in ../shared"));
    Utf8PathBuf::from_path_buf(path).expect("a UTF-8 path")
}

/// A plugins directory holding each of `plugins/<name>`'s library.
fn plugins_dir(dir: &Utf8Path, names: &[&str]) -> Utf8PathBuf {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).expect("scratch directories can be created");
    for name in names {
        // A link, not a copy: the host copies what it loads anyway.
        let (library, installed) = (plugin(name), plugins.join(format!("{name}.so")));
        std::fs::hard_link(&library, &installed)
            .or_else(|_| std::fs::copy(&library, &installed).map(drop))
            .expect("plugins link or copy");
    }
    plugins
}

/// The catalog family: the catalog, its two modules and search.
const FAMILY: [&str; 4] = [
    "catalog",
    "catalog-module-files",
    "catalog-module-annotate",
    "search",
];

/// A host serving `plugins` on a loopback port, configured with the
/// catalog section `catalog` (YAML, indented by two) and a database under
/// `dir`.
struct Host {
    runtime: tokio::runtime::Runtime,
    running: Option<RunningBackend>,
    address: SocketAddr,
}

impl Host {
    fn start(dir: &Utf8Path, plugins: &Utf8Path, catalog: &str) -> Self {
        Self::start_with(dir, plugins, catalog, false)
    }

    /// As [`Host::start`], taking plugin files replaced while it runs as
    /// new generations when `follow` is set.
    fn start_with(dir: &Utf8Path, plugins: &Utf8Path, catalog: &str, follow: bool) -> Self {
        let config = format!(
            "backend:\n  auth:\n    externalAccess:\n      - type: static\n        options:\n          \
             token: {TOKEN}\n          subject: tester\n  database:\n    directory: {dir}/data\n\
             catalog:\n{catalog}"
        );
        let file = dir.join("app-config.yaml");
        std::fs::write(&file, config).expect("the configuration is written");
        let loader = ConfigLoader::new().file(&file);
        let backend = Backend::from_config(loader.load().expect("the configuration loads"))
            .expect("the configuration is valid")
            .plugins_dir(plugins)
            .private_dir(dir)
            .watch_plugins(follow)
            .listen(([127, 0, 0, 1], 0).into());
        let runtime = tokio::runtime::Runtime::new().expect("a runtime starts");
        let running = runtime
            .block_on(backend.load().expect("the plugins load").start())
            .unwrap_or_else(|error| panic!("{error}"));
        let address = running.http_address().expect("the host listens");
        Self {
            runtime,
            running: Some(running),
            address,
        }
    }

    /// `GET path` (below `/api`), which must answer 200 with JSON.
    fn get(&self, path: &str) -> Value {
        let (status, body) = self.call("GET", path, None);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("GET {path} is not JSON: {body}"))
    }

    fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        http_request(
            self.address,
            method,
            &format!("/api{path}"),
            Some(TOKEN),
            body,
        )
    }

    /// Waits until the catalog serves `count` entities and returns them.
    fn entities_once(&self, count: usize) -> Vec<Value> {
        eventually(&format!("the catalog serving {count} entities"), || {
            let entities = self.get("/catalog/entities");
            let entities = entities.as_array().cloned().unwrap_or_default();
            (entities.len() == count).then_some(entities)
        })
    }

    /// Waits for the next plugin files replaced and applies them, as the
    /// `greenroom` binary does in development; what became of each.
    fn follow_plugin_files(&mut self) -> Vec<String> {
        let running = self.running.as_mut().expect("the host runs");
        let outcomes = self.runtime.block_on(async {
            tokio::time::timeout(
                std::time::Duration::from_secs(60),
                running.follow_plugin_files(),
            )
            .await
            .expect("a change arrives")
            .expect("the plugins directory is followed")
        });
        outcomes
            .iter()
            .map(|outcome| format!("{outcome:?}"))
            .collect()
    }

    fn stop(mut self) {
        if let Some(running) = self.running.take() {
            let failures = self.runtime.block_on(running.stop());
            assert_eq!(failures, Vec::<String>::new());
        }
    }
}

/// `catalog.locations` with one file location.
fn location(target: &Utf8Path) -> String {
    format!("  locations:\n    - type: file\n      target: {target}\n")
}

/// The refs of `entities`, sorted.
fn refs(entities: &[Value]) -> Vec<String> {
    let mut refs: Vec<String> = entities
        .iter()
        .map(|entity| {
            format!(
                "{}:{}/{}",
                entity["kind"].as_str().unwrap_or_default().to_lowercase(),
                entity["metadata"]["namespace"].as_str().unwrap_or_default(),
                entity["metadata"]["name"].as_str().unwrap_or_default()
            )
        })
        .collect();
    refs.sort();
    refs
}

/// The APIs of the example set, whose definitions are `https://` URLs.
const REMOTE_APIS: [&str; 7] = [
    "api:default/analytics",
    "api:default/awarecoreinsight",
    "api:default/awareproducerservice",
    "api:default/inpixonmappingsdk",
    "api:default/mapanalytics",
    "api:default/odpanalytics",
    "api:default/wokplaceanalytics",
];

#[test]
fn the_example_catalog_is_served_in_backstages_shapes_with_its_processing_errors() {
    let dir = scratch("catalog-examples");
    let plugins = plugins_dir(&dir, &FAMILY);
    let all = examples().join("all.yaml");
    let host = Host::start(&dir, &plugins, &location(&all));

    let entities = host.entities_once(27);

    let facets = host.get("/catalog/entity-facets?facet=kind");
    assert_eq!(
        facets,
        json!({"facets": {"kind": [
            {"value": "Component", "count": 13},
            {"value": "Location", "count": 7},
            {"value": "Domain", "count": 3},
            {"value": "System", "count": 3},
            {"value": "Resource", "count": 1},
        ]}})
    );
    let errors = host.get("/catalog/processing-errors");
    let mut failed: Vec<&str> = errors
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|error| error["entityRef"].as_str())
        .collect();
    failed.sort_unstable();
    assert_eq!(failed, REMOTE_APIS);
    let analytics = errors
        .as_array()
        .and_then(|errors| {
            errors
                .iter()
                .find(|e| e["entityRef"] == "api:default/analytics")
        })
        .cloned();
    assert_eq!(
        analytics,
        Some(json!({
            "entityRef": "api:default/analytics",
            "location": format!("file:{}", examples().join("apis/analytics-api.yaml")),
            "message": "spec.definition: $text \"https://api.inpixondev.com/analytics/openapi.json\": \
                        no reader may read from api.inpixondev.com; to read it, add {host: \
                        api.inpixondev.com} to catalog.reading.allow",
        }))
    );
    assert!(
        refs(&entities)
            .iter()
            .all(|entity_ref| !entity_ref.starts_with("api:"))
    );

    let petstore = host.get("/catalog/entities/by-name/component/default/petstore");
    let relations: Vec<(String, String)> = petstore["relations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|relation| {
            (
                relation["type"].as_str().unwrap_or_default().to_string(),
                relation["targetRef"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        relations,
        [
            ("ownedBy", "group:default/team-c"),
            ("providesApi", "api:default/hello-world"),
            ("providesApi", "api:default/petstore"),
            ("providesApi", "api:default/streetlights"),
        ]
        .map(|(kind, target)| (kind.to_string(), target.to_string()))
    );
    assert_eq!(
        petstore["metadata"]["annotations"],
        json!({
            "backstage.io/managed-by-location":
                format!("file:{}", examples().join("components/petstore-component.yaml")),
            "backstage.io/managed-by-origin-location": format!("file:{all}"),
        })
    );
    let podcast = host.get("/catalog/entities/by-name/system/default/podcast");
    let podcast_relations: Vec<&str> = podcast["relations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|relation| relation["targetRef"].as_str())
        .collect();
    assert_eq!(
        podcast_relations,
        [
            "component:default/podcast-api",
            "component:default/queue-proxy",
            "group:default/team-b",
            "domain:default/playback",
        ]
    );

    let uid = petstore["metadata"]["uid"].as_str().expect("a uid");
    assert_eq!(
        host.get(&format!("/catalog/entities/by-uid/{uid}")),
        petstore
    );
    let (status, missing) = host.call(
        "GET",
        "/catalog/entities/by-name/component/default/nope",
        None,
    );
    assert_eq!(status, 404);
    assert_eq!(
        serde_json::from_str::<Value>(&missing).expect("JSON"),
        json!({
            "error": {
                "name": "NotFoundError",
                "message": "No entity named 'nope' found, with kind 'component' in namespace \
                            'default'",
            },
            "request": {"method": "GET", "url": "/entities/by-name/component/default/nope"},
            "response": {"statusCode": 404},
        })
    );

    let by_refs = host.call(
        "POST",
        "/catalog/entities/by-refs",
        Some(
            r#"{"entityRefs": ["system:default/podcast", "api:default/analytics",
            "component:petstore"], "fields": ["metadata.name"]}"#,
        ),
    );
    assert_eq!(by_refs.0, 200, "{}", by_refs.1);
    assert_eq!(
        serde_json::from_str::<Value>(&by_refs.1).expect("JSON"),
        json!({"items": [{"metadata": {"name": "podcast"}}, null,
            {"metadata": {"name": "petstore"}}]})
    );

    let services =
        host.get("/catalog/entities?filter=kind=component,spec.type=service&fields=metadata.name");
    assert_eq!(services.as_array().map(Vec::len), Some(10), "{services}");
    let either = host.get("/catalog/entities?filter=kind=system&filter=kind=DOMAIN&fields=kind");
    assert_eq!(either.as_array().map(Vec::len), Some(6), "{either}");
    let (status, bad_filter) = host.call("GET", "/catalog/entities?filter==x", None);
    assert_eq!(status, 400, "{bad_filter}");

    let mut seen = Vec::new();
    let mut page = host.get("/catalog/entities/by-query?limit=10&orderField=metadata.name,asc");
    assert_eq!(page["totalItems"], 27);
    assert!(page["pageInfo"].get("prevCursor").is_none());
    loop {
        seen.extend(page["items"].as_array().cloned().unwrap_or_default());
        let Some(next) = page["pageInfo"]["nextCursor"].as_str() else {
            break;
        };
        page = host.get(&format!(
            "/catalog/entities/by-query?limit=10&cursor={next}"
        ));
        assert!(page["pageInfo"]["prevCursor"].is_string());
    }
    assert_eq!(refs(&seen), refs(&entities));
    let names: Vec<&str> = seen
        .iter()
        .filter_map(|entity| entity["metadata"]["name"].as_str())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_by_key(|name| name.to_lowercase());
    assert_eq!(names, sorted);

    let locations = host.get("/catalog/locations");
    assert_eq!(locations[0]["data"]["type"], "file");
    assert_eq!(locations[0]["data"]["target"], all.as_str());

    let found = host.get("/search/query?term=artist%20lookup");
    assert_eq!(found["numberOfResults"], 1, "{found}");
    assert_eq!(
        found["results"][0]["document"]["location"],
        "/catalog/default/component/artist-lookup"
    );
    host.stop();
}

#[test]
fn after_a_restart_the_saved_entities_are_served_before_any_provider_reads() {
    let dir = scratch("catalog-restart");
    let family = plugins_dir(&dir, &FAMILY);
    let all = examples().join("all.yaml");
    let first = Host::start(&dir, &family, &location(&all));
    let before = first.entities_once(27);
    first.stop();

    // Without the file provider nothing reads the files again: all the
    // catalog serves comes from its database.
    let alone = scratch("catalog-restart-alone");
    let catalog_only = plugins_dir(&alone, &["catalog"]);
    let second = Host::start(&dir, &catalog_only, &location(&all));
    let after = second.get("/catalog/entities");
    let errors = second.get("/catalog/processing-errors");
    second.stop();

    assert_eq!(after.as_array(), Some(&before));
    assert_eq!(errors.as_array().map(Vec::len), Some(REMOTE_APIS.len()));
}

/// Writes `text` to `dir/name` at once, as editors save.
fn save(dir: &Utf8Path, name: &str, text: &str) {
    let temporary = dir.join(format!(".{name}.new"));
    std::fs::write(&temporary, text).expect("scratch files can be written");
    std::fs::rename(&temporary, dir.join(name)).expect("scratch files can be renamed");
}

const COMPONENT: &str = "apiVersion: backstage.io/v1alpha1\nkind: Component\n";

#[test]
fn bad_entities_and_files_become_errors_and_a_changed_file_is_served_again() {
    let dir = scratch("catalog-files");
    let plugins = plugins_dir(&dir, &FAMILY);
    let files = dir.join("files");
    std::fs::create_dir_all(&files).expect("scratch directories can be created");
    save(
        &files,
        "all.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {name: all}\nspec:\n  \
         targets: [./first.yaml, ./second.yaml, ./broken.yaml, ./absent.yaml]\n",
    );
    save(&files, "definition.txt", "openapi: 3.0.0\n");
    save(
        &files,
        "first.yaml",
        &format!(
            "{COMPONENT}metadata: {{name: shared}}\nspec: {{type: service, lifecycle: x, owner: a, \
             definition: {{$text: ./definition.txt}}}}\n---\n{COMPONENT}metadata: {{name: \
             Bad Name}}\nspec: {{type: service, lifecycle: x, owner: a}}\n"
        ),
    );
    save(
        &files,
        "second.yaml",
        &format!(
            "{COMPONENT}metadata: {{name: shared}}\nspec: {{type: library, lifecycle: x, owner: \
             b}}\n---\n{COMPONENT}metadata: {{name: other}}\nspec: {{type: service, lifecycle: \
             x, owner: a, dependsOn: [component:shared]}}\n"
        ),
    );
    save(
        &files,
        "broken.yaml",
        "kind: Component\nmetadata: [unclosed\n",
    );
    let host = Host::start(&dir, &plugins, &location(&files.join("all.yaml")));

    let entities = host.entities_once(4);
    assert_eq!(
        refs(&entities),
        [
            "component:default/other",
            "component:default/shared",
            "location:default/all",
            format!("location:default/{}", generated(&host)).as_str(),
        ]
    );
    let shared = host.get("/catalog/entities/by-name/component/default/shared");
    assert_eq!(shared["spec"]["owner"], "a", "the first definition is kept");
    assert_eq!(shared["spec"]["definition"], "openapi: 3.0.0\n");
    assert_eq!(
        shared["relations"],
        json!([
            {"type": "dependencyOf", "targetRef": "component:default/other",
             "target": {"kind": "component", "namespace": "default", "name": "other"}},
            {"type": "ownedBy", "targetRef": "group:default/a",
             "target": {"kind": "group", "namespace": "default", "name": "a"}},
        ])
    );
    let mut errors: Vec<String> = host
        .get("/catalog/processing-errors")
        .as_array()
        .into_iter()
        .flatten()
        .map(|error| {
            let location = error["location"].as_str().unwrap_or_default();
            let file = location.rsplit('/').next().unwrap_or_default();
            format!("{file}: {}", error["message"].as_str().unwrap_or_default())
        })
        .collect();
    errors.sort();
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert!(
        errors[0].starts_with("absent.yaml: cannot read "),
        "{errors:#?}"
    );
    assert!(
        errors[1].starts_with("broken.yaml: malformed YAML at line 3"),
        "{errors:#?}"
    );
    assert!(
        errors[2].starts_with("first.yaml: metadata.name \"Bad Name\" is not a valid name"),
        "{errors:#?}"
    );
    assert!(
        errors[3].starts_with(&format!(
            "second.yaml: component:default/shared is already defined at file:{}; this \
             definition is ignored",
            files.join("first.yaml")
        )),
        "{errors:#?}"
    );

    save(
        &files,
        "broken.yaml",
        &format!(
            "{COMPONENT}metadata: {{name: mended}}\nspec: {{type: x, lifecycle: x, owner: a}}\n"
        ),
    );
    let entities = host.entities_once(5);
    assert!(refs(&entities).contains(&"component:default/mended".to_string()));
    let errors = host.get("/catalog/processing-errors");
    assert_eq!(errors.as_array().map(Vec::len), Some(3), "{errors}");

    // Once served, nothing is saved again until something changes.
    let saved = || {
        let wal = dir.join("data/catalog/database.sqlite-wal");
        std::fs::metadata(&wal)
            .map(|metadata| metadata.len())
            .unwrap_or(0)
    };
    let before = saved();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(
        saved(),
        before,
        "the catalog saved again with no file changed"
    );
    host.stop();
}

/// The name of the `Location` generated for the configured root.
fn generated(host: &Host) -> String {
    let locations = host.get("/catalog/entities?filter=kind=location&fields=metadata.name");
    locations
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entity| entity["metadata"]["name"].as_str())
        .find(|name| name.starts_with("generated-"))
        .expect("a generated location")
        .to_string()
}

/// Serves `body` to every request on a loopback port until the test ends.
fn serve_text(body: &'static str) -> SocketAddr {
    use std::io::{Read as _, Write as _};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let address = listener.local_addr().expect("an address");
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0_u8; 4096];
            let _ = stream.read(&mut request);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    address
}

#[test]
fn placeholders_are_read_from_allowed_hosts_only() {
    let dir = scratch("catalog-reader");
    let plugins = plugins_dir(&dir, &["catalog", "catalog-module-files"]);
    let allowed = serve_text("{\"openapi\": \"3.0.0\"}");
    let refused = serve_text("never read");
    let api = |name: &str, url: String| {
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata: {{name: {name}}}\nspec: \
             {{type: openapi, lifecycle: x, owner: a, definition: {{$text: '{url}'}}}}\n"
        )
    };
    let file = dir.join("apis.yaml");
    std::fs::write(
        &file,
        format!(
            "{}---\n{}",
            api("allowed", format!("http://{allowed}/openapi.json")),
            api("refused", format!("http://{refused}/openapi.json"))
        ),
    )
    .expect("written");
    let catalog = format!(
        "{}  reading:\n    allow:\n      - host: '{allowed}'\n",
        location(&file)
    );
    let host = Host::start(&dir, &plugins, &catalog);

    let entities = host.entities_once(2);
    assert!(refs(&entities).contains(&"api:default/allowed".to_string()));
    let read = host.get("/catalog/entities/by-name/api/default/allowed");
    assert_eq!(read["spec"]["definition"], "{\"openapi\": \"3.0.0\"}");
    let errors = host.get("/catalog/processing-errors");
    assert_eq!(
        errors[0]["message"],
        format!(
            "spec.definition: $text \"http://{refused}/openapi.json\": no reader may read from \
             {refused}; to read it, add {{host: {refused}}} to catalog.reading.allow"
        )
    );
    host.stop();
}

#[test]
fn the_projects_own_catalog_describes_every_crate_under_plugins_without_errors() {
    let dir = scratch("catalog-own");
    let plugins = plugins_dir(&dir, &["catalog", "catalog-module-files"]);
    let repository = Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let repository = Utf8PathBuf::from_path_buf(
        std::fs::canonicalize(&repository).expect("the repository exists"),
    )
    .expect("a UTF-8 path");
    let mut crates: Vec<String> = std::fs::read_dir(repository.join("plugins"))
        .expect("plugins/ lists")
        .flatten()
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .map(|entry| format!("component:default/{}", entry.file_name().to_string_lossy()))
        .collect();
    crates.sort();
    let host = Host::start(
        &dir,
        &plugins,
        &location(&repository.join("plugins/catalog-info.yaml")),
    );

    let components = eventually("every crate served as a component", || {
        let components = host.get("/catalog/entities?filter=kind=component&fields=kind,metadata");
        let components = components.as_array().cloned().unwrap_or_default();
        (components.len() == crates.len()).then_some(components)
    });

    assert_eq!(refs(&components), crates);
    assert_eq!(host.get("/catalog/processing-errors"), json!([]));
    let catalog = host.get("/catalog/entities/by-name/api/default/catalog-rest");
    assert!(
        catalog["spec"]["definition"]
            .as_str()
            .is_some_and(|definition| definition.starts_with("openapi: 3.0.3")),
        "the definition is read from openapi.yaml beside the entity file: {catalog}"
    );
    host.stop();
}

/// A component entity named `name`, as YAML.
fn component(name: &str) -> String {
    format!(
        "{COMPONENT}metadata: {{name: {name}}}\nspec: {{type: service, lifecycle: x, owner: a}}\n"
    )
}

#[test]
fn hostile_catalog_files_are_refused_alone_and_cost_nothing_else() {
    let dir = scratch("catalog-hostile");
    let plugins = plugins_dir(&dir, &["catalog", "catalog-module-files"]);
    let files = dir.join("files");
    std::fs::create_dir_all(&files).expect("scratch directories can be created");
    std::fs::write(dir.join("outside.txt"), "not for the catalog").expect("written");
    let fifo_made = std::process::Command::new("mkfifo")
        .arg(files.join("fifo.yaml"))
        .status()
        .is_ok_and(|status| status.success());
    assert!(fifo_made, "mkfifo makes a FIFO");
    save(
        &files,
        "all.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {name: all}\nspec:\n  \
         targets: [./fifo.yaml, /dev/zero, ../outside.txt, ./bomb.yaml, ./mixed.yaml]\n---\n\
         kind: Location\nmetadata: {name: invalid}\nspec: {target: ./never.yaml}\n",
    );
    save(&files, "never.yaml", &component("never-followed"));
    let long = "y".repeat(1 << 20);
    let copies = vec!["*s"; 40].join(", ");
    save(
        &files,
        "bomb.yaml",
        &format!(
            "{}---\n{COMPONENT}metadata: {{name: bomb}}\nspec:\n  big: &s {long}\n  copies: \
             [{copies}]\n",
            component("before-bomb")
        ),
    );
    save(
        &files,
        "mixed.yaml",
        &format!(
            "{}---\n? [complex, key]\n: value\n---\n{COMPONENT}metadata: {{name: escapes, \
             description: {{$text: ../outside.txt}}, labels: {{$ref: x}}}}\nspec: {{type: \
             service, lifecycle: x, owner: a}}\n",
            component("good-sibling")
        ),
    );
    let host = Host::start(&dir, &plugins, &location(&files.join("all.yaml")));

    let entities = host.entities_once(4);

    let served = refs(&entities);
    assert_eq!(
        served[..2],
        [
            "component:default/before-bomb",
            "component:default/good-sibling"
        ]
    );
    let errors: Vec<String> = host
        .get("/catalog/processing-errors")
        .as_array()
        .into_iter()
        .flatten()
        .map(|error| error["message"].as_str().unwrap_or_default().to_string())
        .collect();
    let expected_starts = [
        format!(
            "cannot read {}: it is not a regular file",
            files.join("fifo.yaml")
        ),
        format!("location target /dev/zero is outside {files}"),
        format!(
            "location target {} is outside {files}",
            dir.join("outside.txt")
        ),
        "document 2: the file expands to more than".to_string(),
        "document 2: a mapping key is a list or a mapping".to_string(),
        format!(
            "metadata.description: $text \"../outside.txt\": {files}/../outside.txt is outside \
             {files}"
        ),
        "apiVersion".to_string(),
    ];
    for start in &expected_starts {
        assert!(
            errors.iter().any(|error| error.starts_with(start.as_str())),
            "no error starting {start:?} in {errors:#?}"
        );
    }
    assert!(!served.contains(&"component:default/never-followed".to_string()));
    assert!(!served.contains(&"component:default/escapes".to_string()));
    host.stop();
}

#[test]
fn a_file_broken_after_it_was_served_keeps_its_entities_and_uids() {
    let dir = scratch("catalog-keep");
    let plugins = plugins_dir(&dir, &["catalog", "catalog-module-files"]);
    let files = dir.join("files");
    std::fs::create_dir_all(&files).expect("scratch directories can be created");
    let healthy = format!("{}---\n{}", component("first"), component("second"));
    save(&files, "healthy.yaml", &healthy);
    let host = Host::start(&dir, &plugins, &location(&files.join("healthy.yaml")));
    let before = host.entities_once(3);
    let uid = |entities: &[Value], name: &str| {
        entities
            .iter()
            .find(|entity| entity["metadata"]["name"] == name)
            .map(|entity| entity["metadata"]["uid"].clone())
    };

    save(&files, "healthy.yaml", &format!("{healthy}kind: [broken\n"));
    let errors = eventually("the broken file reported", || {
        let errors = host.get("/catalog/processing-errors");
        (errors.as_array().is_some_and(|errors| !errors.is_empty())).then_some(errors)
    });
    assert!(
        errors[0]["message"]
            .as_str()
            .is_some_and(|message| message.ends_with("; its 2 entities as last read are kept")),
        "{errors}"
    );
    assert_eq!(
        host.get("/catalog/entities").as_array().map(Vec::len),
        Some(3)
    );

    save(&files, "healthy.yaml", &healthy);
    eventually("the mended file served without errors", || {
        (host.get("/catalog/processing-errors") == json!([])).then_some(())
    });
    let after = host.entities_once(3);
    assert_eq!(uid(&after, "first"), uid(&before, "first"));
    assert_eq!(uid(&after, "second"), uid(&before, "second"));
    host.stop();
}

#[test]
fn malformed_catalog_and_search_requests_get_clear_json_errors() {
    let dir = scratch("catalog-requests");
    let plugins = plugins_dir(&dir, &FAMILY);
    let all = examples().join("all.yaml");
    let host = Host::start(&dir, &plugins, &location(&all));
    host.entities_once(27);
    let huge = u64::MAX;
    let cases = [
        (format!("/catalog/entities?limit={huge}&offset=1"), 400),
        (format!("/catalog/entities?limit=2&offset={huge}"), 400),
        ("/catalog/entities/by-query?limit=0".to_string(), 400),
        (
            "/catalog/entities/by-query?cursor=not-a-cursor".to_string(),
            400,
        ),
        (
            format!("/catalog/entities?fields={}", vec!["kind"; 101].join(",")),
            400,
        ),
        ("/catalog/entity-facets".to_string(), 400),
        ("/catalog/no-such-route".to_string(), 404),
        (format!("/search/query?pageCursor={huge}"), 200),
        ("/search/query?pageLimit=abc".to_string(), 400),
        (
            format!("/search/query?term={}", vec!["a"; 17].join("+")),
            400,
        ),
    ];

    for (path, status) in cases {
        let (found, body) = host.call("GET", &path, None);
        assert_eq!(found, status, "{path}: {body}");
        let body: Value =
            serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path} answers JSON: {body}"));
        if status != 200 {
            assert!(body["error"]["message"].is_string(), "{path}: {body}");
        }
    }
    let (status, headers_and_body) = host.call("DELETE", "/catalog/entities", None);
    assert_eq!(status, 405, "{headers_and_body}");
    host.stop();
}

#[test]
fn what_a_reloaded_catalog_saves_is_there_after_a_restart() {
    let dir = scratch("catalog-reloaded");
    let plugins = plugins_dir(&dir, &["catalog", "catalog-module-files"]);
    let files = dir.join("files");
    std::fs::create_dir_all(&files).expect("scratch directories can be created");
    save(&files, "all.yaml", &component("first"));
    let catalog = location(&files.join("all.yaml"));
    let mut host = Host::start_with(&dir, &plugins, &catalog, true);
    host.entities_once(2);

    // A new build of the catalog, renamed over the old one: a second copy
    // of the library (and of SQLite) runs beside the first until the swap.
    let mut bytes = std::fs::read(plugins.join("catalog.so")).expect("the library reads");
    bytes.extend_from_slice(b"\nanother build\n");
    std::fs::write(dir.join(".catalog.so.new"), bytes).expect("written");
    std::fs::rename(dir.join(".catalog.so.new"), plugins.join("catalog.so")).expect("renamed");
    let applied = host.follow_plugin_files();
    assert_eq!(applied, ["Ok(Reloaded([\"catalog\"]))"]);
    save(
        &files,
        "all.yaml",
        &format!("{}---\n{}", component("first"), component("second")),
    );
    let served = host.entities_once(3);
    host.stop();

    let alone = scratch("catalog-reloaded-alone");
    let catalog_only = plugins_dir(&alone, &["catalog"]);
    let restarted = Host::start(&dir, &catalog_only, &catalog);
    let saved = restarted.get("/catalog/entities");
    restarted.stop();
    assert_eq!(saved.as_array(), Some(&served));
}

#[test]
fn an_unreadable_database_is_set_aside_and_the_catalog_starts_afresh() {
    let dir = scratch("catalog-corrupt");
    let plugins = plugins_dir(&dir, &["catalog", "catalog-module-files"]);
    let database = dir.join("data/catalog");
    std::fs::create_dir_all(&database).expect("scratch directories can be created");
    std::fs::write(database.join("database.sqlite"), vec![0x5a_u8; 8192]).expect("written");
    let files = dir.join("files");
    std::fs::create_dir_all(&files).expect("scratch directories can be created");
    save(&files, "all.yaml", &component("fresh"));

    let host = Host::start(&dir, &plugins, &location(&files.join("all.yaml")));

    let entities = host.entities_once(2);
    assert!(refs(&entities).contains(&"component:default/fresh".to_string()));
    assert!(database.join("database.sqlite.unreadable").is_file());
    host.stop();
}

#[test]
fn entities_are_validated_and_refreshed_on_request_as_backstages_clients_ask() {
    let dir = scratch("catalog-validate");
    let plugins = plugins_dir(&dir, &["catalog", "catalog-module-files"]);
    let files = dir.join("files");
    std::fs::create_dir_all(&files).expect("scratch directories can be created");
    save(&files, "all.yaml", &component("first"));
    let host = Host::start(&dir, &plugins, &location(&files.join("all.yaml")));
    host.entities_once(2);

    let valid = r#"{"entity": {"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": {"name": "ok"}, "spec": {"type": "service", "lifecycle": "x", "owner": "a"}},
        "location": "url:https://example.com/catalog-info.yaml"}"#;
    let invalid = r#"{"entity": {"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": {"name": "Not OK!"}, "spec": {}}, "location": "url:x"}"#;
    let (status, body) = host.call("POST", "/catalog/validate-entity", Some(valid));
    assert_eq!((status, body.as_str()), (200, "{}"));
    let (status, body) = host.call("POST", "/catalog/validate-entity", Some(invalid));
    assert_eq!(status, 400, "{body}");
    let errors: Value = serde_json::from_str(&body).expect("JSON");
    assert!(
        errors["errors"][0]["message"]
            .as_str()
            .is_some_and(|message| message.starts_with("metadata.name \"Not OK!\"")),
        "{errors}"
    );

    save(
        &files,
        "all.yaml",
        &format!("{}---\n{}", component("first"), component("second")),
    );
    let (status, body) = host.call(
        "POST",
        "/catalog/refresh",
        Some(r#"{"entityRef": "component:default/first"}"#),
    );
    assert_eq!(status, 200, "{body}");
    host.entities_once(3);
    let (status, body) = host.call(
        "POST",
        "/catalog/refresh",
        Some(r#"{"entityRef": "component:default/absent"}"#),
    );
    assert_eq!(status, 404, "{body}");
    host.stop();
}

#[test]
fn a_processing_interval_under_a_second_is_a_configuration_error() {
    let dir = scratch("catalog-interval");
    let plugins = plugins_dir(&dir, &["catalog"]);
    let config = dir.join("app-config.yaml");
    std::fs::write(
        &config,
        "catalog:\n  processingInterval:\n    seconds: 0.001\n",
    )
    .expect("written");

    let output = crate::artifacts::run_greenroom(&[
        "config",
        "check",
        "--config",
        config.as_str(),
        "--plugins",
        plugins.as_str(),
    ]);

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("catalog.processingInterval.seconds: 0.001 is less than the minimum of 1"),
        "{stdout}"
    );
}
