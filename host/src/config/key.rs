//! Key paths such as `backend.listen.port` or `backend.plugins.include[1]`.

use std::fmt;

/// A path from the top of the configuration to one value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct KeyPath(Vec<Segment>);

/// One step of a key path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    /// A key of a mapping.
    Key(String),
    /// A position in a list, from 0.
    Index(usize),
}

impl KeyPath {
    /// The path of `key` inside this one.
    pub(crate) fn child(&self, key: &str) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Key(key.to_string()));
        path
    }

    /// The path of item `index` inside this list.
    pub(crate) fn item(&self, index: usize) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Index(index));
        path
    }

    /// This path followed by `other`.
    pub(crate) fn join(&self, other: &KeyPath) -> Self {
        let mut path = self.clone();
        path.0.extend(other.0.iter().cloned());
        path
    }

    /// The steps, outermost first.
    pub(crate) fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// Parses a dotted key such as `backend.listen.port`; `None` when a part
    /// is empty.
    pub(crate) fn parse_dotted(key: &str) -> Option<Self> {
        if key.is_empty() {
            return Some(Self::default());
        }
        let keys: Vec<Segment> = key
            .split('.')
            .map(|part| Segment::Key(part.to_string()))
            .collect();
        let valid = keys
            .iter()
            .all(|segment| !matches!(segment, Segment::Key(k) if k.is_empty()));
        valid.then_some(Self(keys))
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(top level)");
        }
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if position == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_dotted_with_list_positions() {
        let path = KeyPath::default()
            .child("backend")
            .child("plugins")
            .child("include")
            .item(1);
        assert_eq!(path.to_string(), "backend.plugins.include[1]");
        assert_eq!(KeyPath::default().to_string(), "(top level)");
    }

    #[test]
    fn dotted_keys_parse_and_empty_parts_do_not() {
        let path = KeyPath::parse_dotted("backend.listen.port").expect("a valid key");
        assert_eq!(path.to_string(), "backend.listen.port");
        assert_eq!(KeyPath::parse_dotted("backend..port"), None);
        assert_eq!(KeyPath::parse_dotted(""), Some(KeyPath::default()));
    }
}
