//! A first pass over a YAML text that measures what it would become
//! without building it: how deeply it nests, how many keys and values it
//! holds and how much text they carry, aliases counted as the copies they
//! make.
//!
//! Every step over a deep tree recurses: the YAML parser's own loop, which
//! calls itself once per level of nesting, the loader's alias handling,
//! converting, merging, dropping. A text nesting thousands of levels deep
//! overflows the stack before any check on a tree could run. So the text
//! is first read into [`Probe`]s: nodes that the parser's loader assembles
//! as usual but that fold their children into running totals as they
//! arrive, and that watch how deep the parser is. Once it is more than
//! [`MAX_DEPTH`] levels deep, the text is cut short, so the parser never
//! goes much deeper (only as far as what it has already read ahead, which
//! the parser itself bounds to 255 levels of `[` and `{`).
//!
//! The parser reports nothing but events to the loader, and the loader
//! nothing but node constructors to the probes; the watch is therefore
//! kept per thread, for the one [`measure`] running on it.

use std::{borrow::Cow, cell::RefCell, collections::VecDeque};

use saphyr::{AnnotatedMappingOwned, LoadableYamlNode, Marker, Scalar, ScanError, Tag, Yaml};

use crate::config::tree::MAX_DEPTH;

/// How many levels of the deepest nesting keep their line: enough to name
/// the first level past [`MAX_DEPTH`].
const LINES_KEPT: usize = MAX_DEPTH + 1;

/// The most anchors and aliases one text may hold. The parser gives up on
/// more than 100 000 aliases and then stops reporting events, which would
/// leave it unwatched.
pub(crate) const MAX_ALIASES: usize = 50_000;

thread_local! {
    static WATCH: RefCell<Watch> = RefCell::new(Watch::default());
}

/// What a YAML text would become.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Measure {
    /// How many mappings and lists nest inside one another at the deepest
    /// point, the outermost counted as 1 (a scalar alone is 0); for a text
    /// cut short, `MAX_DEPTH + 1`.
    pub(crate) depth: usize,
    /// The line where each level of the deepest nesting starts, outermost
    /// first, kept for the first [`LINES_KEPT`] levels only.
    pub(crate) lines: VecDeque<usize>,
    /// Keys and values, each alias counted as a copy of what it names.
    pub(crate) nodes: usize,
    /// Bytes of scalar text (keys and values; a number, boolean or null
    /// counts 8), aliases counted as copies.
    pub(crate) bytes: usize,
}

impl Measure {
    /// The line of the first level past `levels` on the deepest path, when
    /// the text nests deeper than that.
    pub(crate) fn line_past(&self, levels: usize) -> Option<usize> {
        (self.depth > levels).then(|| self.lines.get(levels).copied().unwrap_or(1))
    }
}

/// Why a text could not be measured.
#[derive(Debug)]
pub(crate) enum Unmeasured {
    /// The text is not valid YAML.
    Syntax(ScanError),
    /// The text holds more than [`MAX_ALIASES`] anchors and aliases.
    TooManyAliases,
}

/// Measures `text` (every document of it).
///
/// # Errors
///
/// Returns the parser's error when `text` is not valid YAML, and refuses
/// more than [`MAX_ALIASES`] anchors and aliases.
pub(crate) fn measure(text: &str) -> Result<Measure, Unmeasured> {
    WATCH.with(|watch| *watch.borrow_mut() = Watch::default());
    let documents = Probe::load_from_iter(Watched(text.chars()));
    let stop = WATCH.with(|watch| std::mem::take(&mut *watch.borrow_mut()).stop);
    match stop {
        Some(Stop::TooDeep(lines)) => {
            return Ok(Measure {
                depth: MAX_DEPTH + 1,
                lines,
                ..Measure::default()
            });
        }
        Some(Stop::TooManyAliases) => return Err(Unmeasured::TooManyAliases),
        None => {}
    }

    let mut total = Measure::default();
    for document in documents.map_err(Unmeasured::Syntax)? {
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

/// How deep the parser on this thread is, and why it must stop.
#[derive(Debug, Default)]
struct Watch {
    depth: usize,
    /// The lines where the open mappings and lists start, outermost first;
    /// the first [`LINES_KEPT`] only.
    open: VecDeque<usize>,
    copies: usize,
    stop: Option<Stop>,
}

/// Why a text was cut short.
#[derive(Debug)]
enum Stop {
    /// It nests past [`MAX_DEPTH`]; the lines of the open levels then.
    TooDeep(VecDeque<usize>),
    /// It holds more than [`MAX_ALIASES`] anchors and aliases.
    TooManyAliases,
}

impl Watch {
    fn open(&mut self, line: usize) {
        self.depth += 1;
        if self.open.len() < LINES_KEPT {
            self.open.push_back(line);
        }
        if self.depth > MAX_DEPTH && self.stop.is_none() {
            self.stop = Some(Stop::TooDeep(self.open.clone()));
        }
    }

    fn close(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        self.open.truncate(self.depth);
    }

    fn copy(&mut self) {
        self.copies += 1;
        if self.copies > MAX_ALIASES && self.stop.is_none() {
            self.stop = Some(Stop::TooManyAliases);
        }
    }
}

/// The characters of a text, ending early once the watch says stop.
struct Watched<I>(I);

impl<I: Iterator<Item = char>> Iterator for Watched<I> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        if WATCH.with(|watch| watch.borrow().stop.is_some()) {
            return None;
        }
        self.0.next()
    }
}

