//! Route precedence: the order in which a gateway tries its routes, shared by the compiler (which
//! sorts routes with it), the runtime matcher and `meshc explain` (which prints the deciding step).
//!
//! It follows the Kubernetes Gateway API HTTPRoute rules, one named [`PrecedenceStep`] at a time:
//! 1. [`Hostname`](PrecedenceStep::Hostname): an exact host beats a wildcard host (`*.example.com`),
//!    which beats no host; between two of the same kind, the longer one (in characters, without `*`).
//! 2. [`PathKind`](PrecedenceStep::PathKind): exact path > template (`/a/{id}`) > prefix > regex.
//! 3. [`PrefixLength`](PrecedenceStep::PrefixLength): between two prefixes, the longer one.
//! 4. [`Method`](PrecedenceStep::Method): a route with a method beats one matching any method.
//! 5. [`HeaderCount`](PrecedenceStep::HeaderCount): more header matches first (a repeated name
//!    counts once: only its first entry is a condition).
//! 6. [`QueryCount`](PrecedenceStep::QueryCount): more query matches first (likewise).
//! 7. [`SourceOrder`](PrecedenceStep::SourceOrder): earlier in the program first (files by path,
//!    then line and column), then by name so the order is total.

use std::cmp::Ordering;

use crate::types::route::{PathKind, Route, RouteMatch};

/// One rule of the precedence order, named so tools can say which one decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PrecedenceStep {
    /// Exact host > wildcard host > no host; then the longer host.
    Hostname,
    /// Exact > template > prefix > regex.
    PathKind,
    /// The longer of two prefixes.
    PrefixLength,
    /// A method beats any method.
    Method,
    /// More header matches.
    HeaderCount,
    /// More query matches.
    QueryCount,
    /// Earlier in the program (file path, line, column, then name).
    SourceOrder,
}

impl PrecedenceStep {
    /// Every step, in the order they are applied.
    pub const ALL: [PrecedenceStep; 7] = [
        PrecedenceStep::Hostname,
        PrecedenceStep::PathKind,
        PrecedenceStep::PrefixLength,
        PrecedenceStep::Method,
        PrecedenceStep::HeaderCount,
        PrecedenceStep::QueryCount,
        PrecedenceStep::SourceOrder,
    ];

    /// A short human description, for `meshc explain`.
    pub fn describe(self) -> &'static str {
        match self {
            PrecedenceStep::Hostname => "the more specific host",
            PrecedenceStep::PathKind => {
                "the more specific path match type (exact > template > prefix > regex)"
            }
            PrecedenceStep::PrefixLength => "the longer path prefix",
            PrecedenceStep::Method => "a method match",
            PrecedenceStep::HeaderCount => "more header matches",
            PrecedenceStep::QueryCount => "more query matches",
            PrecedenceStep::SourceOrder => "the earlier declaration",
        }
    }

    /// Compares two routes on this step alone: `Less` means `a` is tried first.
    pub fn compare(self, a: &Route, b: &Route) -> Ordering {
        let (ma, mb) = (&a.matcher, &b.matcher);
        match self {
            PrecedenceStep::Hostname => host_rank(mb).cmp(&host_rank(ma)),
            PrecedenceStep::PathKind => {
                path_kind_rank(mb.path.kind).cmp(&path_kind_rank(ma.path.kind))
            }
            PrecedenceStep::PrefixLength => match (ma.path.kind, mb.path.kind) {
                (PathKind::Prefix, PathKind::Prefix) => mb
                    .path
                    .value
                    .chars()
                    .count()
                    .cmp(&ma.path.value.chars().count()),
                _ => Ordering::Equal,
            },
            PrecedenceStep::Method => mb.method.is_some().cmp(&ma.method.is_some()),
            PrecedenceStep::HeaderCount => mb
                .effective_headers()
                .count()
                .cmp(&ma.effective_headers().count()),
            PrecedenceStep::QueryCount => mb
                .effective_query()
                .count()
                .cmp(&ma.effective_query().count()),
            PrecedenceStep::SourceOrder => {
                a.source.cmp(&b.source).then_with(|| a.name.cmp(&b.name))
            }
        }
    }
}

/// The outcome of comparing two routes, with the step that decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrecedenceDecision {
    /// `Less` when the first route is tried first.
    pub ordering: Ordering,
    /// The first step that told them apart ([`PrecedenceStep::SourceOrder`] when none did).
    pub step: PrecedenceStep,
}

/// Compares two routes: which is tried first, and why.
pub fn compare_routes(a: &Route, b: &Route) -> PrecedenceDecision {
    for step in PrecedenceStep::ALL {
        let ordering = step.compare(a, b);
        if ordering != Ordering::Equal {
            return PrecedenceDecision { ordering, step };
        }
    }
    PrecedenceDecision {
        ordering: Ordering::Equal,
        step: PrecedenceStep::SourceOrder,
    }
}

/// Sorts routes into the order a gateway tries them, most specific first.
pub fn sort_by_precedence(routes: &mut [Route]) {
    routes.sort_by(|a, b| compare_routes(a, b).ordering);
}

/// Higher is more specific: (exact 2 / wildcard 1 / none 0, characters without the wildcard).
fn host_rank(matcher: &RouteMatch) -> (u8, usize) {
    match &matcher.host {
        None => (0, 0),
        Some(host) if host.contains('*') => (1, host.chars().filter(|c| *c != '*').count()),
        Some(host) => (2, host.chars().count()),
    }
}

