//! The compiled route table of one gateway and its lookups.

use smallvec::SmallVec;

use crate::types::gateway::PathPolicy;
use crate::types::route::{PathKind, Route};

use super::compiled_route::RouteFilters;
use super::host_table::{HostKey, HostTable};
use super::path_normalize::{normalize_host, normalize_request_path, PathError};
use super::path_trie::{prefix_segments, template_segments, Candidates, PathTrie, TemplateSegment};
use super::regex_routes::RegexRoutes;
use super::target::RequestTarget;

/// Path parameters captured by a match: names in capture order with their values as they appear
/// in the normalized path (still percent-encoded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params<'a> {
    names: &'a [Box<str>],
    values: SmallVec<[&'a str; 4]>,
}

impl<'a> Params<'a> {
    /// Pairs `names` with `values` (the same length, in capture order).
    pub(crate) fn new(names: &'a [Box<str>], values: SmallVec<[&'a str; 4]>) -> Self {
        debug_assert_eq!(names.len(), values.len());
        Params { names, values }
    }

    /// The value captured for `name`.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Every `(name, value)` in capture order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        self.names
            .iter()
            .map(|n| &**n)
            .zip(self.values.iter().copied())
    }

    /// The number of captured parameters.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether nothing was captured.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// The result of looking a request up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchOutcome<'a> {
    /// The first route in precedence order that matches.
    Matched {
        /// The route's index in the slice given to [`RouteTable::new`].
        route: usize,
        /// Its captured path parameters.
        params: Params<'a>,
    },
    /// No route matches, but some would if the method were another. As in the Gateway API, a
    /// route whose method differs does not match, so this is a 404 unless the gateway answers
    /// 405 on purpose (`method_mismatch 405`); it is told apart so tools can say which routes
    /// would have matched.
    MethodMismatch {
        /// Those routes' methods, sorted and without duplicates (the `Allow` of a 405), borrowed
        /// from the table: a miss allocates no strings.
        allow: Vec<&'a str>,
        /// Those routes, in precedence order.
        routes: Vec<usize>,
    },
    /// Nothing matches (404).
    NotFound,
}

/// A route the table cannot be built from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("route `{route}`: {kind}")]
pub struct MatcherError {
    /// The route's name.
    pub route: String,
    /// What is wrong.
    pub kind: MatcherErrorKind,
}

/// What makes a route unusable by the matcher.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatcherErrorKind {
    /// The path is relative or has a malformed percent escape.
    #[error("path `{path}`: {error}")]
    BadPath {
        /// The path as written.
        path: String,
        /// Why it cannot be normalized.
        error: PathError,
    },
    /// A host with `*` anywhere but as its whole first label.
    #[error("host `{0}` may use `*` only as its whole first label (`*.example.com`)")]
    BadHost(String),
    /// A template naming the same parameter twice.
    #[error("template `{path}` captures `{{{name}}}` twice")]
    DuplicateParam {
        /// The template.
        path: String,
        /// The repeated name.
        name: String,
    },
    /// A regular expression that does not compile.
    #[error("regular expression `{pattern}` does not compile: {message}")]
    BadRegex {
        /// The pattern as written.
        pattern: String,
        /// The regex crate's message.
        message: String,
    },
    /// The regular expressions of one host bucket are too large to combine.
    #[error("the regular expressions of this host are too large together: {0}")]
    RegexSetTooLarge(String),
    /// More routes than the table indexes (`u32::MAX`).
    #[error("too many routes")]
    TooManyRoutes,
}

/// The routes of one host bucket.
#[derive(Debug, Default)]
struct PathIndex {
    trie: PathTrie,
    regexes: Option<RegexRoutes>,
}

/// A gateway's routes, precompiled for lookup. See [`super`] for the matching policy.
#[derive(Debug)]
pub struct RouteTable {
    filters: Vec<RouteFilters>,
    hosts: HostTable<PathIndex>,
    path_policy: PathPolicy,
}

impl RouteTable {
    /// Compiles `routes`, given in precedence order (the bundle's order): when several match a
    /// request, the one earliest in the slice wins. Paths are normalized under the default policy.
    pub fn new(routes: &[Route]) -> Result<RouteTable, MatcherError> {
        Self::with_path_policy(routes, &PathPolicy::default())
    }

