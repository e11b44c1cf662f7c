//! A first pass over a YAML text that measures what it would become
//! without building it: how deeply it nests, how many keys and values it
//! holds and how much text they carry, aliases counted as the copies they
//! make.
//!
//! Building a tree from a text that nests too deeply, or whose aliases
//! copy too much, overflows the stack or exhausts memory before any check
//! on the tree can run; every step over a tree (the parser's own alias
//! handling, converting, merging, dropping) recurses. So the text is first
//! read into [`Probe`]s: nodes that the parser's loader assembles as usual
//! but that fold their children into running totals as they arrive. The
//! loader then never holds more than a couple of levels of probes, and
//! nothing here recurses.

use std::{borrow::Cow, collections::VecDeque};

use saphyr::{AnnotatedMappingOwned, LoadableYamlNode, Marker, Scalar, ScanError, Tag, Yaml};

use crate::config::tree::MAX_DEPTH;

/// How many levels of the deepest nesting keep their line: enough to name
/// the first level past [`MAX_DEPTH`].
const LINES_KEPT: usize = MAX_DEPTH + 1;

/// What a YAML text would become.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Measure {
    /// How many mappings and lists nest inside one another at the deepest
    /// point, the outermost counted as 1 (a scalar alone is 0).
    pub(crate) depth: usize,
    /// The line where each level of the deepest nesting starts, outermost
    /// first, kept for the first [`LINES_KEPT`] levels only.
    pub(crate) lines: VecDeque<usize>,
    /// Keys and values, each alias counted as a copy of what it names.
    pub(crate) nodes: usize,
    /// Bytes of scalar text (keys and values), aliases counted as copies.
    pub(crate) bytes: usize,
}

impl Measure {
    /// The line of the first level past `levels` on the deepest path, when
    /// the text nests deeper than that.
    pub(crate) fn line_past(&self, levels: usize) -> Option<usize> {
        (self.depth > levels).then(|| self.lines.get(levels).copied().unwrap_or(1))
    }
}

/// Measures `text` (every document of it).
///
/// # Errors
///
/// Returns the parser's error when `text` is not valid YAML.
pub(crate) fn measure(text: &str) -> Result<Measure, ScanError> {
    let documents = Probe::load_from_str(text)?;
    let mut total = Measure::default();
    for document in documents {
        let document = document.measure;
        if document.depth > total.depth {
            total.depth = document.depth;
            total.lines = document.lines;
        }
        total.nodes = total.nodes.saturating_add(document.nodes);
        total.bytes = total.bytes.saturating_add(document.bytes);
    }
    Ok(total)
}

/// One node as the loader sees it, carrying only its measure.
///
/// Every mapping or list claims to be a list, so that the loader pushes
/// keys and values alike into [`Probe::pending`] and never hashes or
/// compares probes as mapping keys. Each call of [`Probe::sequence_mut`]
/// first folds what was pushed before into the totals, so `pending` holds
/// at most one child at a time (this relies on the loader asking for the
/// list before each push; were it not to, probes would use more memory,
/// never give another measure).
#[derive(Clone, Debug, Default)]
pub(crate) struct Probe {
    kind: Kind,
    /// The line where a mapping or list starts.
    line: usize,
    /// The measure so far: for an open mapping or list, that of its
    /// deepest child and the sums of its children.
    measure: Measure,
    /// Children pushed by the loader and not yet counted.
    pending: Vec<Probe>,
    /// What [`LoadableYamlNode::mapping_mut`] lends; never filled.
    unused: Option<Box<AnnotatedMappingOwned<Probe>>>,
}

/// What kind of node a probe stands for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
enum Kind {
    /// A scalar or an alias already resolved.
    #[default]
    Scalar,
    /// A mapping or list.
    Collection,
    /// A value the loader could not make sense of.
    Bad,
}

impl Probe {
    fn leaf(kind: Kind, bytes: usize) -> Self {
        Self {
            kind,
            measure: Measure {
                nodes: 1,
                bytes,
                ..Measure::default()
            },
            ..Self::default()
        }
    }

    /// Adds the children pushed so far to the totals.
    fn absorb(&mut self) {
        for child in self.pending.drain(..) {
            let child = child.measure;
            if child.depth > self.measure.depth {
                self.measure.depth = child.depth;
                self.measure.lines = child.lines;
            }
            self.measure.nodes = self.measure.nodes.saturating_add(child.nodes);
            self.measure.bytes = self.measure.bytes.saturating_add(child.bytes);
        }
    }

