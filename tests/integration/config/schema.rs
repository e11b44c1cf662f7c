//! Checking each plugin's slice and the host's keys against schemas, with
//! every problem located in the file and line that wrote the value.

use greenroom_host::config::{
    ConfigLoader, ConfigProblem, ProblemKind, check_all, check_host, check_plugins,
};
use serde_json::json;

use super::{loaded, write};
use crate::artifacts::scratch;

fn lines(problems: &[ConfigProblem]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}

#[test]
fn a_type_error_in_the_second_of_three_files_names_that_file_and_line() {
    let dir = scratch("config-schema-second");
    let first = write(
        &dir,
        "first.yaml",
        "catalog:\n  refresh:\n    interval: 60\n",
    );
    let second = write(
        &dir,
        "second.yaml",
        "# overrides for this site\n\ncatalog:\n  refresh:\n    interval: soon\n",
    );
    let third = write(&dir, "third.yaml", "catalog:\n  refresh:\n    jitter: 5\n");
    let schema = json!({"type": "object", "properties": {"refresh": {
        "type": "object",
        "properties": {"interval": {"type": "number"}, "jitter": {"type": "number"}},
    }}});

    let config = ConfigLoader::new()
        .file(&first)
        .file(&second)
        .file(&third)
        .load()
        .unwrap();
    let problems = check_plugins(&config, &[("catalog", &schema)]);

    assert_eq!(
        lines(&problems),
        [format!(
            "{second}:5: catalog.refresh.interval: expected number, found string \"soon\""
        )]
    );
}

#[test]
fn every_problem_of_every_plugin_is_reported_at_once() {
    let dir = scratch("config-schema-all");
    write(
        &dir,
        "app-config.yaml",
        "catalog:\n  refresh: 5\nsearch:\n  engine: lunr\n",
    );
    write(&dir, "app-config.local.yaml", "search:\n  limit: many\n");
    let catalog = json!({"properties": {"refresh": {"type": "object"}}, "required": ["url"]});
    let search = json!({"properties": {
        "engine": {"enum": ["elastic", "pg"]},
        "limit": {"type": "integer"},
    }});

    let config = loaded(&dir, &[]);
    let problems = check_plugins(&config, &[("catalog", &catalog), ("search", &search)]);

    assert_eq!(
        lines(&problems),
        [
            format!("{dir}/app-config.yaml:1: catalog.url: missing; the schema requires it"),
            format!("{dir}/app-config.yaml:2: catalog.refresh: expected object, found number 5"),
            format!(
                "{dir}/app-config.local.yaml:2: search.limit: expected integer, found string \
                 \"many\""
            ),
            format!(
                "{dir}/app-config.yaml:4: search.engine: expected one of [\"elastic\",\"pg\"], \
                 found string \"lunr\""
            ),
        ]
    );
}

#[test]
fn unknown_keys_warn_and_are_errors_when_strict() {
    let dir = scratch("config-schema-unknown");
    write(
        &dir,
        "app-config.yaml",
        "catalog:\n  refresh:\n    intervall: 5\n",
    );
    let schema = json!({"properties": {"refresh": {"properties": {"interval": {}}}}});

    let problems = check_plugins(&loaded(&dir, &[]), &[("catalog", &schema)]);

    assert_eq!(
        lines(&problems),
        [format!(
            "{dir}/app-config.yaml:3: catalog.refresh.intervall: unknown key: the schema does \
             not declare it; check the spelling"
        )]
    );
    assert_eq!(problems[0].kind, ProblemKind::UnknownKey);
    assert!(!problems[0].is_error(false));
    assert!(problems[0].is_error(true));
}

#[test]
fn the_host_keys_are_checked_the_same_way() {
    let dir = scratch("config-schema-host");
    write(
        &dir,
        "app-config.yaml",
        "backend:\n  listen:\n    port: 99999\n  plugins:\n    include: catalog\n  startup:\n    \
         plugins:\n      catalog:\n        onPluginBootFailure: retry\n  lisen: {}\n",
    );

    let problems = check_host(&loaded(&dir, &[]));

    assert_eq!(
        lines(&problems),
        [
            format!(
                "{dir}/app-config.yaml:3: backend.listen.port: 99999 is greater than the maximum \
                 of 65535"
            ),
            format!(
                "{dir}/app-config.yaml:5: backend.plugins.include: expected array, found string \
                 \"catalog\""
            ),
            format!(
                "{dir}/app-config.yaml:9: backend.startup.plugins.catalog.onPluginBootFailure: \
                 expected one of [\"abort\",\"continue\"], found string \"retry\""
            ),
            format!(
                "{dir}/app-config.yaml:10: backend.lisen: unknown key: the schema does not \
                 declare it; check the spelling"
            ),
        ]
    );
}

#[test]
fn check_all_adds_top_level_keys_nobody_claims() {
    let dir = scratch("config-schema-unclaimed");
    write(
        &dir,
        "app-config.yaml",
        "backend: {}\ncatalog: {}\ncatalgo: {}\n",
    );
    let schema = json!({"type": "object"});

    let problems = check_all(&loaded(&dir, &[]), &[("catalog", &schema)]);

    assert_eq!(
        lines(&problems),
        [format!(
            "{dir}/app-config.yaml:3: catalgo: unknown key: no loaded plugin has this id and \
             the host does not use it; check the spelling or install the plugin"
        )]
    );
}