/// Higher is more specific.
fn path_kind_rank(kind: PathKind) -> u8 {
    match kind {
        PathKind::Exact => 3,
        PathKind::Template => 2,
        PathKind::Prefix => 1,
        PathKind::Regex => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::bundle::SourceLocation;
    use crate::types::route::{NameValue, PathMatch, RouteAction};

    fn route(name: &str, kind: PathKind, path: &str, line: u32) -> Route {
        Route {
            name: name.to_string(),
            matcher: RouteMatch {
                method: None,
                path: PathMatch {
                    kind,
                    value: path.to_string(),
                    params: Vec::new(),
                },
                host: None,
                headers: Vec::new(),
                query: Vec::new(),
            },
            public: true,
            admission: Vec::new(),
            action: RouteAction::Respond {
                status: 200,
                body: String::new(),
                content_type: "text/plain".to_string(),
            },
            source: SourceLocation {
                file: "a.mesh".to_string(),
                line,
                column: 3,
            },
        }
    }

    fn prefix(name: &str, line: u32) -> Route {
        route(name, PathKind::Prefix, "/", line)
    }

    fn pair(name: &str) -> NameValue {
        NameValue {
            name: name.to_string(),
            value: "v".to_string(),
        }
    }

    fn assert_first(first: &Route, second: &Route, step: PrecedenceStep) {
        assert_eq!(
            compare_routes(first, second),
            PrecedenceDecision {
                ordering: Ordering::Less,
                step
            }
        );
        assert_eq!(
            compare_routes(second, first),
            PrecedenceDecision {
                ordering: Ordering::Greater,
                step
            }
        );
    }

    #[test]
    fn a_route_with_a_host_beats_one_without() {
        let mut with_host = prefix("h", 9);
        with_host.matcher.host = Some("api.example.com".to_string());
        assert_first(
            &with_host,
            &route("x", PathKind::Exact, "/a", 1),
            PrecedenceStep::Hostname,
        );
    }

    #[test]
    fn an_exact_host_beats_a_longer_wildcard_host() {
        let mut exact = prefix("e", 9);
        exact.matcher.host = Some("a.io".to_string());
        let mut wildcard = prefix("w", 1);
        wildcard.matcher.host = Some("*.very.long.example.com".to_string());
        assert_first(&exact, &wildcard, PrecedenceStep::Hostname);
    }

    #[test]
    fn the_longer_host_wins_between_exact_hosts() {
        let mut long = prefix("l", 9);
        long.matcher.host = Some("api.example.com".to_string());
        let mut short = prefix("s", 1);
        short.matcher.host = Some("example.com".to_string());
        assert_first(&long, &short, PrecedenceStep::Hostname);
    }

    #[test]
    fn exact_beats_template_beats_prefix_beats_regex() {
        let exact = route("e", PathKind::Exact, "/a/b", 9);
        let template = route("t", PathKind::Template, "/a/{id}", 8);
        let long_prefix = route("p", PathKind::Prefix, "/a/b/c/d", 7);
        let regex = route("r", PathKind::Regex, "^/a/b/c/d/e$", 6);
        assert_first(&exact, &template, PrecedenceStep::PathKind);
        assert_first(&template, &long_prefix, PrecedenceStep::PathKind);
        assert_first(&long_prefix, &regex, PrecedenceStep::PathKind);
    }

    #[test]
    fn the_longer_prefix_wins() {
        let long = route("l", PathKind::Prefix, "/api/v1", 9);
        let short = route("s", PathKind::Prefix, "/api", 1);
        assert_first(&long, &short, PrecedenceStep::PrefixLength);
    }

    #[test]
    fn a_method_beats_any_method() {
        let mut get = prefix("g", 9);
        get.matcher.method = Some("GET".to_string());
        assert_first(&get, &prefix("any", 1), PrecedenceStep::Method);
    }

    #[test]
    fn more_header_matches_win() {
        let mut two = prefix("two", 9);
        two.matcher.headers = vec![pair("a"), pair("b")];
        let mut one = prefix("one", 1);
        one.matcher.headers = vec![pair("a")];
        one.matcher.query = vec![pair("q"), pair("r"), pair("s")];
        assert_first(&two, &one, PrecedenceStep::HeaderCount);
    }

    #[test]
    fn more_query_matches_win() {
        let mut one = prefix("q", 9);
        one.matcher.query = vec![pair("a")];
        assert_first(&one, &prefix("none", 1), PrecedenceStep::QueryCount);
    }

    #[test]
    fn otherwise_the_earlier_declaration_wins_across_files_by_path() {
        assert_first(
            &prefix("b", 1),
            &prefix("a", 2),
            PrecedenceStep::SourceOrder,
        );
        let mut other_file = prefix("z", 1);
        other_file.source.file = "b.mesh".to_string();
        assert_first(&prefix("y", 99), &other_file, PrecedenceStep::SourceOrder);
    }

    #[test]
    fn sorting_orders_a_mixed_table() {
        let mut routes = vec![
            prefix("catch_all", 1),
            route("exact", PathKind::Exact, "/ping", 2),
            route("api", PathKind::Prefix, "/api", 3),
            {
                let mut r = route("hosted", PathKind::Prefix, "/", 4);
                r.matcher.host = Some("x.io".to_string());
                r
            },
        ];
        sort_by_precedence(&mut routes);
        let names: Vec<&str> = routes.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["hosted", "exact", "api", "catch_all"]);
    }
}