    /// Compiles `routes` for a gateway whose paths are normalized under `policy`: route paths go
    /// through the same normalization as request paths ([`RouteTable::normalize`]).
    pub fn with_path_policy(
        routes: &[Route],
        policy: &PathPolicy,
    ) -> Result<RouteTable, MatcherError> {
        let mut hosts: HostTable<PathIndex> = HostTable::default();
        let mut regexes: HostTable<Vec<(u32, &str)>> = HostTable::default();
        let mut filters = Vec::with_capacity(routes.len());
        for (index, route) in routes.iter().enumerate() {
            let fail = |kind| MatcherError {
                route: route.name.clone(),
                kind,
            };
            let index = u32::try_from(index)
                .ok()
                .filter(|i| *i < u32::MAX)
                .ok_or_else(|| fail(MatcherErrorKind::TooManyRoutes))?;
            let host = route.matcher.host.as_deref();
            let key = HostKey::parse(host)
                .ok_or_else(|| fail(MatcherErrorKind::BadHost(host.unwrap_or("").into())))?;
            let path = &route.matcher.path;
            let trie = &mut hosts.bucket_mut(key.clone()).trie;
            match path.kind {
                PathKind::Regex => regexes.bucket_mut(key).push((index, path.value.as_str())),
                PathKind::Exact => insert_exact(trie, &path.value, policy, index).map_err(fail)?,
                PathKind::Template => {
                    insert_template(trie, &path.value, policy, index).map_err(fail)?
                }
                PathKind::Prefix => {
                    let normalized = normalized_route_path(&path.value, policy).map_err(fail)?;
                    trie.insert_prefix(&prefix_segments(&normalized), index);
                }
            }
            filters.push(RouteFilters::new(&route.matcher));
        }
        let mut table = RouteTable {
            filters,
            hosts,
            path_policy: *policy,
        };
        table.add_regexes(routes, regexes)?;
        for bucket in table.hosts.buckets_mut() {
            bucket.trie.finish();
        }
        Ok(table)
    }

    /// Compiles each host bucket's regular expressions into its index.
    fn add_regexes(
        &mut self,
        routes: &[Route],
        regexes: HostTable<Vec<(u32, &str)>>,
    ) -> Result<(), MatcherError> {
        for (key, patterns) in regexes.into_entries() {
            let compiled = RegexRoutes::new(&patterns).map_err(|(at, error)| {
                let (route, pattern) = patterns[at.unwrap_or(0)];
                let kind = match at {
                    Some(_) => MatcherErrorKind::BadRegex {
                        pattern: pattern.to_string(),
                        message: error.to_string(),
                    },
                    None => MatcherErrorKind::RegexSetTooLarge(error.to_string()),
                };
                MatcherError {
                    route: routes[route as usize].name.clone(),
                    kind,
                }
            })?;
            self.hosts.bucket_mut(key).regexes = compiled;
        }
        Ok(())
    }

    /// A request path normalized as this table's route paths were: what to match with
    /// ([`RequestTarget::path`]) and what to forward.
    pub fn normalize<'p>(&self, path: &'p str) -> Result<std::borrow::Cow<'p, str>, PathError> {
        normalize_request_path(path, &self.path_policy)
    }

    /// The policy paths are normalized under.
    pub fn path_policy(&self) -> &PathPolicy {
        &self.path_policy
    }

    /// The number of routes.
    pub fn len(&self) -> usize {
        self.filters.len()
    }

    /// Whether the table has no routes.
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// The first route in precedence order matching `target`, or why none does.
    pub fn find<'a>(&'a self, target: &RequestTarget<'a>) -> MatchOutcome<'a> {
        let Some(segments) = split_segments(target.path) else {
            return MatchOutcome::NotFound;
        };
        let host = normalize_host(target.host);
        let mut best = BestMatch {
            filters: &self.filters,
            target,
            route: u32::MAX,
            params: Params::default(),
        };
        for bucket in self.hosts.buckets_for(&host) {
            bucket.trie.search(&segments, &mut best);
            if let Some(regexes) = &bucket.regexes {
                regexes.search(target.path, &mut best);
            }
        }
        if best.route != u32::MAX {
            return MatchOutcome::Matched {
                route: best.route as usize,
                params: best.params,
            };
        }
        let mut routes: Vec<usize> = self
            .path_matches(target)
            .into_iter()
            .filter(|route| self.filters[*route].headers_and_query_match(target))
            .collect();
        if routes.is_empty() {
            return MatchOutcome::NotFound;
        }
        routes.sort_unstable();
        let mut allow: Vec<&str> = routes
            .iter()
            .filter_map(|route| self.filters[*route].method.as_deref())
            .collect();
        allow.sort();
        allow.dedup();
        MatchOutcome::MethodMismatch { allow, routes }
    }

    /// Every route that matches `target`, in precedence order (the first is what [`find`] returns).
    ///
    /// [`find`]: RouteTable::find
    pub fn matching_routes(&self, target: &RequestTarget<'_>) -> Vec<usize> {
        let mut routes: Vec<usize> = self
            .path_matches(target)
            .into_iter()
            .filter(|route| self.filters[*route].matches(target))
            .collect();
        routes.sort_unstable();
        routes
    }

    /// Every route whose host and path match, ignoring method, headers and query.
    fn path_matches(&self, target: &RequestTarget<'_>) -> Vec<usize> {
        let Some(segments) = split_segments(target.path) else {
            return Vec::new();
        };
        let host = normalize_host(target.host);
        let mut all = EveryPathMatch::default();
        for bucket in self.hosts.buckets_for(&host) {
            bucket.trie.search(&segments, &mut all);
            if let Some(regexes) = &bucket.regexes {
                regexes.search(target.path, &mut all);
            }
        }
        all.routes.into_iter().map(|r| r as usize).collect()
    }
}

