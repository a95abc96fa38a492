//! A segment trie over exact, template and prefix paths. A search walks the request's segments once,
//! following the literal child and the `{param}` child, and offers every route whose path matches to
//! a [`Candidates`] collector, skipping subtrees that only hold routes later than its bound.

use std::collections::HashMap;

use foldhash::fast::FixedState;
use smallvec::SmallVec;

use super::route_table::Params;

/// Receives routes whose host and path match, in no particular order across nodes.
pub(crate) trait Candidates<'a> {
    /// Routes at or after this index need not be offered (`u32::MAX` to see everything).
    fn bound(&self) -> u32;
    /// Offers a route whose host and path match; `true` when it is taken, and then
    /// [`Candidates::take_params`] follows with its captured parameters.
    fn offer(&mut self, route: u32) -> bool;
    /// The parameters of the route just taken.
    fn take_params(&mut self, params: Params<'a>);
}

/// One segment of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TemplateSegment<'s> {
    /// Must equal the request segment.
    Literal(&'s str),
    /// Captures one non-empty request segment under this name.
    Param(&'s str),
}

/// Splits a template path (starting with `/`) into segments; `{name}` alone in a segment is a parameter.
pub(crate) fn template_segments(path: &str) -> Vec<TemplateSegment<'_>> {
    path[1..]
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) if !name.is_empty() => TemplateSegment::Param(name),
                _ => TemplateSegment::Literal(segment),
            },
        )
        .collect()
}

/// Splits a prefix (starting with `/`) into the whole segments a path must begin with; its own
/// trailing slash does not count, so `/` has none and `/api/` is `["api"]`.
pub(crate) fn prefix_segments(prefix: &str) -> Vec<&str> {
    let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
    if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed[1..].split('/').collect()
    }
}

/// A route ending at a trie node, with its parameter names in capture order.
#[derive(Debug, Clone)]
struct Terminal {
    route: u32,
    names: Box<[Box<str>]>,
}

/// One trie node: the routes ending here and the children below.
#[derive(Debug, Clone, Default)]
pub(crate) struct PathTrie {
    literal: HashMap<Box<str>, PathTrie, FixedState>,
    param: Option<Box<PathTrie>>,
    /// Exact and template routes whose last segment is this node, by route index.
    terminal: Vec<Terminal>,
    /// Prefix routes whose last segment is this node, by route index.
    prefix: Vec<u32>,
    /// The smallest route index here or below (`u32::MAX` for none); set by [`PathTrie::finish`].
    min_route: u32,
}

impl PathTrie {
    /// Adds an exact or template route.
    pub fn insert_template(&mut self, segments: &[TemplateSegment<'_>], route: u32) {
        let mut node = self;
        let mut names: Vec<Box<str>> = Vec::new();
        for segment in segments {
            node = match segment {
                TemplateSegment::Literal(text) => node.literal_child(text),
                TemplateSegment::Param(name) => {
                    names.push((*name).into());
                    node.param.get_or_insert_with(Box::default)
                }
            };
        }
        node.terminal.push(Terminal {
            route,
            names: names.into(),
        });
    }

    /// Adds a prefix route.
    pub fn insert_prefix(&mut self, segments: &[&str], route: u32) {
        let mut node = self;
        for segment in segments {
            node = node.literal_child(segment);
        }
        node.prefix.push(route);
    }

    /// The child for the literal segment `text`, added if missing. Looked up before a key is
    /// allocated: most segments of a large program are shared prefixes already there.
    fn literal_child(&mut self, text: &str) -> &mut PathTrie {
        if !self.literal.contains_key(text) {
            self.literal.insert(text.into(), PathTrie::default());
        }
        self.literal
            .get_mut(text)
            .expect("the child was found or inserted just above")
    }

    /// Sorts every node's routes and computes the pruning bounds; call once after inserting.
    pub fn finish(&mut self) -> u32 {
        self.terminal.sort_by_key(|t| t.route);
        self.prefix.sort_unstable();
        let mut min = self
            .terminal
            .first()
            .map_or(u32::MAX, |t| t.route)
            .min(self.prefix.first().copied().unwrap_or(u32::MAX));
        for child in self.literal.values_mut() {
            min = min.min(child.finish());
        }
        if let Some(child) = self.param.as_mut() {
            min = min.min(child.finish());
        }
        self.min_route = min;
        min
    }

    /// Offers every route whose path matches `segments` (the request path split at `/`, without
    /// the leading empty one) to `candidates`, skipping what its bound excludes.
    pub fn search<'a, C: Candidates<'a>>(&'a self, segments: &[&'a str], candidates: &mut C) {
        let mut values = SmallVec::<[&'a str; 8]>::new();
        self.search_from(segments, 0, &mut values, candidates);
    }

    fn search_from<'a, C: Candidates<'a>>(
        &'a self,
        segments: &[&'a str],
        depth: usize,
        values: &mut SmallVec<[&'a str; 8]>,
        candidates: &mut C,
    ) {
        for &route in &self.prefix {
            if route >= candidates.bound() {
                break;
            }
            if candidates.offer(route) {
                candidates.take_params(Params::default());
            }
        }
        let Some(&segment) = segments.get(depth) else {
            for terminal in &self.terminal {
                if terminal.route >= candidates.bound() {
                    break;
                }
                if candidates.offer(terminal.route) {
                    let captured = values.iter().copied().collect();
                    candidates.take_params(Params::new(&terminal.names, captured));
                }
            }
            return;
        };
        if let Some(child) = self.literal.get(segment) {
            if child.min_route < candidates.bound() {
                child.search_from(segments, depth + 1, values, candidates);
            }
        }
        if let Some(child) = self.param.as_deref() {
            if !segment.is_empty() && child.min_route < candidates.bound() {
                values.push(segment);
                child.search_from(segments, depth + 1, values, candidates);
                values.pop();
            }
        }
    }
}
