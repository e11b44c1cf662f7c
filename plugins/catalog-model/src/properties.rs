//! Property tests over what the catalog parses from untrusted files and
//! requests: YAML, entities, refs, filters and cursors. Fixed seed and
//! bounded case counts, so a run is the same everywhere and fits in CI; a
//! case they find becomes an ordinary test beside the code it breaks.

use proptest::{
    prelude::*,
    test_runner::{Config, RngSeed},
};
use serde_json::{Map, Value};

use crate::{
    Cursor, EntityFilter, EntityRef, RefDefaults, facets, project, relations, search_entries,
    validate, yaml,
};

fn config() -> Config {
    Config {
        cases: 256,
        rng_seed: RngSeed::Fixed(0x6772_6565_6e72_6f6f),
        failure_persistence: None,
        ..Config::default()
    }
}

/// JSON values as catalog files hold them: strings, integers, booleans,
/// nulls, lists and mappings, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|number| Value::Number(number.into())),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z.$/_-]{0,10}", inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Entity-shaped values: the envelope's keys with arbitrary contents, so
/// the checks past the first look get exercised.
fn entity() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just("backstage.io/v1alpha1".to_string()), "\\PC{0,20}"],
        prop_oneof![
            Just("Component".to_string()),
            Just("API".to_string()),
            Just("Group".to_string()),
            Just("Location".to_string()),
            "\\PC{0,10}"
        ],
        "[a-zA-Z0-9._-]{0,70}",
        json_value(),
        json_value(),
    )
        .prop_map(|(api_version, kind, name, metadata, spec)| {
            let mut metadata = match metadata {
                Value::Object(map) => map,
                _ => Map::new(),
            };
            metadata.insert("name".into(), name.into());
            serde_json::json!({
                "apiVersion": api_version,
                "kind": kind,
                "metadata": metadata,
                "spec": spec,
            })
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_text_reads_as_documents_or_an_error_without_panicking(text in "\\PC{0,200}") {
        let _ = yaml::documents(&text);
    }

    #[test]
    fn json_text_reads_back_as_the_same_value(value in json_value()) {
        prop_assume!(!value.is_null());
        let text = serde_json::to_string(&value).expect("JSON serializes");
        prop_assert_eq!(yaml::documents(&text), Ok(vec![Ok(value)]));
    }

    #[test]
    fn every_step_on_an_entity_answers_without_panicking(entity in entity()) {
        if validate(&entity).is_ok() {
            prop_assert!(EntityRef::of(&entity).is_ok());
        }
        let _ = relations(&entity);
        let entries = search_entries(&entity);
        let filter = EntityFilter::parse(&["kind=component,metadata.name"]).expect("a filter");
        let _ = filter.matches(&entries);
        let _ = project(&entity, &["metadata.name", "spec"]);
        let _ = facets([&entity], "kind");
    }

    #[test]
    fn refs_read_back_from_their_text(
        kind in "[a-zA-Z][a-zA-Z0-9]{0,8}",
        namespace in "[a-z0-9]{1,8}",
        name in "[a-zA-Z0-9][a-zA-Z0-9._-]{0,20}",
    ) {
        let entity_ref = EntityRef::new(&kind, &namespace, &name);
        let text = entity_ref.to_string();
        let parsed = EntityRef::parse(&text, RefDefaults::default()).expect("its own text parses");
        prop_assert_eq!(parsed, entity_ref);
    }

    #[test]
    fn filters_and_cursors_from_requests_never_panic(
        filters in prop::collection::vec("\\PC{0,30}", 0..4),
        cursor in "\\PC{0,80}",
    ) {
        let _ = EntityFilter::parse(&filters);
        let _ = Cursor::decode(&cursor);
    }
}
