//! An exact host and a wildcard host that split the same requests between destinations (W0211).
//!
//! *What*: two routes of one gateway, one for an exact host (`api.starfleet.test`) or a narrower
//! wildcard (`*.eu.starfleet.test`), the other for a wildcard that covers it
//! (`*.starfleet.test`), whose methods, paths, headers and query conditions overlap, and which
//! send those requests to different places (other services, another Kafka topic). Routes that
//! answer themselves (`respond`) are not compared: a stub per host is deliberate.
//! *Why*: host precedence gives the exact host's requests to the first route and every other
//! name under the wildcard to the second, so the same request reaches another service depending
//! on the Host a client writes (`api.starfleet.test` or `api2.starfleet.test`, a CNAME, a
//! regional alias). Istio reports overlapping VirtualService hosts for the same reason.
//! The warning names the requests affected and where each spelling sends them; a deliberate
//! split (a tenant catch-all with one special host) reads the same, and the help says how to make
//! it explicit.
//! *Example*: `match GET prefix "/officers" host "api.starfleet.test" … forward picard` and
//! `match GET prefix "/officers" host "*.starfleet.test" … forward riker`.
//!
//! Routes without a host are not compared with hosted ones: a default route beside virtual hosts
//! is the ordinary layout of a gateway. Regex paths are skipped (their overlap is not decided).

use std::collections::{BTreeMap, HashMap};

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::syntax::ast;

use super::route_shape::{
    filters_overlap, host_covers, paths_overlap, HostShape, MatchShape, PathShape, Segment,
};
use super::HOST_OVERLAP;

struct Entry<'a> {
    route: &'a ast::Route,
    matcher: &'a ast::Match,
    shape: MatchShape<'a>,
    destination: Option<String>,
}

/// Every hosted route whose requests a covering wildcard route sends elsewhere.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut by_gateway: BTreeMap<&str, Vec<Entry>> = BTreeMap::new();
    for (gateway, route) in program.routes() {
        let Some(matcher) = route.matcher() else {
            continue;
        };
        if matcher.host.is_none() {
            continue;
        }
        by_gateway
            .entry(&gateway.name.node)
            .or_default()
            .push(Entry {
                route,
                matcher,
                shape: MatchShape::of(matcher),
                destination: destination(route),
            });
    }
    let mut out = Vec::new();
    for entries in by_gateway.values() {
        check_gateway(entries, &mut out);
    }
    out
}

fn check_gateway(entries: &[Entry], out: &mut Vec<Diagnostic>) {
    // Wildcard routes by suffix and first path segment (`None`: a parameter, `/` or a regex),
    // so a hosted route meets only the wildcard routes whose host covers its own and whose path
    // could overlap it.
    let mut wildcards: HashMap<(&str, Option<&str>), Vec<usize>> = HashMap::new();
    for (i, entry) in entries.iter().enumerate() {
        if let (HostShape::Wildcard(suffix), Some(_)) = (&entry.shape.host, &entry.destination) {
            wildcards
                .entry((suffix.as_str(), first_literal(&entry.shape.path)))
                .or_default()
                .push(i);
        }
    }
    let mut candidates: Vec<usize> = Vec::new();
    for narrow in entries.iter().filter(|e| e.destination.is_some()) {
        candidates.clear();
        let first = first_literal(&narrow.shape.path);
        for suffix in covering_suffixes(&narrow.shape.host) {
            candidates.extend(wildcards.get(&(suffix, None)).into_iter().flatten());
            match first {
                Some(_) => candidates.extend(wildcards.get(&(suffix, first)).into_iter().flatten()),
                None => candidates.extend(
                    wildcards
                        .iter()
                        .filter(|((s, f), _)| *s == suffix && f.is_some())
                        .flat_map(|(_, routes)| routes),
                ),
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        let split = candidates.iter().copied().find(|&a| {
            let wide = &entries[a];
            host_covers(&wide.shape.host, &narrow.shape.host)
                && wide.destination != narrow.destination
                && filters_overlap(&wide.shape, &narrow.shape)
                && paths_overlap(&wide.shape.path, &narrow.shape.path) == Some(true)
        });
        if let Some(a) = split {
            out.push(diagnostic(&entries[a], narrow));
        }
    }
}

/// The suffixes a wildcard covering `host` could have: for `a.b.c` or `*.a.b.c`, `b.c` and `c`
/// (a wildcard matches at least one label more than its suffix, so never the name itself).
fn covering_suffixes(host: &HostShape) -> Vec<&str> {
    let name = match host {
        HostShape::Exact(h) => h.as_str(),
        HostShape::Wildcard(s) => s.as_str(),
        HostShape::Any => return Vec::new(),
    };
    name.match_indices('.')
        .map(|(dot, _)| &name[dot + 1..])
        .filter(|suffix| !suffix.is_empty())
        .collect()
}

/// The first segment when it is literal (a parameter or the root prefix could be anything).
fn first_literal<'a>(path: &PathShape<'a>) -> Option<&'a str> {
    match path {
        PathShape::Segments(s) => match s.first() {
            Some(Segment::Literal(text)) => Some(text),
            _ => None,
        },
        PathShape::Prefix(p) => p.first().copied(),
        PathShape::Regex(_) => None,
    }
}