/// The request path's segments after the leading `/`; `None` for a path without one.
fn split_segments(path: &str) -> Option<SmallVec<[&str; 16]>> {
    let mut rest = path.strip_prefix('/')?;
    let mut segments = SmallVec::new();
    // A byte scan: `/` is ASCII, so every cut falls on a character boundary.
    while let Some(end) = rest.bytes().position(|b| b == b'/') {
        segments.push(&rest[..end]);
        rest = &rest[end + 1..];
    }
    segments.push(rest);
    Some(segments)
}

/// A route path after the same normalization as request paths.
fn normalized_route_path<'v>(
    value: &'v str,
    policy: &PathPolicy,
) -> Result<std::borrow::Cow<'v, str>, MatcherErrorKind> {
    normalize_request_path(value, policy).map_err(|error| MatcherErrorKind::BadPath {
        path: value.to_string(),
        error,
    })
}

/// Adds an exact path: every segment literal, braces included.
fn insert_exact(
    trie: &mut PathTrie,
    value: &str,
    policy: &PathPolicy,
    route: u32,
) -> Result<(), MatcherErrorKind> {
    let normalized = normalized_route_path(value, policy)?;
    let segments: Vec<TemplateSegment<'_>> = normalized[1..]
        .split('/')
        .map(TemplateSegment::Literal)
        .collect();
    trie.insert_template(&segments, route);
    Ok(())
}

/// Adds a template, refusing one that captures the same name twice.
fn insert_template(
    trie: &mut PathTrie,
    value: &str,
    policy: &PathPolicy,
    route: u32,
) -> Result<(), MatcherErrorKind> {
    let normalized = normalized_route_path(value, policy)?;
    let segments = template_segments(&normalized);
    let mut seen: Vec<&str> = Vec::new();
    for segment in &segments {
        if let TemplateSegment::Param(name) = segment {
            if seen.contains(name) {
                return Err(MatcherErrorKind::DuplicateParam {
                    path: value.to_string(),
                    name: name.to_string(),
                });
            }
            seen.push(name);
        }
    }
    trie.insert_template(&segments, route);
    Ok(())
}

/// Keeps the earliest route that fully matches.
struct BestMatch<'t, 'a> {
    filters: &'t [RouteFilters],
    target: &'t RequestTarget<'a>,
    route: u32,
    params: Params<'a>,
}

impl<'a> Candidates<'a> for BestMatch<'_, 'a> {
    fn bound(&self) -> u32 {
        self.route
    }

    fn offer(&mut self, route: u32) -> bool {
        if route < self.route && self.filters[route as usize].matches(self.target) {
            self.route = route;
            true
        } else {
            false
        }
    }

    fn take_params(&mut self, params: Params<'a>) {
        self.params = params;
    }
}

/// Collects every route whose host and path match.
#[derive(Default)]
struct EveryPathMatch {
    routes: Vec<u32>,
}

impl Candidates<'_> for EveryPathMatch {
    fn bound(&self) -> u32 {
        u32::MAX
    }

    fn offer(&mut self, route: u32) -> bool {
        self.routes.push(route);
        false
    }

    fn take_params(&mut self, _params: Params<'_>) {}
}