    /// Counts the last children and this mapping or list itself.
    fn closed(mut self) -> Self {
        self.absorb();
        self.measure.depth = self.measure.depth.saturating_add(1);
        self.measure.lines.push_front(self.line);
        self.measure.lines.truncate(LINES_KEPT);
        self.measure.nodes = self.measure.nodes.saturating_add(1);
        self
    }
}

impl<'input> LoadableYamlNode<'input> for Probe {
    type HashKey = Probe;

    fn from_bare_yaml(yaml: Yaml<'input>) -> Self {
        match yaml {
            Yaml::Sequence(_) | Yaml::Mapping(_) => Self {
                kind: Kind::Collection,
                ..Self::default()
            },
            Yaml::Value(Scalar::String(text)) | Yaml::Representation(text, _, _) => {
                Self::leaf(Kind::Scalar, text.len())
            }
            Yaml::Value(_) => Self::leaf(Kind::Scalar, std::mem::size_of::<i64>()),
            Yaml::Tagged(_, inner) => Self::from_bare_yaml(*inner),
            Yaml::Alias(_) | Yaml::BadValue => Self::leaf(Kind::Bad, 0),
        }
    }

    fn is_sequence(&self) -> bool {
        self.kind == Kind::Collection
    }

    fn is_mapping(&self) -> bool {
        false
    }

    fn is_badvalue(&self) -> bool {
        self.kind == Kind::Bad
    }

    fn sequence_mut(&mut self) -> &mut Vec<Self> {
        self.absorb();
        &mut self.pending
    }

    fn mapping_mut(&mut self) -> &mut AnnotatedMappingOwned<Self> {
        self.unused.get_or_insert_with(Box::default)
    }

    fn into_tagged(self, _: Cow<'input, Tag>) -> Self {
        self
    }

    fn take(&mut self) -> Self {
        std::mem::replace(self, Self::leaf(Kind::Bad, 0))
    }

    fn with_start_marker(mut self, start: Marker) -> Self {
        self.line = start.line();
        self
    }

    fn with_end_marker(self, _: Marker) -> Self {
        self.closed()
    }
}

/// Probes compare by kind and measure; the loader never compares them,
/// since no probe claims to be a mapping.
impl PartialEq for Probe {
    fn eq(&self, other: &Self) -> bool {
        (self.kind, &self.measure) == (other.kind, &other.measure)
    }
}

impl Eq for Probe {}

impl std::hash::Hash for Probe {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.kind, self.measure.depth, self.measure.nodes).hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested_mappings(levels: usize) -> String {
        (0..levels)
            .map(|level| format!("{}k{level}:\n", "  ".repeat(level)))
            .collect()
    }

    #[test]
    fn scalars_mappings_and_lists_are_counted() {
        let measure = measure("a: 1\nb: [x, yz]\n").expect("valid YAML");
        assert_eq!(measure.depth, 2);
        assert_eq!(measure.lines, [1, 2]);
        assert_eq!(measure.nodes, 7);
        assert_eq!(measure.bytes, 1 + 8 + 1 + 1 + 2);
    }

    #[test]
    fn the_lines_of_the_first_levels_past_the_limit_are_kept() {
        let measure = measure(&nested_mappings(200)).expect("valid YAML");
        assert_eq!(measure.depth, 199);
        assert_eq!(measure.lines.len(), LINES_KEPT);
        assert_eq!(measure.line_past(MAX_DEPTH), Some(MAX_DEPTH + 1));
        assert_eq!(measure.line_past(3), Some(4));
        assert_eq!(measure.line_past(199), None);
    }

    #[test]
    fn aliases_count_as_copies() {
        let measure = measure("a: &a {b: [1, 2, 3]}\nc: [*a, *a]\n").expect("valid YAML");
        assert_eq!(measure.depth, 4);
        assert_eq!(measure.nodes, 1 + 2 + 6 + 1 + 2 * 6);
        assert_eq!(measure.bytes, 3 * (1 + 3 * 8) + 2);
    }

    #[test]
    fn deep_nesting_is_measured_without_recursion() {
        let measure = measure(&"- ".repeat(100_000)).expect("valid YAML");
        assert_eq!(measure.depth, 100_000);
        assert_eq!(measure.line_past(MAX_DEPTH), Some(1));
    }

    #[test]
    fn syntax_errors_are_the_parser_s() {
        let error = measure("a: [1, 2\n").expect_err("malformed");
        assert_eq!(error.marker().line(), 2);
    }
}