/// One node as the loader sees it, carrying only its measure.
///
/// Every mapping or list claims to be a list, so that the loader pushes
/// keys and values alike into [`Probe::pending`] and never hashes or
/// compares probes as mapping keys. Each call of [`Probe::sequence_mut`]
/// first folds what was pushed before into the totals, so `pending` holds
/// at most one child at a time (were the loader not to ask for the list
/// before each push, probes would use more memory, never give another
/// measure).
#[derive(Debug, Default)]
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
    /// A scalar, or an alias already resolved to one.
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
        WATCH.with(|watch| watch.borrow_mut().open(self.line));
        self
    }

    fn with_end_marker(mut self, _: Marker) -> Self {
        WATCH.with(|watch| watch.borrow_mut().close());
        self.absorb();
        self.measure.depth = self.measure.depth.saturating_add(1);
        self.measure.lines.push_front(self.line);
        self.measure.lines.truncate(LINES_KEPT);
        self.measure.nodes = self.measure.nodes.saturating_add(1);
        self
    }
}

/// The loader clones a node only to remember it under an anchor and to
/// copy it for an alias, so clones are what the watch counts as anchors and
/// aliases.
impl Clone for Probe {
    fn clone(&self) -> Self {
        WATCH.with(|watch| watch.borrow_mut().copy());
        Self {
            kind: self.kind,
            line: self.line,
            measure: self.measure.clone(),
            pending: Vec::new(),
            unused: None,
        }
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

    fn measured(text: &str) -> Measure {
        measure(text).expect("valid YAML")
    }

    fn nested_mappings(levels: usize) -> String {
        (0..levels)
            .map(|level| format!("{}k{level}:\n", "  ".repeat(level)))
            .collect()
    }

    #[test]
    fn scalars_mappings_and_lists_are_counted() {
        let measure = measured("a: 1\nb: [x, yz]\n");
        assert_eq!(measure.depth, 2);
        assert_eq!(measure.lines, [1, 2]);
        assert_eq!(measure.nodes, 7);
        assert_eq!(measure.bytes, 1 + 8 + 1 + 1 + 2);
    }

    #[test]
    fn the_lines_of_the_deepest_nesting_are_kept() {
        let measure = measured(&nested_mappings(MAX_DEPTH));
        assert_eq!(measure.depth, MAX_DEPTH);
        assert_eq!(measure.line_past(3), Some(4));
        assert_eq!(measure.line_past(MAX_DEPTH), None);
    }

    #[test]
    fn a_text_nesting_too_deeply_is_cut_short_where_it_passes_the_limit() {
        for levels in [MAX_DEPTH + 2, 2000] {
            let measure = measured(&nested_mappings(levels));
            assert_eq!(measure.depth, MAX_DEPTH + 1);
            assert_eq!(measure.line_past(MAX_DEPTH), Some(MAX_DEPTH + 1));
            assert_eq!(measure.line_past(3), Some(4));
        }
        let measure = measured(&"- ".repeat(100_000));
        assert_eq!(measure.line_past(MAX_DEPTH), Some(1));
        let flow = format!("{}{}{}", "  ".repeat(100), "[".repeat(150), "]".repeat(150));
        let measure = measured(&format!("{}{flow}\n", nested_mappings(100)));
        assert_eq!(measure.line_past(MAX_DEPTH), Some(101));
    }

    #[test]
    fn the_parser_refuses_deep_flow_nesting_itself() {
        let Err(Unmeasured::Syntax(error)) = measure(&"[".repeat(100_000)) else {
            panic!("refused");
        };
        assert_eq!(error.info(), "recursion limit exceeded");
    }

    #[test]
    fn aliases_count_as_copies() {
        let measure = measured("a: &a {b: [1, 2, 3]}\nc: [*a, *a]\n");
        assert_eq!(measure.depth, 4);
        assert_eq!(measure.nodes, 1 + 2 + 6 + 1 + 2 * 6);
        assert_eq!(measure.bytes, 3 * (1 + 3 * 8) + 2);
        let chain = "a: &a [[[1]]]\nb: &b [[[*a]]]\nc: &c [[[*b]]]\n";
        assert_eq!(measured(chain).depth, 10);
    }

    #[test]
    fn too_many_aliases_are_refused() {
        let aliases = "*a, ".repeat(MAX_ALIASES);
        let text = format!("a: &a 1\nb: [{aliases}]\n{}", "- ".repeat(100_000));
        assert!(matches!(measure(&text), Err(Unmeasured::TooManyAliases)));
    }

    #[test]
    fn syntax_errors_are_the_parser_s() {
        let Err(Unmeasured::Syntax(error)) = measure("a: [1, 2\n") else {
            panic!("malformed");
        };
        assert_eq!(error.marker().line(), 2);
    }
}
