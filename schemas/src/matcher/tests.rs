//! Behaviour of the whole matcher: precedence, parameters, segment boundaries, trailing slashes,
//! percent-encoding, hosts, filters and 405 allow lists; plus a property test against a linear scan.

use proptest::prelude::*;

use super::*;
use crate::types::bundle::SourceLocation;
use crate::types::gateway::{EscapedSlashes, PathPolicy};
use crate::types::route::{NameValue, PathKind, PathMatch, Route, RouteAction, RouteMatch};

/// A route from a compact spec: `"GET /a/{id}"`, `"* prefix /api"`, `"POST regex ^/x$"`.
fn route(name: &str, spec: &str) -> Route {
    let (method, rest) = spec.split_once(' ').unwrap();
    let (kind, value) = match rest.split_once(' ') {
        Some(("prefix", v)) => (PathKind::Prefix, v),
        Some(("regex", v)) => (PathKind::Regex, v),
        _ if rest.contains('{') => (PathKind::Template, rest),
        _ => (PathKind::Exact, rest),
    };
    Route {
        name: name.to_string(),
        matcher: RouteMatch {
            method: (method != "*").then(|| method.to_string()),
            path: PathMatch {
                kind,
                value: value.to_string(),
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
            file: "t.mesh".to_string(),
            line: 1,
            column: 1,
        },
    }
}

fn hosted(mut r: Route, host: &str) -> Route {
    r.matcher.host = Some(host.to_string());
    r
}

fn with_header(mut r: Route, name: &str, value: &str) -> Route {
    r.matcher.headers.push(NameValue {
        name: name.to_string(),
        value: value.to_string(),
    });
    r
}

fn with_query(mut r: Route, name: &str, value: &str) -> Route {
    r.matcher.query.push(NameValue {
        name: name.to_string(),
        value: value.to_string(),
    });
    r
}

fn table(routes: &[Route]) -> RouteTable {
    RouteTable::new(routes).unwrap()
}

/// The name of the route `find` picks for `method path` on any host, or `404` / `405 A,B`.
fn pick(routes: &[Route], method: &str, path: &str) -> String {
    pick_target(routes, &RequestTarget::new(method, "", path))
}

fn pick_target(routes: &[Route], target: &RequestTarget<'_>) -> String {
    match table(routes).find(target) {
        MatchOutcome::Matched { route, .. } => routes[route].name.clone(),
        MatchOutcome::MethodMismatch { allow, .. } => format!("405 {}", allow.join(",")),
        MatchOutcome::NotFound => "404".to_string(),
    }
}

#[test]
fn the_first_route_in_the_given_order_wins() {
    let routes = [route("first", "* prefix /"), route("second", "GET /a")];
    assert_eq!(pick(&routes, "GET", "/a"), "first");
    let routes = [route("exact", "GET /a"), route("all", "* prefix /")];
    assert_eq!(pick(&routes, "GET", "/a"), "exact");
    assert_eq!(pick(&routes, "GET", "/b"), "all");
}

#[test]
fn order_decides_between_a_template_and_a_literal_in_the_same_trie() {
    let routes = [route("tpl", "GET /u/{id}"), route("me", "GET /u/me")];
    assert_eq!(pick(&routes, "GET", "/u/me"), "tpl");
    let routes = [route("me", "GET /u/me"), route("tpl", "GET /u/{id}")];
    assert_eq!(pick(&routes, "GET", "/u/me"), "me");
    assert_eq!(pick(&routes, "GET", "/u/7"), "tpl");
}

#[test]
fn a_failed_literal_branch_falls_back_to_the_parameter_branch() {
    let routes = [route("deep", "GET /a/b/c"), route("tpl", "GET /a/{x}/d")];
    assert_eq!(pick(&routes, "GET", "/a/b/d"), "tpl");
}

#[test]
fn templates_capture_one_non_empty_segment_each() {
    let routes = [route("o", "GET /officers/{id}/log/{entry}")];
    let t = table(&routes);
    let target = RequestTarget::new("GET", "", "/officers/picard/log/42");
    let MatchOutcome::Matched { route, params } = t.find(&target) else {
        panic!("no match");
    };
    assert_eq!(route, 0);
    assert_eq!(params.get("id"), Some("picard"));
    assert_eq!(params.get("entry"), Some("42"));
    assert_eq!(
        params.iter().collect::<Vec<_>>(),
        [("id", "picard"), ("entry", "42")]
    );
    assert_eq!(pick(&routes, "GET", "/officers//log/42"), "404");
    assert_eq!(pick(&routes, "GET", "/officers/a/b/log/42"), "404");
}

#[test]
fn parameter_names_come_from_the_route_that_matched() {
    let routes = [
        with_header(route("by_name", "GET /u/{name}"), "x-v", "1"),
        route("by_id", "GET /u/{id}"),
    ];
    let t = table(&routes);
    let target = RequestTarget::new("GET", "", "/u/7");
    let MatchOutcome::Matched { route, params } = t.find(&target) else {
        panic!("no match");
    };
    assert_eq!(route, 1);
    assert_eq!(params.get("id"), Some("7"));
    assert_eq!(params.get("name"), None);
}

#[test]
fn braces_inside_a_segment_are_literal() {
    let routes = [route("f", "GET /f/x{id}")];
    assert_eq!(pick(&routes, "GET", "/f/x{id}"), "f");
    assert_eq!(pick(&routes, "GET", "/f/x1"), "404");
}

#[test]
fn a_prefix_matches_whole_segments_only() {
    let routes = [route("api", "* prefix /api")];
    assert_eq!(pick(&routes, "GET", "/api"), "api");
    assert_eq!(pick(&routes, "GET", "/api/"), "api");
    assert_eq!(pick(&routes, "GET", "/api/v1/x"), "api");
    assert_eq!(pick(&routes, "GET", "/apiv1"), "404");
    assert_eq!(pick(&routes, "GET", "/ap"), "404");
    assert_eq!(pick(&routes, "GET", "/"), "404");
}

#[test]
fn a_prefix_ignores_its_own_trailing_slash() {
    let routes = [route("api", "* prefix /api/")];
    assert_eq!(pick(&routes, "GET", "/api"), "api");
    assert_eq!(pick(&routes, "GET", "/api/x"), "api");
    assert_eq!(pick(&routes, "GET", "/apix"), "404");
}

#[test]
fn the_root_prefix_matches_everything() {
    let routes = [route("all", "* prefix /")];
    for path in ["/", "/a", "/a/b/", "//"] {
        assert_eq!(pick(&routes, "GET", path), "all", "{path}");
    }
}

#[test]
fn the_longer_prefix_listed_first_wins() {
    let routes = [
        route("v1", "* prefix /api/v1"),
        route("api", "* prefix /api"),
    ];
    assert_eq!(pick(&routes, "GET", "/api/v1/x"), "v1");
    assert_eq!(pick(&routes, "GET", "/api/v2"), "api");
}

#[test]
fn trailing_slashes_are_significant_for_exact_and_template_paths() {
    let routes = [route("a", "GET /a"), route("t", "GET /t/{id}")];
    assert_eq!(pick(&routes, "GET", "/a"), "a");
    assert_eq!(pick(&routes, "GET", "/a/"), "404");
    assert_eq!(pick(&routes, "GET", "/t/1/"), "404");
    assert_eq!(pick(&routes, "GET", "/t/"), "404");
    let routes = [route("slash", "GET /a/")];
    assert_eq!(pick(&routes, "GET", "/a/"), "slash");
    assert_eq!(pick(&routes, "GET", "/a"), "404");
    let routes = [route("root", "GET /")];
    assert_eq!(pick(&routes, "GET", "/"), "root");
    assert_eq!(pick(&routes, "GET", "/x"), "404");
}

#[test]
fn normalized_request_paths_reach_the_routes_they_name() {
    let routes = [route("admin", "GET /admin"), route("all", "* prefix /")];
    for raw in ["/%61dmin", "/x/../admin", "/./admin", "/x/%2e%2e/admin"] {
        let path = normalize_path(raw).unwrap();
        assert_eq!(pick(&routes, "GET", &path), "admin", "{raw}");
    }
    // An encoded slash is refused by default; kept, it stays inside one segment.
    assert!(normalize_path("/ad%2Fmin").is_err());
    let keep = PathPolicy {
        escaped_slashes: EscapedSlashes::Keep,
        ..PathPolicy::default()
    };
    let kept = RouteTable::with_path_policy(&routes, &keep).unwrap();
    let path = kept.normalize("/ad%2fmin").unwrap();
    assert_eq!(path, "/ad%2Fmin");
    let MatchOutcome::Matched { route, .. } = kept.find(&RequestTarget::new("GET", "", &path))
    else {
        panic!("no match");
    };
    assert_eq!(routes[route].name, "all");
}

#[test]
fn route_paths_are_normalized_like_request_paths() {
    let routes = [
        route("cafe", "GET /caf%c3%a9"),
        route("tilde", "GET /%7Euser"),
    ];
    assert_eq!(pick(&routes, "GET", "/caf%C3%A9"), "cafe");
    assert_eq!(pick(&routes, "GET", "/~user"), "tilde");
}

#[test]
fn an_encoded_slash_stays_inside_one_captured_segment() {
    let routes = [route("f", "GET /files/{name}")];
    let keep = PathPolicy {
        escaped_slashes: EscapedSlashes::Keep,
        ..PathPolicy::default()
    };
    let t = RouteTable::with_path_policy(&routes, &keep).unwrap();
    let path = t.normalize("/files/a%2fb").unwrap();
    let target = RequestTarget::new("GET", "", &path);
    let MatchOutcome::Matched { params, .. } = t.find(&target) else {
        panic!("no match");
    };
    assert_eq!(params.get("name"), Some("a%2Fb"));
}

#[test]
fn regexes_match_the_whole_path_and_name_their_groups() {
    let routes = [route("r", "GET regex /v(?P<major>[0-9]+)/.*")];
    let t = table(&routes);
    let target = RequestTarget::new("GET", "", "/v2/things");
    let MatchOutcome::Matched { params, .. } = t.find(&target) else {
        panic!("no match");
    };
    assert_eq!(params.get("major"), Some("2"));
    assert_eq!(pick(&routes, "GET", "/x/v2/things"), "404");
    let routes = [route("r", "GET regex /a")];
    assert_eq!(pick(&routes, "GET", "/ab"), "404");
    assert_eq!(pick(&routes, "GET", "/a"), "r");
}

#[test]
fn regex_routes_keep_their_place_in_the_order() {
    let routes = [
        route("rx", "* regex /a/.*"),
        route("pre", "* prefix /a"),
        route("rx2", "* regex /b/.*"),
    ];
    assert_eq!(pick(&routes, "GET", "/a/1"), "rx");
    assert_eq!(pick(&routes, "GET", "/a"), "pre");
    assert_eq!(pick(&routes, "GET", "/b/1"), "rx2");
}

#[test]
fn hosts_match_case_insensitively_without_trailing_dot() {
    let routes = [
        hosted(route("api", "GET /"), "api.example.com"),
        route("any", "GET /"),
    ];
    let on = |host| pick_target(&routes, &RequestTarget::new("GET", host, "/"));
    assert_eq!(on("api.example.com"), "api");
    assert_eq!(on("API.Example.COM."), "api");
    assert_eq!(on("other.example.com"), "any");
    assert_eq!(on(""), "any");
}

#[test]
fn a_wildcard_host_matches_one_or_more_labels_but_not_the_bare_domain() {
    let routes = [hosted(route("w", "GET /"), "*.example.com")];
    let on = |host| pick_target(&routes, &RequestTarget::new("GET", host, "/"));
    assert_eq!(on("a.example.com"), "w");
    assert_eq!(on("a.b.example.com"), "w");
    assert_eq!(on("example.com"), "404");
    assert_eq!(on("aexample.com"), "404");
    assert_eq!(on(".example.com"), "404");
}

#[test]
fn an_exact_host_beats_a_wildcard_which_beats_any_host_in_precedence_order() {
    let routes = [
        hosted(route("exact", "GET /"), "a.example.com"),
        hosted(route("long", "GET /"), "*.b.example.com"),
        hosted(route("wild", "GET /"), "*.example.com"),
        route("any", "GET /"),
    ];
    let on = |host| pick_target(&routes, &RequestTarget::new("GET", host, "/"));
    assert_eq!(on("a.example.com"), "exact");
    assert_eq!(on("x.b.example.com"), "long");
    assert_eq!(on("c.example.com"), "wild");
    assert_eq!(on("c.example.org"), "any");
}

#[test]
fn a_later_host_specific_route_loses_to_an_earlier_any_host_route() {
    // The table follows the order it is given, whatever the kind of host.
    let routes = [route("any", "GET /"), hosted(route("h", "GET /"), "a.io")];
    assert_eq!(
        pick_target(&routes, &RequestTarget::new("GET", "a.io", "/")),
        "any"
    );
}

#[test]
fn methods_filter_and_a_route_without_one_takes_any() {
    let routes = [route("get", "GET /a"), route("any", "* /a")];
    assert_eq!(pick(&routes, "GET", "/a"), "get");
    assert_eq!(pick(&routes, "DELETE", "/a"), "any");
    assert_eq!(pick(&[route("get", "GET /a")], "get", "/a"), "405 GET");
}

#[test]
fn wrong_methods_get_405_with_every_allowed_method_sorted() {
    let routes = [
        route("put", "PUT /a/{id}"),
        route("get", "GET /a/{id}"),
        route("get2", "GET /a/{x}"),
        route("other", "POST /b"),
    ];
    assert_eq!(pick(&routes, "DELETE", "/a/1"), "405 GET,PUT");
    assert_eq!(pick(&routes, "DELETE", "/c"), "404");
}

#[test]
fn a_405_only_counts_routes_whose_headers_and_query_match() {
    let routes = [with_header(route("h", "GET /a"), "x-v", "1")];
    assert_eq!(pick(&routes, "POST", "/a"), "404");
    let headers = [("X-V", "1")];
    let lookup = HeaderPairs(&headers);
    let target = RequestTarget::new("POST", "", "/a").with_headers(&lookup);
    assert_eq!(pick_target(&routes, &target), "405 GET");
}

#[test]
fn header_conditions_compare_names_case_insensitively_and_values_exactly() {
    let routes = [
        with_header(route("v2", "GET /a"), "X-Version", "2"),
        route("plain", "GET /a"),
    ];
    let with = |value| {
        let headers = [("x-version", value)];
        let lookup = HeaderPairs(&headers);
        pick_target(
            &routes,
            &RequestTarget::new("GET", "", "/a").with_headers(&lookup),
        )
    };
    assert_eq!(with("2"), "v2");
    assert_eq!(with("20"), "plain");
    assert_eq!(pick(&routes, "GET", "/a"), "plain");
}

#[test]
fn every_query_condition_must_hold() {
    let routes = [
        with_query(with_query(route("both", "GET /a"), "v", "2"), "q", "a b"),
        with_query(route("v", "GET /a"), "v", "2"),
        route("plain", "GET /a"),
    ];
    let with = |query| {
        pick_target(
            &routes,
            &RequestTarget::new("GET", "", "/a").with_query(query),
        )
    };
    assert_eq!(with("v=2&q=a%20b"), "both");
    assert_eq!(with("x=1&v=2"), "v");
    assert_eq!(with("v=3"), "plain");
}

#[test]
fn matching_routes_lists_every_match_in_precedence_order() {
    let routes = [
        route("exact", "GET /a/b"),
        route("tpl", "GET /a/{x}"),
        route("post", "POST /a/b"),
        route("pre", "* prefix /a"),
        route("rx", "* regex /a/.*"),
        route("all", "* prefix /"),
    ];
    let t = table(&routes);
    assert_eq!(
        t.matching_routes(&RequestTarget::new("GET", "", "/a/b")),
        [0, 1, 3, 4, 5]
    );
    assert_eq!(t.matching_routes(&RequestTarget::new("GET", "", "/z")), [5]);
}

#[test]
fn bad_routes_are_refused_with_the_route_named() {
    let cases = [
        (route("r", "GET regex (unclosed"), "does not compile"),
        (route("r", "GET a/b"), "does not start with"),
        (route("r", "GET /a%zz"), "malformed percent"),
        (route("r", "GET /a/{x}/{x}"), "twice"),
        (hosted(route("r", "GET /"), "a.*.com"), "first label"),
    ];
    for (bad, message) in cases {
        let error = RouteTable::new(&[route("ok", "GET /"), bad]).unwrap_err();
        assert_eq!(error.route, "r");
        assert!(error.to_string().contains(message), "{error}");
    }
}

#[test]
fn an_empty_table_finds_nothing() {
    let t = table(&[]);
    assert!(t.is_empty());
    assert_eq!(
        t.find(&RequestTarget::new("GET", "", "/")),
        MatchOutcome::NotFound
    );
    assert_eq!(
        t.find(&RequestTarget::new("GET", "", "not-a-path")),
        MatchOutcome::NotFound
    );
}

/// The reference: test each route in order, the obvious way.
fn linear_scan(routes: &[Route], target: &RequestTarget<'_>) -> Option<usize> {
    let host = normalize_host(target.host);
    routes.iter().position(|r| {
        let m = &r.matcher;
        let host_ok = match m.host.as_deref() {
            None => true,
            Some(h) if h.starts_with("*.") => host.ends_with(&h[1..]) && host.len() > h.len() - 1,
            Some(h) => *h == *host,
        };
        let method_ok = m.method.as_deref().is_none_or(|x| x == target.method);
        let path_ok = match m.path.kind {
            PathKind::Exact => m.path.value == target.path,
            PathKind::Template => {
                let want: Vec<&str> = m.path.value.split('/').collect();
                let got: Vec<&str> = target.path.split('/').collect();
                want.len() == got.len()
                    && want.iter().zip(&got).all(|(w, g)| {
                        if w.starts_with('{') && w.ends_with('}') && w.len() > 2 {
                            !g.is_empty()
                        } else {
                            w == g
                        }
                    })
            }
            PathKind::Prefix => {
                let p = m.path.value.strip_suffix('/').unwrap_or(&m.path.value);
                target.path == p || target.path.starts_with(&format!("{p}/")) || p.is_empty()
            }
            PathKind::Regex => regex::Regex::new(&format!("^(?:{})$", m.path.value))
                .unwrap()
                .is_match(target.path),
        };
        host_ok && method_ok && path_ok
    })
}

fn arb_segment() -> impl Strategy<Value = String> {
    prop_oneof![Just("a"), Just("b"), Just("c"), Just("")].prop_map(str::to_string)
}

fn arb_route() -> impl Strategy<Value = Route> {
    let path = prop::collection::vec(
        prop_oneof![
            3 => arb_segment(),
            1 => Just("{p}".to_string()),
        ],
        1..4,
    );
    (
        prop_oneof![Just("*"), Just("GET"), Just("POST")],
        prop_oneof![Just("exact"), Just("prefix"), Just("regex")],
        path,
        prop_oneof![Just(None), Just(Some("x.io")), Just(Some("*.io"))],
    )
        .prop_map(|(method, kind, segments, host)| {
            let mut used = 0;
            let segments: Vec<String> = segments
                .into_iter()
                .map(|s| {
                    if s == "{p}" {
                        used += 1;
                        format!("{{p{used}}}")
                    } else {
                        s
                    }
                })
                .collect();
            let path = format!("/{}", segments.join("/"));
            let spec = match kind {
                "prefix" => format!("{method} prefix {}", path.replace(['{', '}'], "")),
                "regex" => format!("{method} regex {}.*", path.replace(['{', '}'], "")),
                _ => format!("{method} {path}"),
            };
            let mut r = route("r", &spec);
            r.matcher.host = host.map(str::to_string);
            r
        })
}

proptest! {
    #[test]
    fn find_agrees_with_a_linear_scan(
        routes in prop::collection::vec(arb_route(), 0..24),
        segments in prop::collection::vec(arb_segment(), 1..5),
        method in prop_oneof![Just("GET"), Just("POST")],
        host in prop_oneof![Just(""), Just("x.io"), Just("y.io"), Just("a.x.io")],
    ) {
        let path = format!("/{}", segments.join("/"));
        let target = RequestTarget::new(method, host, &path);
        // Empty segments are generated on purpose: the trie must treat them as the linear scan
        // does, so slashes are not merged here.
        let policy = PathPolicy { merge_slashes: false, ..PathPolicy::default() };
        let t = RouteTable::with_path_policy(&routes, &policy).unwrap();
        let found = match t.find(&target) {
            MatchOutcome::Matched { route, .. } => Some(route),
            _ => None,
        };
        prop_assert_eq!(found, linear_scan(&routes, &target));
        let all = t.matching_routes(&target);
        prop_assert_eq!(all.first().copied(), found);
    }
}
