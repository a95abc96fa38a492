//! Conflicting routes (E0200) and unreachable routes (W0201).
//!
//! *What*: two routes of one gateway with identical matches conflict; a route that a route
//! tried before it (by Gateway API precedence) fully covers can never be chosen.
//! *Why*: the runtime picks one route per request without a word; a shadowed route's auth,
//! limits and target silently never apply. Istio and Kuma users meet this as "my route is
//! ignored".
//! *Example*: `match GET "/officers/{id}"` and `match GET "/officers/{name}"` conflict. Templates
//! rank equally, so `match GET "/{ship}/{deck}"` declared before `match GET "/{ship}/bridge"`
//! takes all of the latter's requests; and a `match prefix "/"` takes every request of a
//! `match regex …` with no more conditions (prefix ranks above regex).
//!
//! To stay near-linear over 100 000 routes, candidates are found through an index: routes are
//! bucketed by host condition, and within a bucket a segment trie holds exact paths and
//! templates at their last segment and prefixes at theirs. A route is only compared with the
//! routes the trie walk along its own path reaches.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use foldhash::fast::FixedState;

use meshwork_bundle::{
    compare_routes, PrecedenceDecision, PrecedenceStep, Route as BundleRoute, RouteAction,
    SourceLocation,
};

use crate::diagnostics::Diagnostic;
use crate::resolve::route_match::lower_match;
use crate::resolve::Program;
use crate::syntax::ast;

use super::route_shape::{covers, host_covers, HostShape, MatchShape, PathShape, Segment};
use super::{CONFLICTING_ROUTES, UNREACHABLE_ROUTE};

/// One route of a gateway with its shape.
struct Entry<'a> {
    route: &'a ast::Route,
    matcher: &'a ast::Match,
    shape: MatchShape<'a>,
}

/// Checks every gateway (routes of same-named gateways together: they would be merged).
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut by_gateway: BTreeMap<&str, Vec<Entry>> = BTreeMap::new();
    for (gateway, route) in program.routes() {
        if let Some(matcher) = route.matcher() {
            by_gateway
                .entry(&gateway.name.node)
                .or_default()
                .push(Entry {
                    route,
                    matcher,
                    shape: MatchShape::of(matcher),
                });
        }
    }
    let mut out = Vec::new();
    for entries in by_gateway.values() {
        check_gateway(program, entries, &mut out);
    }
    out
}

fn check_gateway(program: &Program, entries: &[Entry], out: &mut Vec<Diagnostic>) {
    let mut first_with_shape: FastMap<&MatchShape, usize> =
        FastMap::with_capacity_and_hasher(entries.len(), FixedState::default());
    let mut conflicting = vec![false; entries.len()];
    for (i, entry) in entries.iter().enumerate() {
        match first_with_shape.get(&entry.shape) {
            Some(&first) => {
                conflicting[i] = true;
                out.push(conflict(&entries[first], entry));
            }
            None => {
                first_with_shape.insert(&entry.shape, i);
            }
        }
    }
    let index = RouteIndex::build(entries);
    let mut precedence = PrecedenceCache {
        program,
        entries,
        routes: HashMap::new(),
    };
    let mut candidates = Vec::new();
    for (b, entry) in entries.iter().enumerate() {
        if conflicting[b] {
            continue;
        }
        candidates.clear();
        index.candidates(&entry.shape, &mut candidates);
        let mut shadow: Option<(usize, PrecedenceDecision)> = None;
        for &a in candidates.iter() {
            if a == b || conflicting[a] || !covers(&entries[a].shape, &entry.shape) {
                continue;
            }
            let decision = precedence.compare(a, b);
            if decision.ordering != Ordering::Less {
                continue;
            }
            // Name the covering route tried first: the one the runtime would pick instead.
            if shadow.is_none_or(|(current, _)| {
                precedence.compare(a, current).ordering == Ordering::Less
            }) {
                shadow = Some((a, decision));
            }
        }
        if let Some((a, decision)) = shadow {
            out.push(unreachable(&entries[a], entry, decision));
        }
    }
}

