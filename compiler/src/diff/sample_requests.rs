//! Requests that exercise a gateway's routes, built from the routes' own matches: for each
//! route a request it matches (a witness), and for each pair of routes one that tries to match
//! both (the first route's witness with the second's headers, query, method and host added).
//! [`super::route_answers`] runs every such request through both programs' matchers; where the
//! answers differ, the request is the sample shown to the reviewer.

use std::collections::BTreeSet;
use std::fmt;

use meshwork_bundle::{PathKind, Route};
use regex_syntax::hir::{Class, Hir, HirKind};

/// Beyond this many routes in one gateway, pairs are not combined (their number grows with the
/// square); single witnesses still cover every route.
pub const MAX_ROUTES_FOR_PAIRS: usize = 400;

/// One request, as routing sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SampleRequest {
    pub method: String,
    /// Without port; empty for none.
    pub host: String,
    pub path: String,
    /// Without `?`; empty for none.
    pub query: String,
    /// `(name, value)`, sorted by name.
    pub headers: Vec<(String, String)>,
}

impl fmt::Display for SampleRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.method)?;
        if !self.host.is_empty() {
            write!(f, "http://{}", self.host)?;
        }
        f.write_str(&self.path)?;
        if !self.query.is_empty() {
            write!(f, "?{}", self.query)?;
        }
        for (name, value) in &self.headers {
            write!(f, " [{name}: {value}]")?;
        }
        Ok(())
    }
}

/// A request `route` matches (or, for a regular expression the generator cannot satisfy, one
/// that is likely to).
pub fn witness(route: &Route) -> SampleRequest {
    let matcher = &route.matcher;
    let mut headers: Vec<(String, String)> = matcher
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), h.value.clone()))
        .collect();
    headers.sort();
    headers.dedup_by(|a, b| a.0 == b.0);
    SampleRequest {
        method: matcher.method.clone().unwrap_or_else(|| "GET".to_string()),
        host: matcher
            .host
            .as_deref()
            .map(|h| match h.strip_prefix("*.") {
                Some(rest) => format!("a.{rest}"),
                None => h.to_string(),
            })
            .unwrap_or_default(),
        path: witness_path(matcher.path.kind, &matcher.path.value),
        query: matcher
            .query
            .iter()
            .map(|q| format!("{}={}", encode_query(&q.name), encode_query(&q.value)))
            .collect::<Vec<_>>()
            .join("&"),
        headers,
    }
}

/// A path the path condition accepts: templates with `1` for each parameter, a prefix as it is.
fn witness_path(kind: PathKind, value: &str) -> String {
    match kind {
        PathKind::Exact | PathKind::Prefix => value.to_string(),
        PathKind::Template => value
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') && segment.ends_with('}') && segment.len() > 2 {
                    "1"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/"),
        PathKind::Regex => regex_witness(value).unwrap_or_else(|| "/".to_string()),
    }
}

/// A string the regular expression matches: the shortest choice at every step (first branch,
/// fewest repetitions, first character of a class).
fn regex_witness(pattern: &str) -> Option<String> {
    let hir = regex_syntax::parse(pattern).ok()?;
    let mut out = String::new();
    write_witness(&hir, &mut out)?;
    Some(out)
}

fn write_witness(hir: &Hir, out: &mut String) -> Option<()> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(literal) => out.push_str(std::str::from_utf8(&literal.0).ok()?),
        HirKind::Class(Class::Unicode(class)) => {
            let range = class.ranges().first()?;
            // Prefer a visible character inside the range, so the sample reads well.
            let c = ('a'..='z')
                .chain('0'..='9')
                .find(|c| range.start() <= *c && *c <= range.end())
                .unwrap_or(range.start());
            out.push(c);
        }
        HirKind::Class(Class::Bytes(class)) => {
            let range = class.ranges().first()?;
            out.push(char::from(range.start()));
        }
        HirKind::Repetition(repetition) => {
            for _ in 0..repetition.min {
                write_witness(&repetition.sub, out)?;
            }
        }
        HirKind::Capture(capture) => write_witness(&capture.sub, out)?,
        HirKind::Concat(parts) => {
            for part in parts {
                write_witness(part, out)?;
            }
        }
        HirKind::Alternation(branches) => write_witness(branches.first()?, out)?,
    }
    Some(())
}

fn encode_query(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `base` with what `other` needs added, unless the two disagree on a header or query value.
fn combine(base: &SampleRequest, other: &Route) -> Option<SampleRequest> {
    let extra = witness(other);
    let mut combined = base.clone();
    for (name, value) in extra.headers {
        match combined.headers.iter().find(|(n, _)| *n == name) {
            Some((_, existing)) if *existing != value => return None,
            Some(_) => {}
            None => combined.headers.push((name, value)),
        }
    }
    combined.headers.sort();
    if !extra.query.is_empty() {
        let mut pairs: Vec<&str> = combined
            .query
            .split('&')
            .filter(|p| !p.is_empty())
            .collect();
        for pair in extra.query.split('&') {
            let name = pair.split('=').next().unwrap_or("");
            match pairs.iter().find(|p| p.split('=').next() == Some(name)) {
                Some(existing) if *existing != pair => return None,
                Some(_) => {}
                None => pairs.push(pair),
            }
        }
        combined.query = pairs.join("&");
    }
    if other.matcher.method.is_some() && base.method == "GET" {
        combined.method = extra.method;
    }
    if combined.host.is_empty() {
        combined.host = extra.host;
    }
    Some(combined)
}

/// Every sample for routes given (one gateway's routes of both programs): each witness, a
/// prefix's witness one segment deeper, and pairwise combinations. Sorted, without duplicates.
pub fn samples(routes: &[&Route]) -> Vec<SampleRequest> {
    let mut out = BTreeSet::new();
    for route in routes {
        let base = witness(route);
        if route.matcher.path.kind == PathKind::Prefix {
            let mut deeper = base.clone();
            deeper.path = format!("{}/x", deeper.path.trim_end_matches('/'));
            out.insert(deeper);
        }
        if routes.len() <= MAX_ROUTES_FOR_PAIRS {
            for other in routes {
                if let Some(combined) = combine(&base, other) {
                    out.insert(combined);
                }
            }
        }
        out.insert(base);
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshwork_bundle::sample::starfleet_bundle;

    #[test]
    fn a_witness_fills_templates_hosts_headers_and_query() {
        let bundle = starfleet_bundle();
        let officers = &bundle.gateways[0].routes[0];
        assert_eq!(
            witness(officers).to_string(),
            "GET http://api.starfleet.test/officers/1?v=2 [x-ship: enterprise]"
        );
    }

    #[test]
    fn regular_expressions_get_a_matching_path() {
        for pattern in [r"/ships/[0-9]+/deck", r"/(a|bc)/x{2,}", r"/v\d/.*"] {
            let path = regex_witness(pattern).expect("a witness");
            let anchored = regex::Regex::new(&format!("^(?:{pattern})$")).unwrap();
            assert!(anchored.is_match(&path), "{pattern}: {path}");
        }
    }

    #[test]
    fn pairs_disagreeing_on_a_header_value_are_not_combined() {
        let bundle = starfleet_bundle();
        let officers = &bundle.gateways[0].routes[0];
        let mut other = officers.clone();
        other.matcher.headers[0].value = "defiant".to_string();
        assert!(combine(&witness(officers), &other).is_none());
    }
}
