//! The upstream path of a forward: `strip_prefix` removes a leading path prefix (whole segments);
//! `rewrite` replaces the path with a template whose `{param}`s take the matched path parameters.
//! When a route has both, the rewrite decides the path.

use meshwork_bundle::matcher::Params;

/// A compiled `rewrite` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewriteTemplate {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(Box<str>),
    Param(Box<str>),
}

impl RewriteTemplate {
    /// Compiles a template: `{name}` (anywhere) is a parameter, everything else literal.
    pub fn compile(template: &str) -> RewriteTemplate {
        let mut pieces = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|c| open + c) else {
                break;
            };
            if open > 0 {
                pieces.push(Piece::Literal(rest[..open].into()));
            }
            pieces.push(Piece::Param(rest[open + 1..close].into()));
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Literal(rest.into()));
        }
        RewriteTemplate { pieces }
    }

    /// The path for a request's parameters; a parameter the match did not capture is empty.
    pub fn render(&self, params: &Params<'_>) -> String {
        let mut path = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => path.push_str(text),
                Piece::Param(name) => path.push_str(params.get(name).unwrap_or("")),
            }
        }
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        path
    }
}

/// `path` without `prefix` when it starts with the prefix's whole segments (`/` when nothing is
/// left); `None` when it does not start with it.
pub fn strip_prefix<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
    let rest = path.strip_prefix(prefix)?;
    if rest.is_empty() {
        Some("/")
    } else if rest.starts_with('/') {
        Some(rest)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshwork_bundle::matcher::{MatchOutcome, RequestTarget, RouteTable};
    use meshwork_bundle::{PathKind, PathMatch, Route, RouteAction, RouteMatch, SourceLocation};

    fn params_of(template: &str, path: &str, check: impl Fn(&Params<'_>)) {
        let route = Route {
            name: "r".into(),
            matcher: RouteMatch {
                method: None,
                path: PathMatch {
                    kind: PathKind::Template,
                    value: template.into(),
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
                content_type: String::new(),
            },
            source: SourceLocation {
                file: "t".into(),
                line: 1,
                column: 1,
            },
        };
        let table = RouteTable::new(&[route]).unwrap();
        let MatchOutcome::Matched { params, .. } = table.find(&RequestTarget::new("GET", "", path))
        else {
            panic!("no match");
        };
        check(&params);
    }

    #[test]
    fn a_rewrite_fills_in_the_matched_parameters() {
        let rewrite = RewriteTemplate::compile("/v2/crew/{id}/log-{entry}");
        params_of("/officers/{id}/{entry}", "/officers/picard/7", |params| {
            assert_eq!(rewrite.render(params), "/v2/crew/picard/log-7");
        });
    }

    #[test]
    fn a_rewrite_without_parameters_is_literal() {
        let rewrite = RewriteTemplate::compile("/status");
        params_of("/a/{x}", "/a/1", |params| {
            assert_eq!(rewrite.render(params), "/status")
        });
    }

    #[test]
    fn strip_prefix_removes_whole_segments_only() {
        assert_eq!(strip_prefix("/officers/5", "/officers"), Some("/5"));
        assert_eq!(strip_prefix("/officers", "/officers"), Some("/"));
        assert_eq!(strip_prefix("/officers/5", "/officers/"), Some("/5"));
        assert_eq!(strip_prefix("/officersx", "/officers"), None);
        assert_eq!(strip_prefix("/other", "/officers"), None);
    }
}