/// Routes as the precedence comparison sees them (match, name, location), made on demand: only
/// routes that meet a covering candidate ever need one.
struct PrecedenceCache<'p, 'e> {
    program: &'p Program<'p>,
    entries: &'e [Entry<'e>],
    routes: HashMap<usize, BundleRoute>,
}

impl PrecedenceCache<'_, '_> {
    fn ensure(&mut self, i: usize) {
        if self.routes.contains_key(&i) {
            return;
        }
        let entry = &self.entries[i];
        let sources = self.program.sources;
        let at = sources.line_col(entry.route.span);
        self.routes.insert(
            i,
            BundleRoute {
                name: entry.route.name.node.clone(),
                matcher: lower_match(entry.matcher),
                public: false,
                admission: Vec::new(),
                action: RouteAction::Respond {
                    status: 200,
                    body: String::new(),
                    content_type: String::new(),
                },
                source: SourceLocation {
                    file: sources.file(entry.route.span.file).path.clone(),
                    line: at.line,
                    column: at.column,
                },
            },
        );
    }

    /// Which of routes `a` and `b` is tried first, and why.
    fn compare(&mut self, a: usize, b: usize) -> PrecedenceDecision {
        self.ensure(a);
        self.ensure(b);
        compare_routes(&self.routes[&a], &self.routes[&b])
    }
}

fn conflict(first: &Entry, again: &Entry) -> Diagnostic {
    Diagnostic::error(
        &CONFLICTING_ROUTES,
        format!("routes `{}` and `{}` match exactly the same requests", first.route.name.node, again.route.name.node),
    )
    .with_label(again.matcher.span, format!("the same match as `{}`", first.route.name.node))
    .with_label(first.matcher.span, "first matched here")
    .with_help(format!(
        "`{}` is declared first, so it would take every request and `{}` none; remove one, or tell them apart by method, host, header or query",
        first.route.name.node, again.route.name.node
    ))
}

fn unreachable(shadowing: &Entry, shadowed: &Entry, decision: PrecedenceDecision) -> Diagnostic {
    let (a, b) = (&shadowing.route.name.node, &shadowed.route.name.node);
    Diagnostic::warning(&UNREACHABLE_ROUTE, format!("route `{b}` is unreachable: `{a}` takes every request it matches"))
        .with_label(shadowed.matcher.span, "never chosen")
        .with_label(shadowing.matcher.span, format!("`{a}` matches all of these requests and is tried first"))
        .with_help(if decision.step == PrecedenceStep::SourceOrder {
            format!("`{a}` ranks equal to `{b}` and is declared first; declare `{b}` before `{a}`, make it more specific, or remove it")
        } else {
            format!(
                "`{a}` is tried first because it has {}; make `{b}` more specific than `{a}` (a method, host, header or query match, or a longer path) or remove it",
                decision.step.describe()
            )
        })
}

/// Where to look for the routes that might cover a route.
struct RouteIndex<'e> {
    any_host: SegmentTrie<'e>,
    exact_hosts: FastMap<&'e str, SegmentTrie<'e>>,
    wildcard_hosts: Vec<(&'e str, SegmentTrie<'e>)>,
}

impl<'e> RouteIndex<'e> {
    fn build(entries: &'e [Entry<'e>]) -> Self {
        let mut index = RouteIndex {
            any_host: SegmentTrie::default(),
            exact_hosts: FastMap::default(),
            wildcard_hosts: Vec::new(),
        };
        for (i, entry) in entries.iter().enumerate() {
            let trie = match &entry.shape.host {
                HostShape::Any => &mut index.any_host,
                HostShape::Exact(h) => index.exact_hosts.entry(h.as_str()).or_default(),
                HostShape::Wildcard(s) => match index
                    .wildcard_hosts
                    .iter()
                    .position(|(w, _)| *w == s.as_str())
                {
                    Some(at) => &mut index.wildcard_hosts[at].1,
                    None => {
                        index
                            .wildcard_hosts
                            .push((s.as_str(), SegmentTrie::default()));
                        let last = index.wildcard_hosts.len() - 1;
                        &mut index.wildcard_hosts[last].1
                    }
                },
            };
            trie.insert(i, &entry.shape.path);
        }
        index
    }

    /// Routes whose host and path conditions might cover `shape`'s (a superset; callers still
    /// check [`covers`]).
    fn candidates(&self, shape: &MatchShape, out: &mut Vec<usize>) {
        self.any_host.candidates(&shape.path, out);
        if let HostShape::Exact(h) = &shape.host {
            if let Some(trie) = self.exact_hosts.get(h.as_str()) {
                trie.candidates(&shape.path, out);
            }
        }
        if shape.host != HostShape::Any {
            for (suffix, trie) in &self.wildcard_hosts {
                if host_covers(&HostShape::Wildcard((*suffix).to_string()), &shape.host) {
                    trie.candidates(&shape.path, out);
                }
            }
        }
    }
}

