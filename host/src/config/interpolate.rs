//! `${VAR}` inside configuration strings.
//!
//! `${VAR}` is replaced by the environment variable `VAR`;
//! `${VAR:-default}` uses `default` when `VAR` is unset or empty (as in
//! POSIX shells); `$${` is written as a literal `${`, so `$${VAR}` becomes
//! `${VAR}`. A variable that is not set and has no default is an error.

use std::collections::BTreeMap;

/// A string with every `${...}` replaced.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Interpolated {
    /// The resulting text.
    pub(crate) text: String,
    /// Whether any part of it was read from the environment.
    pub(crate) from_environment: bool,
}

/// Why a string could not be interpolated.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    /// A variable without default is not set.
    Unset(String),
    /// The text is written wrongly; the reason says how to fix it.
    Malformed(String),
}

/// Replaces every `${...}` in `text` with values from `env`, or returns every
/// problem found.
pub(crate) fn interpolate(
    text: &str,
    env: &BTreeMap<String, String>,
) -> Result<Interpolated, Vec<Problem>> {
    let mut output = String::with_capacity(text.len());
    let mut from_environment = false;
    let mut problems = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let (before, after) = rest.split_at(start);
        if let Some(escaped) = before.strip_suffix('$') {
            output.push_str(escaped);
            output.push_str("${");
            rest = &after[2..];
            continue;
        }
        output.push_str(before);
        let Some(end) = after.find('}') else {
            problems.push(Problem::Malformed(
                "`${` has no closing `}`; close it, or write `$${` for a literal `${`".to_string(),
            ));
            break;
        };
        match expand(&after[2..end], env) {
            Ok((value, read)) => {
                output.push_str(&value);
                from_environment |= read;
            }
            Err(problem) => problems.push(problem),
        }
        rest = &after[end + 1..];
    }
    output.push_str(rest);
    if problems.is_empty() {
        Ok(Interpolated {
            text: output,
            from_environment,
        })
    } else {
        Err(problems)
    }
}

/// The value of one `VAR` or `VAR:-default`, and whether it was read from
/// the environment.
fn expand(expression: &str, env: &BTreeMap<String, String>) -> Result<(String, bool), Problem> {
    let (variable, default) = match expression.split_once(":-") {
        Some((variable, default)) => (variable.trim(), Some(default)),
        None => (expression.trim(), None),
    };
    if !is_variable_name(variable) {
        return Err(Problem::Malformed(format!(
            "`${{{expression}}}` does not name an environment variable (letters, digits and \
             `_`); write `$${{` for a literal `${{`"
        )));
    }
    match (env.get(variable), default) {
        (Some(value), Some(default)) if value.is_empty() => Ok((default.to_string(), false)),
        (Some(value), _) => Ok((value.clone(), true)),
        (None, Some(default)) => Ok((default.to_string(), false)),
        (None, None) => Err(Problem::Unset(variable.to_string())),
    }
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> BTreeMap<String, String> {
        [("HOST", "example.org"), ("EMPTY", "")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn text(input: &str) -> String {
        interpolate(input, &env()).expect("interpolates").text
    }

    #[test]
    fn variables_are_replaced_inside_strings() {
        let result = interpolate("https://${HOST}:7007", &env()).expect("interpolates");
        assert_eq!(result.text, "https://example.org:7007");
        assert!(result.from_environment);
    }

    #[test]
    fn defaults_apply_when_unset_or_empty() {
        assert_eq!(text("${MISSING:-7007}"), "7007");
        assert_eq!(text("${EMPTY:-fallback}"), "fallback");
        assert_eq!(text("${HOST:-fallback}"), "example.org");
        assert!(
            !interpolate("${MISSING:-7007}", &env())
                .expect("default")
                .from_environment
        );
    }

    #[test]
    fn a_doubled_dollar_escapes() {
        assert_eq!(
            text("$${HOST} costs $$5 and ${HOST}"),
            "${HOST} costs $$5 and example.org"
        );
    }

    #[test]
    fn plain_text_is_untouched() {
        let result = interpolate("no variables $here", &env()).expect("plain");
        assert_eq!(result.text, "no variables $here");
        assert!(!result.from_environment);
    }

    #[test]
    fn every_unset_variable_is_reported() {
        assert_eq!(
            interpolate("${A}-${HOST}-${B}", &env()),
            Err(vec![
                Problem::Unset("A".to_string()),
                Problem::Unset("B".to_string())
            ])
        );
    }

    #[test]
    fn malformed_references_are_reported() {
        let Err(problems) = interpolate("${not a name} ${open", &env()) else {
            panic!("malformed");
        };
        assert_eq!(problems.len(), 2);
        let reasons: Vec<&str> = problems
            .iter()
            .map(|problem| match problem {
                Problem::Malformed(reason) => reason.as_str(),
                Problem::Unset(variable) => panic!("{variable} is not the problem"),
            })
            .collect();
        assert!(
            reasons[0].starts_with("`${not a name}` does not name"),
            "{reasons:?}"
        );
        assert!(reasons[1].starts_with("`${` has no closing"), "{reasons:?}");
    }
}
