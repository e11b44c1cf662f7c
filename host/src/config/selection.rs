//! Choosing which plugins load: `backend.plugins.include` and
//! `backend.plugins.exclude`.
//!
//! Both are lists of plugin ids in which `*` matches any run of characters
//! and `?` any one character. An absent or empty include list means every
//! plugin; a plugin matching both lists is excluded. The host applies the
//! selection to the ids in each library's declaration, before any plugin
//! code runs.

use super::{
    access::{Config, wrong_type},
    error::{ConfigError, ConfigErrors},
    key::KeyPath,
    tree::{Node, Origin, Value},
};

/// The key of the list of plugins to load.
pub const INCLUDE_KEY: &str = "backend.plugins.include";

/// The key of the list of plugins not to load.
pub const EXCLUDE_KEY: &str = "backend.plugins.exclude";

/// Which plugins may load, from `backend.plugins.include` and `exclude`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginSelection {
    include: Option<PatternList>,
    exclude: Option<PatternList>,
}

/// One list of patterns and where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PatternList {
    patterns: Vec<Pattern>,
    key: String,
    origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Pattern {
    glob: String,
    key: String,
    origin: Origin,
}

impl PluginSelection {
    /// A selection allowing every plugin.
    pub fn all() -> Self {
        Self::default()
    }

    /// Reads the selection from `config`.
    ///
    /// # Errors
    ///
    /// Returns every bad entry: a list that is not a list of strings, or a
    /// pattern that is empty or could never match a plugin id.
    pub fn from_config(config: &Config) -> Result<Self, ConfigErrors> {
        let include = read_list(config, INCLUDE_KEY);
        let exclude = read_list(config, EXCLUDE_KEY);
        match (include, exclude) {
            (Ok(include), Ok(exclude)) => Ok(Self { include, exclude }),
            (include, exclude) => {
                let errors = include.err().into_iter().chain(exclude.err()).flatten();
                Err(ConfigErrors(errors.collect()))
            }
        }
    }

    /// Whether the plugin `plugin_id` may load.
    ///
    /// # Errors
    ///
    /// Returns the reason it may not, naming the list (and pattern) that
    /// decided it and where it was written.
    pub fn allows(&self, plugin_id: &str) -> Result<(), String> {
        let excluded_by = self.exclude.iter().flat_map(|list| &list.patterns);
        if let Some(pattern) = excluded_by
            .into_iter()
            .find(|p| glob_matches(&p.glob, plugin_id))
        {
            return Err(format!(
                "plugin `{plugin_id}` is excluded by `{}` in {} ({}); remove that entry to load it",
                pattern.glob, pattern.key, pattern.origin
            ));
        }
        match &self.include {
            Some(include)
                if !include.patterns.is_empty()
                    && !include
                        .patterns
                        .iter()
                        .any(|p| glob_matches(&p.glob, plugin_id)) =>
            {
                Err(format!(
                    "plugin `{plugin_id}` matches no entry of {} ({}); add it there to load it",
                    include.key, include.origin
                ))
            }
            _ => Ok(()),
        }
    }
}

/// Whether `glob` matches all of `text`: `*` matches any run of characters
/// (also none), `?` exactly one, and anything else itself.
pub fn glob_matches(glob: &str, text: &str) -> bool {
    let glob: Vec<char> = glob.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut g, mut t) = (0, 0);
    let mut last_star: Option<(usize, usize)> = None;
    while t < text.len() {
        if g < glob.len() && (glob[g] == '?' || glob[g] == text[t]) {
            g += 1;
            t += 1;
        } else if g < glob.len() && glob[g] == '*' {
            last_star = Some((g, t));
            g += 1;
        } else if let Some((star, matched)) = last_star {
            // Let the last `*` swallow one more character and retry.
            last_star = Some((star, matched + 1));
            g = star + 1;
            t = matched + 1;
        } else {
            return false;
        }
    }
    glob[g..].iter().all(|&c| c == '*')
}

