//! A route's `match` reduced to what decides which requests it takes: the method, the host, the
//! path as segments, and the header and query conditions, borrowed from the tree. The shadowing
//! checks compare shapes; nothing here allocates per segment.

use crate::syntax::ast;

/// One path segment of an exact path or template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Segment<'a> {
    /// Must equal this text.
    Literal(&'a str),
    /// `{name}`: any one non-empty segment.
    Param,
}

/// The path condition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathShape<'a> {
    /// An exact path or a template, segment by segment (`"/"` is one empty segment).
    Segments(Vec<Segment<'a>>),
    /// A whole-segment prefix (`"/"` is no segments; a trailing `/` is ignored).
    Prefix(Vec<&'a str>),
    /// A regular expression, as written.
    Regex(&'a str),
}

/// The host condition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostShape {
    Any,
    /// An exact host, lower-case.
    Exact(String),
    /// `*.suffix`: the suffix, lower-case, without `*.`.
    Wildcard(String),
}

/// Everything a route matches on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MatchShape<'a> {
    pub method: Option<&'a str>,
    pub host: HostShape,
    pub path: PathShape<'a>,
    /// (lower-case name, value), sorted.
    pub headers: Vec<(String, &'a str)>,
    /// (name, value), sorted.
    pub query: Vec<(&'a str, &'a str)>,
}

impl<'a> MatchShape<'a> {
    /// The shape of a `match`. Only the first condition on a name counts, as in the matcher
    /// (Gateway API); a repeated name is E0209.
    pub fn of(matcher: &'a ast::Match) -> Self {
        let mut headers: Vec<(String, &str)> = Vec::with_capacity(matcher.headers.len());
        for kv in &matcher.headers {
            let name = kv.name.node.to_ascii_lowercase();
            if !headers.iter().any(|(n, _)| *n == name) {
                headers.push((name, kv.value.node.as_str()));
            }
        }
        headers.sort();
        let mut query: Vec<(&str, &str)> = Vec::with_capacity(matcher.query.len());
        for kv in &matcher.query {
            if !query.iter().any(|(n, _)| *n == kv.name.node) {
                query.push((kv.name.node.as_str(), kv.value.node.as_str()));
            }
        }
        query.sort();
        MatchShape {
            method: matcher
                .method
                .as_ref()
                .map(|m| m.node.as_str())
                .filter(|m| *m != "*"),
            host: host_shape(matcher.host.as_ref().map(|h| h.node.as_str())),
            path: path_shape(&matcher.path),
            headers,
            query,
        }
    }
}

fn host_shape(host: Option<&str>) -> HostShape {
    match host {
        None => HostShape::Any,
        Some(h) => match h.strip_prefix("*.") {
            Some(suffix) => HostShape::Wildcard(suffix.to_ascii_lowercase()),
            None => HostShape::Exact(h.to_ascii_lowercase()),
        },
    }
}

fn path_shape(path: &ast::PathMatch) -> PathShape<'_> {
    let value = path.value.node.as_str();
    match path.kind {
        ast::PathKind::Regex => PathShape::Regex(value),
        ast::PathKind::Prefix => PathShape::Prefix(prefix_segments(value)),
        ast::PathKind::Exact => PathShape::Segments(exact_segments(value)),
    }
}

/// The segments of an exact path or template (`"/"` is one empty segment).
pub fn exact_segments(path: &str) -> Vec<Segment<'_>> {
    path.strip_prefix('/')
        .unwrap_or(path)
        .split('/')
        .map(|s| {
            if s.len() > 2 && s.starts_with('{') && s.ends_with('}') {
                Segment::Param
            } else {
                Segment::Literal(s)
            }
        })
        .collect()
}

/// The segments of a prefix (`"/"` has none; a trailing `/` is ignored).
pub fn prefix_segments(prefix: &str) -> Vec<&str> {
    let trimmed = prefix.trim_start_matches('/').trim_end_matches('/');
    if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed.split('/').collect()
    }
}

/// True when the host condition `a` accepts every host `b` accepts.
pub fn host_covers(a: &HostShape, b: &HostShape) -> bool {
    match (a, b) {
        (HostShape::Any, _) => true,
        (HostShape::Exact(x), HostShape::Exact(y)) => x == y,
        (HostShape::Wildcard(s), HostShape::Exact(h)) => wildcard_matches(s, h),
        (HostShape::Wildcard(s), HostShape::Wildcard(t)) => t == s || wildcard_matches(s, t),
        _ => false,
    }
}

/// `*.suffix` matches `host` when `host` ends with `.suffix` after at least one more label.
pub fn wildcard_matches(suffix: &str, host: &str) -> bool {
    host.len() > suffix.len() + 1
        && host.ends_with(suffix)
        && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
}

/// True when `a`'s path condition accepts every path `b`'s accepts. Regular expressions are only covered by the prefix `/`.
pub fn path_covers(a: &PathShape, b: &PathShape) -> bool {
    match (a, b) {
        (PathShape::Prefix(p), PathShape::Segments(s)) => {
            s.len() >= p.len() && p.iter().zip(s).all(|(p, s)| *s == Segment::Literal(p))
        }
        (PathShape::Prefix(p), PathShape::Prefix(q)) => {
            q.len() >= p.len() && p.iter().zip(q).all(|(p, q)| p == q)
        }
        (PathShape::Prefix(p), PathShape::Regex(_)) => p.is_empty(),
        (PathShape::Segments(t), PathShape::Segments(s)) => {
            t.len() == s.len()
                && t.iter().zip(s).all(|(t, s)| match (t, s) {
                    (Segment::Literal(x), Segment::Literal(y)) => x == y,
                    (Segment::Param, Segment::Literal(y)) => !y.is_empty(),
                    (Segment::Param, Segment::Param) => true,
                    (Segment::Literal(_), Segment::Param) => false,
                })
        }
        _ => false,
    }
}

