//! The character rules for names, namespaces, kinds, keys and tags.

/// A rule a string must follow, with the words its error message uses.
pub(crate) struct Rule {
    /// What the string is, such as `name`.
    what: &'static str,
    /// How a valid one looks, such as `use 1-63 letters and digits`.
    pub(crate) how: &'static str,
    is_valid: fn(&str) -> bool,
}

impl Rule {
    /// Reports `value`, found at `field`, when it breaks the rule.
    pub(crate) fn check(&self, problems: &mut Vec<String>, field: &str, value: &str) {
        if !(self.is_valid)(value) {
            let Rule { what, how, .. } = self;
            problems.push(format!("{field} \"{value}\" is not a valid {what}: {how}"));
        }
    }
}

/// The rule for `apiVersion`.
pub(crate) const API_VERSION: Rule = Rule {
    what: "api version",
    how: "use <group>/<version> such as backstage.io/v1alpha1",
    is_valid: is_valid_api_version,
};
/// The rule for `kind`.
pub(crate) const KIND: Rule = Rule {
    what: "kind",
    how: "use 1-63 letters and digits, starting with a letter",
    is_valid: is_valid_kind,
};
/// The rule for `metadata.name`.
pub(crate) const NAME: Rule = Rule {
    what: "name",
    how: "use 1-63 letters and digits, with single \"-\", \"_\" or \".\" between them",
    is_valid: is_valid_name,
};
/// The rule for `metadata.namespace`.
pub(crate) const NAMESPACE: Rule = Rule {
    what: "namespace",
    how: "use 1-63 lowercase letters and digits, with single \"-\" between them",
    is_valid: is_valid_dns_label,
};
/// The rule for label and annotation keys.
pub(crate) const KEY: Rule = Rule {
    what: "key",
    how: "use [<prefix>/]<name> where the prefix is a lowercase DNS name of at most 253 \
          characters and the name is 1-63 letters and digits, with single \"-\", \"_\" or \".\" \
          between them",
    is_valid: is_valid_key,
};
/// The rule for label values.
pub(crate) const LABEL_VALUE: Rule = Rule {
    what: "label value",
    how: "use at most 63 letters and digits, with single \"-\", \"_\" or \".\" between them",
    is_valid: is_valid_label_value,
};
/// The rule for tags.
pub(crate) const TAG: Rule = Rule {
    what: "tag",
    how: "use 1-63 lowercase letters, digits, \":\", \"+\" or \"#\", with single \"-\" \
          between them",
    is_valid: is_valid_tag,
};

/// Whether `text` is one or more groups of `group` characters with single
/// `separator` characters between them.
fn separated_groups(text: &str, group: fn(char) -> bool, separator: fn(char) -> bool) -> bool {
    let mut after_separator = true;
    for character in text.chars() {
        if group(character) {
            after_separator = false;
        } else if separator(character) && !after_separator {
            after_separator = true;
        } else {
            return false;
        }
    }
    !after_separator
}

fn is_lower_alphanumeric(character: char) -> bool {
    character.is_ascii_lowercase() || character.is_ascii_digit()
}

/// Whether `text` is a valid entity name, label key name or label value.
fn is_valid_name(text: &str) -> bool {
    text.len() <= 63
        && separated_groups(
            text,
            |c| c.is_ascii_alphanumeric(),
            |c| matches!(c, '-' | '_' | '.'),
        )
}

/// Whether `text` is a DNS label: what a namespace must be.
fn is_valid_dns_label(text: &str) -> bool {
    text.len() <= 63 && separated_groups(text, is_lower_alphanumeric, |c| c == '-')
}

/// Whether `text` is a DNS subdomain: DNS labels joined by dots.
fn is_valid_dns_subdomain(text: &str) -> bool {
    !text.is_empty() && text.len() <= 253 && text.split('.').all(is_valid_dns_label)
}

/// Whether `text` is a valid entity kind.
fn is_valid_kind(text: &str) -> bool {
    let mut characters = text.chars();
    let starts_with_letter = characters.next().is_some_and(|c| c.is_ascii_alphabetic());
    starts_with_letter && text.len() <= 63 && characters.all(|c| c.is_ascii_alphanumeric())
}

/// Whether `text` is a valid `apiVersion`: a DNS subdomain, a slash and a
/// version of lowercase letters and digits.
fn is_valid_api_version(text: &str) -> bool {
    let Some((group, version)) = text.split_once('/') else {
        return false;
    };
    let version_ok = !version.is_empty() && version.len() <= 63;
    is_valid_dns_subdomain(group) && version_ok && version.chars().all(is_lower_alphanumeric)
}

/// Whether `text` is a valid label or annotation key: `[prefix/]name`.
fn is_valid_key(text: &str) -> bool {
    match text.split_once('/') {
        Some((prefix, name)) => is_valid_dns_subdomain(prefix) && is_valid_name(name),
        None => is_valid_name(text),
    }
}

/// Whether `text` is a valid label value: empty, or like a name.
fn is_valid_label_value(text: &str) -> bool {
    text.is_empty() || is_valid_name(text)
}

/// Whether `text` is a valid tag.
fn is_valid_tag(text: &str) -> bool {
    let group = |c: char| is_lower_alphanumeric(c) || matches!(c, ':' | '+' | '#');
    text.len() <= 63 && separated_groups(text, group, |c| c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in [
            "petstore",
            "hello-world",
            "frank.tiernan",
            "A_b-C.9",
            "x",
            &"a".repeat(63),
        ] {
            assert!(is_valid_name(good), "{good}");
        }
        for bad in [
            "",
            "-petstore",
            "petstore-",
            "a--b",
            "a-.b",
            "Bad Name!",
            &"a".repeat(64),
        ] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn dns_labels_and_subdomains() {
        assert!(is_valid_dns_label("team-a"));
        assert!(!is_valid_dns_label("Team-a"));
        assert!(!is_valid_dns_label("team_a"));
        assert!(!is_valid_dns_label(""));
        assert!(is_valid_dns_subdomain("backstage.io"));
        assert!(!is_valid_dns_subdomain("backstage..io"));
        assert!(!is_valid_dns_subdomain(".io"));
        assert!(!is_valid_dns_subdomain(&vec!["a".repeat(63); 5].join(".")));
    }

    #[test]
    fn kinds() {
        assert!(is_valid_kind("Component"));
        assert!(is_valid_kind("v1Thing"));
        assert!(!is_valid_kind("1Thing"));
        assert!(!is_valid_kind("My-Kind"));
        assert!(!is_valid_kind(""));
    }

    #[test]
    fn api_versions() {
        assert!(is_valid_api_version("backstage.io/v1alpha1"));
        assert!(is_valid_api_version("example.com/v2"));
        assert!(!is_valid_api_version("v1"));
        assert!(!is_valid_api_version("backstage.io/"));
        assert!(!is_valid_api_version("backstage.io/v1/x"));
        assert!(!is_valid_api_version("Backstage.io/v1"));
    }

    #[test]
    fn keys_label_values_and_tags() {
        assert!(is_valid_key("backstage.io/techdocs-ref"));
        assert!(is_valid_key("team"));
        assert!(!is_valid_key("backstage.io/"));
        assert!(!is_valid_key("a/b/c"));
        assert!(is_valid_label_value(""));
        assert!(is_valid_label_value("gold"));
        assert!(!is_valid_label_value("not gold"));
        assert!(is_valid_tag("c++"));
        assert!(is_valid_tag("c#"));
        assert!(is_valid_tag("lang:java-17"));
        assert!(!is_valid_tag("Java"));
        assert!(!is_valid_tag("java--17"));
    }
}