fn read_list(config: &Config, key: &str) -> Result<Option<PatternList>, Vec<ConfigError>> {
    let Some((node, path)) = config.lookup(key).map_err(|error| vec![error])? else {
        return Ok(None);
    };
    let Value::List(items) = &node.value else {
        return Err(vec![wrong_type(node, &path, "array of plugin ids")]);
    };
    let (patterns, errors): (Vec<_>, Vec<_>) = items
        .iter()
        .enumerate()
        .map(|(index, item)| pattern(item, &path.item(index)))
        .partition(Result::is_ok);
    if !errors.is_empty() {
        return Err(errors.into_iter().filter_map(Result::err).collect());
    }
    Ok(Some(PatternList {
        patterns: patterns.into_iter().filter_map(Result::ok).collect(),
        key: path.to_string(),
        origin: node.origin.clone(),
    }))
}

fn pattern(node: &Node, path: &KeyPath) -> Result<Pattern, ConfigError> {
    let Value::String(glob) = &node.value else {
        return Err(wrong_type(node, path, "string"));
    };
    let can_match = !glob.is_empty()
        && glob
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-*?".contains(c));
    if !can_match {
        return Err(ConfigError::Invalid {
            origin: node.origin.clone(),
            key: path.to_string(),
            reason: format!(
                "{} can never match a plugin id; plugin ids use lowercase letters, digits and \
                 dashes, and patterns may add `*` and `?`",
                node.describe()
            ),
        });
    }
    Ok(Pattern {
        glob: glob.clone(),
        key: path.to_string(),
        origin: node.origin.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::yaml::parse;

    fn selection(text: &str) -> Result<PluginSelection, ConfigErrors> {
        let node = parse(text, "app-config.yaml".into()).expect("valid YAML");
        PluginSelection::from_config(&Config::from_root(node))
    }

    #[test]
    fn globs_match_runs_and_single_characters() {
        assert!(glob_matches("catalog", "catalog"));
        assert!(glob_matches("cat*", "catalog"));
        assert!(glob_matches("*log", "catalog"));
        assert!(glob_matches("c*t*g", "catalog"));
        assert!(glob_matches("catalo?", "catalog"));
        assert!(glob_matches("*", ""));
        assert!(!glob_matches("catalo?", "catalo"));
        assert!(!glob_matches("cat", "catalog"));
        assert!(!glob_matches("*x*", "catalog"));
    }

    #[test]
    fn no_lists_and_empty_include_allow_everything() {
        assert_eq!(selection("{}\n").expect("valid").allows("search"), Ok(()));
        let empty = selection("backend:\n  plugins:\n    include: []\n").expect("valid");
        assert_eq!(empty.allows("search"), Ok(()));
    }

    #[test]
    fn include_limits_and_exclude_wins() {
        let selection = selection(
            "backend:\n  plugins:\n    include: [cat*, search]\n    exclude:\n      - \
             catalog-legacy\n",
        )
        .expect("valid");
        assert_eq!(selection.allows("catalog"), Ok(()));
        assert_eq!(selection.allows("search"), Ok(()));
        assert_eq!(
            selection.allows("scaffolder"),
            Err(
                "plugin `scaffolder` matches no entry of backend.plugins.include \
                 (app-config.yaml:3); add it there to load it"
                    .to_string()
            )
        );
        assert_eq!(
            selection.allows("catalog-legacy"),
            Err(
                "plugin `catalog-legacy` is excluded by `catalog-legacy` in \
                 backend.plugins.exclude[0] (app-config.yaml:5); remove that entry to load it"
                    .to_string()
            )
        );
    }

    #[test]
    fn bad_entries_are_all_reported_with_file_and_line() {
        let errors = selection("backend:\n  plugins:\n    include: [Catalog, 3]\n    exclude: x\n")
            .expect_err("bad entries");
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "app-config.yaml:3: backend.plugins.include[0]: string \"Catalog\" can never match \
                 a plugin id; plugin ids use lowercase letters, digits and dashes, and patterns \
                 may add `*` and `?`",
                "app-config.yaml:3: backend.plugins.include[1]: expected string, found number 3",
                "app-config.yaml:4: backend.plugins.exclude: expected array of plugin ids, found \
                 string \"x\"",
            ]
        );
    }
}