/// Where a route sends what it admits, in words: the services it forwards to or the topic it
/// produces to (`None` for a route that answers itself: a stub or maintenance answer per host is
/// a deliberate layout, and tests of host precedence look just like it).
fn destination(route: &ast::Route) -> Option<String> {
    route.statements.iter().find_map(|s| match s {
        ast::RouteStatement::Forward(f) => {
            let mut services: Vec<&str> =
                f.targets.iter().map(|t| t.service.node.as_str()).collect();
            services.sort_unstable();
            services.dedup();
            let names: Vec<String> = services.iter().map(|s| format!("`{s}`")).collect();
            Some(format!("service {}", names.join(" and ")))
        }
        ast::RouteStatement::Produce(p) => Some(match &p.topic {
            ast::TopicRef::Fixed(topic) => format!("Kafka topic \"{}\"", topic.node),
            ast::TopicRef::Param { param, .. } => {
                format!("the Kafka topic named by `{{{}}}`", param.node)
            }
        }),
        _ => None,
    })
}

/// `GET prefix "/officers"`, as the match reads.
fn requests(matcher: &ast::Match) -> String {
    let method = matcher.method.as_ref().map_or("*", |m| m.node.as_str());
    let kind = match matcher.path.kind {
        ast::PathKind::Prefix => "prefix ",
        ast::PathKind::Regex => "regex ",
        ast::PathKind::Exact => "",
    };
    format!("{method} {kind}\"{}\"", matcher.path.value.node)
}

fn host_text(shape: &HostShape) -> String {
    match shape {
        HostShape::Any => "any host".to_string(),
        HostShape::Exact(h) => format!("`{h}`"),
        HostShape::Wildcard(s) => format!("`*.{s}`"),
    }
}

fn diagnostic(wide: &Entry, narrow: &Entry) -> Diagnostic {
    let (narrow_host, wide_host) = (host_text(&narrow.shape.host), host_text(&wide.shape.host));
    let narrow_hosts = match narrow.shape.host {
        HostShape::Wildcard(_) => format!("hosts {narrow_host}"),
        _ => format!("host {narrow_host}"),
    };
    let narrow_to = narrow.destination.as_deref().unwrap_or("nowhere");
    let wide_to = wide.destination.as_deref().unwrap_or("nowhere");
    // The affected requests are those of the narrower path condition when one path covers the other.
    let affected = if super::route_shape::path_covers(&wide.shape.path, &narrow.shape.path) {
        requests(narrow.matcher)
    } else if super::route_shape::path_covers(&narrow.shape.path, &wide.shape.path) {
        requests(wide.matcher)
    } else {
        format!(
            "{} that also match {}",
            requests(narrow.matcher),
            requests(wide.matcher)
        )
    };
    Diagnostic::warning(
        &HOST_OVERLAP,
        format!(
            "{affected} requests go to {narrow_to} on {narrow_hosts} but to {wide_to} on every other {wide_host} host",
        ),
    )
    .with_label(
        narrow.matcher.span,
        format!("route `{}`: {narrow_hosts} → {narrow_to}", narrow.route.name.node),
    )
    .with_label(
        wide.matcher.span,
        format!("route `{}`: the rest of {wide_host} → {wide_to}", wide.route.name.node),
    )
    .with_help(format!(
        "which service answers depends on the Host a client writes; if {narrow_host} should not be special, send both to the same place; if it should, give route `{}` a path, method or header the wildcard route does not take",
        narrow.route.name.node
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covering_wildcards_are_strictly_shorter_suffixes() {
        let exact = HostShape::Exact("api.starfleet.test".into());
        assert_eq!(covering_suffixes(&exact), ["starfleet.test", "test"]);
        let wildcard = HostShape::Wildcard("eu.starfleet.test".into());
        assert_eq!(covering_suffixes(&wildcard), ["starfleet.test", "test"]);
        assert!(covering_suffixes(&HostShape::Any).is_empty());
    }
}
