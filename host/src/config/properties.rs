//! Property tests of configuration reading: YAML text, `${...}`
//! substitution and environment overrides, on arbitrary input. Fixed seed
//! and bounded case counts, so a run is the same everywhere; a case they
//! find becomes an ordinary test beside the code it breaks.

use std::collections::BTreeMap;

use camino::Utf8Path;
use proptest::{
    prelude::*,
    test_runner::{Config, RngSeed},
};

use super::{env, interpolate::interpolate, yaml};

fn config() -> Config {
    Config {
        cases: 256,
        rng_seed: RngSeed::Fixed(0x636f_6e66_6967),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Text that looks like configuration: keys, nesting, lists, anchors,
/// substitutions and the odd stray character.
fn yamlish() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        "[a-z]{1,6}: [a-z0-9 ]{0,8}",
        "[a-z]{1,6}:",
        "  - [a-z0-9]{0,6}",
        "    [a-z]{1,4}: \\$\\{[A-Z_]{0,5}(:-[a-z]{0,3})?\\}",
        "[a-z]{1,4}: &[a-z]{1,3} [a-z]{0,3}",
        "[a-z]{1,4}: \\*[a-z]{1,3}",
        "\\PC{0,10}",
    ];
    prop::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_text_parses_or_is_refused_without_panicking(text in yamlish()) {
        let _ = yaml::parse(&text, Utf8Path::new("app-config.yaml"));
    }

    #[test]
    fn arbitrary_text_parses_or_is_refused_without_panicking(text in "\\PC{0,120}") {
        let _ = yaml::parse(&text, Utf8Path::new("app-config.yaml"));
    }

    #[test]
    fn text_without_a_dollar_interpolates_to_itself(text in "[^$]{0,80}") {
        let interpolated = interpolate(&text, &BTreeMap::new()).expect("nothing to substitute");
        prop_assert_eq!(interpolated.text, text);
        prop_assert!(!interpolated.from_environment);
    }

    #[test]
    fn substitutions_answer_without_panicking(
        text in "([a-z ]{0,4}(\\$\\$?\\{[A-Za-z_:\\-}{]{0,8}\\}?)?){0,6}",
        value in "\\PC{0,10}",
    ) {
        let env = BTreeMap::from([("HOME_DIR".to_string(), value)]);
        let _ = interpolate(&text, &env);
    }

    #[test]
    fn environment_overrides_answer_without_panicking(
        name in "GREENROOM_CONFIG_[A-Za-z0-9_]{0,20}",
        value in "\\PC{0,40}",
    ) {
        let variables = BTreeMap::from([(name, value)]);
        let _ = env::overrides(&variables);
    }
}
