//! What a route's `match` means, in the bundle's terms ([`RouteMatch`]): the form that route
//! precedence, the shadowing checks, `meshc explain` and emit all read, so they agree.

use meshwork_bundle::{NameValue, PathKind, PathMatch, RouteMatch};

use crate::syntax::ast;

/// Lowers a `match`: methods upper-case, host and header names lower-case, an exact path with
/// `{name}` captures becomes a template.
pub fn lower_match(matcher: &ast::Match) -> RouteMatch {
    let pairs = |list: &[ast::KeyValueMatch], lowercase: bool| {
        list.iter()
            .map(|kv| NameValue {
                name: if lowercase {
                    kv.name.node.to_ascii_lowercase()
                } else {
                    kv.name.node.clone()
                },
                value: kv.value.node.clone(),
            })
            .collect()
    };
    RouteMatch {
        method: matcher
            .method
            .as_ref()
            .filter(|m| m.node != "*")
            .map(|m| m.node.to_ascii_uppercase()),
        path: lower_path(&matcher.path),
        host: matcher.host.as_ref().map(|h| h.node.to_ascii_lowercase()),
        headers: pairs(&matcher.headers, true),
        query: pairs(&matcher.query, false),
    }
}

/// An exact path with `{name}` captures becomes a template listing its parameters.
pub fn lower_path(path: &ast::PathMatch) -> PathMatch {
    let value = path.value.node.clone();
    let (kind, params) = match path.kind {
        ast::PathKind::Prefix => (PathKind::Prefix, Vec::new()),
        ast::PathKind::Regex => (PathKind::Regex, Vec::new()),
        ast::PathKind::Exact => {
            let params = template_params(&value);
            if params.is_empty() {
                (PathKind::Exact, params)
            } else {
                (PathKind::Template, params)
            }
        }
    };
    PathMatch {
        kind,
        value,
        params,
    }
}

/// The `{name}` segments of a path template, in order.
pub fn template_params(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// The parameters a route captures: a template's `{name}` segments, or a regex's named groups
/// (empty for other routes and regexes that do not compile).
pub fn route_params(route: &ast::Route) -> Vec<String> {
    match route.matcher() {
        Some(m) if m.path.kind == ast::PathKind::Exact => template_params(&m.path.value.node),
        Some(m) if m.path.kind == ast::PathKind::Regex => regex::Regex::new(&m.path.value.node)
            .map(|r| r.capture_names().flatten().map(str::to_string).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_params_are_whole_segments_in_order() {
        assert_eq!(template_params("/ships/{ship}/crew/{id}"), ["ship", "id"]);
        assert!(template_params("/items{id}").is_empty());
    }
}