/// True when some path matches both conditions (`None` when it cannot be told: a regex).
pub fn paths_overlap(a: &PathShape, b: &PathShape) -> Option<bool> {
    let segment_fits = |segment: &Segment, literal: &str| match segment {
        Segment::Literal(text) => *text == literal,
        Segment::Param => !literal.is_empty(),
    };
    Some(match (a, b) {
        (PathShape::Regex(_), _) | (_, PathShape::Regex(_)) => return None,
        (PathShape::Prefix(p), PathShape::Prefix(q)) => p.iter().zip(q).all(|(x, y)| x == y),
        (PathShape::Prefix(p), PathShape::Segments(s))
        | (PathShape::Segments(s), PathShape::Prefix(p)) => {
            // The prefix `/` also matches `/` itself (one empty segment).
            s.len() >= p.len() && p.iter().zip(s).all(|(p, s)| segment_fits(s, p))
        }
        (PathShape::Segments(s), PathShape::Segments(t)) => {
            s.len() == t.len()
                && s.iter().zip(t).all(|(x, y)| match (x, y) {
                    (Segment::Literal(x), Segment::Literal(y)) => x == y,
                    (Segment::Param, Segment::Literal(y))
                    | (Segment::Literal(y), Segment::Param) => !y.is_empty(),
                    (Segment::Param, Segment::Param) => true,
                })
        }
    })
}

/// True when some request satisfies the method, header and query conditions of both shapes
/// (hosts and paths aside): the methods agree and no name is required with two values.
pub fn filters_overlap(a: &MatchShape, b: &MatchShape) -> bool {
    fn agree<N: PartialEq>(x: &[(N, &str)], y: &[(N, &str)]) -> bool {
        x.iter()
            .all(|(n, v)| y.iter().all(|(m, w)| n != m || v == w))
    }
    let methods = match (a.method, b.method) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    };
    methods && agree(&a.headers, &b.headers) && agree(&a.query, &b.query)
}

/// True when `a` matches every request `b` matches.
pub fn covers(a: &MatchShape, b: &MatchShape) -> bool {
    a.method.is_none_or(|m| b.method == Some(m))
        && host_covers(&a.host, &b.host)
        && a.headers.iter().all(|h| b.headers.contains(h))
        && a.query.iter().all(|q| b.query.contains(q))
        && path_covers(&a.path, &b.path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(path: &str) -> PathShape<'_> {
        PathShape::Segments(exact_segments(path))
    }

    fn prefix(path: &str) -> PathShape<'_> {
        PathShape::Prefix(prefix_segments(path))
    }

    #[test]
    fn prefixes_cover_whole_segments_only() {
        assert!(path_covers(&prefix("/api"), &segments("/api/users")));
        assert!(path_covers(&prefix("/api/"), &segments("/api")));
        assert!(!path_covers(&prefix("/api"), &segments("/apis")));
        assert!(path_covers(&prefix("/"), &PathShape::Regex("^/x")));
        assert!(path_covers(&prefix("/a"), &prefix("/a/b")));
        assert!(!path_covers(&prefix("/a/b"), &prefix("/a")));
    }

    #[test]
    fn templates_cover_literals_but_not_the_reverse() {
        assert!(path_covers(
            &segments("/officers/{id}"),
            &segments("/officers/7")
        ));
        assert!(path_covers(
            &segments("/officers/{id}"),
            &segments("/officers/{name}")
        ));
        assert!(!path_covers(
            &segments("/officers/7"),
            &segments("/officers/{id}")
        ));
        assert!(
            !path_covers(&segments("/officers/{id}"), &segments("/officers/")),
            "a parameter needs a non-empty segment"
        );
        assert!(!path_covers(&segments("/a/{id}"), &segments("/a/{id}/b")));
        assert!(
            !path_covers(&prefix("/a"), &segments("/{x}/b")),
            "a parameter may be any segment"
        );
    }

    #[test]
    fn paths_overlap_when_some_path_matches_both() {
        let overlap = |a: &PathShape, b: &PathShape| paths_overlap(a, b).unwrap();
        assert!(overlap(&prefix("/api"), &segments("/api/{id}")));
        assert!(overlap(&prefix("/api"), &segments("/api")));
        assert!(!overlap(&prefix("/api"), &segments("/apis")));
        assert!(overlap(&prefix("/"), &segments("/")));
        assert!(overlap(&prefix("/a"), &prefix("/a/b")));
        assert!(!overlap(&prefix("/a/c"), &prefix("/a/b")));
        assert!(overlap(&segments("/a/{x}"), &segments("/{y}/b")));
        assert!(!overlap(&segments("/a/{x}"), &segments("/a/")));
        assert!(!overlap(&segments("/a"), &segments("/a/b")));
        assert!(
            overlap(&prefix("/{x}"), &segments("/{x}")),
            "braces are literal in a prefix"
        );
        assert_eq!(paths_overlap(&prefix("/"), &PathShape::Regex("^/x")), None);
    }

    #[test]
    fn wildcard_hosts_need_at_least_one_more_label() {
        assert!(wildcard_matches("starfleet.test", "api.starfleet.test"));
        assert!(!wildcard_matches("starfleet.test", "starfleet.test"));
        assert!(!wildcard_matches("starfleet.test", "xstarfleet.test"));
        assert!(host_covers(
            &HostShape::Wildcard("a.io".into()),
            &HostShape::Wildcard("x.a.io".into())
        ));
        assert!(!host_covers(
            &HostShape::Exact("a.io".into()),
            &HostShape::Any
        ));
    }
}