/// A fast, fixed-seed hash map: lookups only, never iterated, so the seed cannot leak into output.
type FastMap<K, V> = HashMap<K, V, FixedState>;

/// One trie node: its parameter child and the routes ending here.
#[derive(Default)]
struct TrieNode {
    /// The child reached through a `{param}` segment (0: none; the root is never a child).
    param: u32,
    /// Routes whose exact path or template ends here.
    ends: Vec<usize>,
    /// Routes whose prefix ends here (regex routes are kept nowhere: they cover nothing).
    prefixes: Vec<usize>,
}

/// A trie over path segments. Node 0 is the root.
struct SegmentTrie<'e> {
    literal: FastMap<(u32, &'e str), u32>,
    nodes: Vec<TrieNode>,
}

impl Default for SegmentTrie<'_> {
    fn default() -> Self {
        SegmentTrie {
            literal: FastMap::default(),
            nodes: vec![TrieNode::default()],
        }
    }
}

impl<'e> SegmentTrie<'e> {
    fn child(&mut self, node: u32, segment: Segment<'e>) -> u32 {
        let next = self.nodes.len() as u32;
        let child = match segment {
            Segment::Literal(text) => *self.literal.entry((node, text)).or_insert(next),
            Segment::Param => {
                let slot = &mut self.nodes[node as usize].param;
                if *slot == 0 {
                    *slot = next;
                }
                *slot
            }
        };
        if child == next {
            self.nodes.push(TrieNode::default());
        }
        child
    }

    fn insert(&mut self, route: usize, path: &PathShape<'e>) {
        match path {
            PathShape::Segments(segments) => {
                let node = segments.iter().fold(0, |node, s| self.child(node, *s));
                self.nodes[node as usize].ends.push(route);
            }
            PathShape::Prefix(segments) => {
                let node = segments
                    .iter()
                    .fold(0, |node, s| self.child(node, Segment::Literal(s)));
                self.nodes[node as usize].prefixes.push(route);
            }
            PathShape::Regex(_) => {}
        }
    }

    fn candidates(&self, path: &PathShape, out: &mut Vec<usize>) {
        match path {
            PathShape::Segments(segments) => self.walk_segments(0, segments, true, out),
            PathShape::Prefix(segments) => {
                let mut node = Some(0);
                for segment in segments.iter() {
                    let Some(at) = node else { break };
                    out.extend(&self.nodes[at as usize].prefixes);
                    node = self.literal.get(&(at, *segment)).copied();
                }
                if let Some(at) = node {
                    out.extend(&self.nodes[at as usize].prefixes);
                }
            }
            PathShape::Regex(_) => out.extend(&self.nodes[0].prefixes),
        }
    }

    /// Prefixes are only collected while the walk has followed literal edges (a prefix never
    /// sits below a parameter edge anyway, since prefixes have none).
    fn walk_segments(
        &self,
        node: u32,
        rest: &[Segment],
        literal_so_far: bool,
        out: &mut Vec<usize>,
    ) {
        let here = &self.nodes[node as usize];
        if literal_so_far {
            out.extend(&here.prefixes);
        }
        let Some((first, rest)) = rest.split_first() else {
            out.extend(&here.ends);
            return;
        };
        if let Segment::Literal(text) = first {
            if let Some(next) = self.literal.get(&(node, *text)) {
                self.walk_segments(*next, rest, literal_so_far, out);
            }
        }
        let param_accepts = match first {
            Segment::Literal(text) => !text.is_empty(),
            Segment::Param => true,
        };
        if param_accepts && here.param != 0 {
            self.walk_segments(here.param, rest, false, out);
        }
    }
}
