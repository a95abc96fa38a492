//! The Kubernetes Gateway API's HTTPRouteMatch rules, one test per rule, each citing the text it
//! checks (`apis/v1/httproute_types.go`), and the route-matching cases of the Gateway API
//! conformance suite (`conformance/tests/httproute-*.yaml` and `.go`) replayed against the shared
//! matcher with the routes sorted by [`crate::precedence`], as `meshc` sorts them.
//!
//! The suite's `HTTPRouteRule` with several `matches` (OR-ed) is written as several routes with
//! the same backend; a route's name here is its backend (`v1`, `v2`, `v3`). A request the spec
//! answers with 404 is `"404"`: both [`MatchOutcome::NotFound`] and
//! [`MatchOutcome::MethodMismatch`] are a 404 on a gateway that keeps the default.

use super::*;
use crate::precedence::sort_by_precedence;
use crate::types::bundle::SourceLocation;
use crate::types::route::{NameValue, PathKind, PathMatch, Route, RouteAction, RouteMatch};

/// One match of a rule: `"[METHOD] [prefix|exact|regex] PATH"` (no method: any; no kind:
/// prefix, the Gateway API default), then header and query conditions and a host.
struct Rule {
    backend: &'static str,
    spec: &'static str,
    headers: &'static [(&'static str, &'static str)],
    query: &'static [(&'static str, &'static str)],
    host: Option<&'static str>,
}

const fn rule(backend: &'static str, spec: &'static str) -> Rule {
    Rule {
        backend,
        spec,
        headers: &[],
        query: &[],
        host: None,
    }
}

impl Rule {
    const fn headers(mut self, headers: &'static [(&'static str, &'static str)]) -> Rule {
        self.headers = headers;
        self
    }

    const fn query(mut self, query: &'static [(&'static str, &'static str)]) -> Rule {
        self.query = query;
        self
    }

    const fn host(mut self, host: &'static str) -> Rule {
        self.host = Some(host);
        self
    }

    fn route(&self, line: u32) -> Route {
        let mut words: Vec<&str> = self.spec.split_whitespace().collect();
        let method = match words.first() {
            Some(w) if w.chars().all(|c| c.is_ascii_uppercase()) => Some(words.remove(0)),
            _ => None,
        };
        let (kind, value) = match words.as_slice() {
            [] => (PathKind::Prefix, "/"),
            ["exact", v] => (PathKind::Exact, *v),
            ["regex", v] => (PathKind::Regex, *v),
            ["prefix", v] | [v] => (PathKind::Prefix, *v),
            other => panic!("bad spec {other:?}"),
        };
        let pairs = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(n, v)| NameValue {
                    name: n.to_string(),
                    value: v.to_string(),
                })
                .collect()
        };
        Route {
            name: self.backend.to_string(),
            matcher: RouteMatch {
                method: method.map(str::to_string),
                path: PathMatch {
                    kind,
                    value: value.to_string(),
                    params: Vec::new(),
                },
                host: self.host.map(str::to_string),
                headers: pairs(self.headers),
                query: pairs(self.query),
            },
            public: true,
            admission: Vec::new(),
            action: RouteAction::Respond {
                status: 200,
                body: String::new(),
                content_type: "text/plain".to_string(),
            },
            source: SourceLocation {
                file: "conformance.mesh".to_string(),
                line,
                column: 1,
            },
        }
    }
}

/// A gateway whose routes are `rules` in declaration order, sorted by precedence.
struct Gateway {
    routes: Vec<Route>,
    table: RouteTable,
}

impl Gateway {
    fn new(rules: &[Rule]) -> Gateway {
        let mut routes: Vec<Route> = (1..).zip(rules).map(|(line, r)| r.route(line)).collect();
        sort_by_precedence(&mut routes);
        let table = RouteTable::new(&routes).expect("the conformance routes compile");
        Gateway { routes, table }
    }

    /// The backend that answers, or `"404"`. `target` is `"METHOD host /path?query"`.
    fn send(&self, target: &str, headers: &[(&str, &str)]) -> String {
        let (method, rest) = target.split_once(' ').expect("METHOD …");
        let (host, uri) = rest.split_once(' ').unwrap_or(("", rest));
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        let path = normalize_path(path).expect("a valid path");
        let lookup = HeaderPairs(headers);
        let request = RequestTarget::new(method, host, &path)
            .with_query(query)
            .with_headers(&lookup);
        let backend = match self.table.find(&request) {
            MatchOutcome::Matched { route, .. } => self.routes[route].name.clone(),
            MatchOutcome::MethodMismatch { .. } | MatchOutcome::NotFound => "404".to_string(),
        };
        backend
    }
}

/// Request headers as `(name, value)` pairs.
type Headers<'a> = &'a [(&'a str, &'a str)];

/// Asserts every `(request, headers, expected)` case against `gateway`.
fn expect(gateway: &Gateway, cases: &[(&str, Headers, &str)]) {
    for (target, headers, expected) in cases {
        assert_eq!(
            gateway.send(target, headers),
            *expected,
            "{target} {headers:?}"
        );
    }
}

const NONE: &[(&str, &str)] = &[];

// --- HTTPRouteMatch rules ------------------------------------------------------------------

/// `PathMatchExact`: "Matches the URL path exactly and with case sensitivity. This means that an
/// exact path match on `/abc` will only match requests to `/abc`, NOT `/abc/`, `/Abc`, or `/abcd`."
#[test]
fn exact_paths_are_case_sensitive_and_trailing_slashes_count() {
    let g = Gateway::new(&[rule("abc", "exact /abc")]);
    expect(
        &g,
        &[
            ("GET /abc", NONE, "abc"),
            ("GET /abc/", NONE, "404"),
            ("GET /Abc", NONE, "404"),
            ("GET /abcd", NONE, "404"),
        ],
    );
}

/// `PathMatchPathPrefix`: "Matches based on a URL path prefix split by `/`. Matching is
/// case-sensitive and done on a path element by element basis. […] When specified, a trailing `/`
/// is ignored. For example, the paths `/abc`, `/abc/`, and `/abc/def` would all match the prefix
/// `/abc`, but the path `/abcd` would not."
#[test]
fn prefixes_match_whole_segments_and_ignore_their_trailing_slash() {
    for prefix in ["prefix /abc", "prefix /abc/"] {
        let g = Gateway::new(&[rule("abc", prefix)]);
        expect(
            &g,
            &[
                ("GET /abc", NONE, "abc"),
                ("GET /abc/", NONE, "abc"),
                ("GET /abc/def", NONE, "abc"),
                ("GET /abcd", NONE, "404"),
                ("GET /Abc", NONE, "404"),
            ],
        );
    }
}

/// `PathMatchRegularExpression`: "Matches if the URL path matches the given regular expression
/// with case sensitivity" (the dialect and anchoring are implementation-specific). Meshwork
/// matches the whole path, as Envoy's `safe_regex` does: `/v[0-9]` never matches `/v1/x`.
#[test]
fn regexes_match_the_whole_path_case_sensitively() {
    let g = Gateway::new(&[rule("v", "regex /v[0-9]+")]);
    expect(
        &g,
        &[
            ("GET /v12", NONE, "v"),
            ("GET /v1/x", NONE, "404"),
            ("GET /x/v1", NONE, "404"),
            ("GET /V1", NONE, "404"),
        ],
    );
}

/// `HTTPHeaderMatch.Name`: "Name matching MUST be case-insensitive." Values are exact.
#[test]
fn header_names_are_case_insensitive_and_values_exact() {
    let g = Gateway::new(&[rule("v1", "/").headers(&[("Version", "one")])]);
    expect(
        &g,
        &[
            ("GET /", &[("version", "one")], "v1"),
            ("GET /", &[("VERSION", "one")], "v1"),
            ("GET /", &[("version", "One")], "404"),
        ],
    );
}

/// `HTTPHeaderMatch.Name`: "If multiple entries specify equivalent header names, only the first
/// entry with an equivalent name MUST be considered for a match. Subsequent entries with an
/// equivalent header name MUST be ignored. Due to the case-insensitivity of header names, "foo"
/// and "Foo" are considered equivalent."
#[test]
fn only_the_first_of_two_equivalent_header_names_counts() {
    let g = Gateway::new(&[rule("first", "/").headers(&[("foo", "a"), ("Foo", "b")])]);
    expect(
        &g,
        &[
            ("GET /", &[("foo", "a")], "first"),
            ("GET /", &[("foo", "b")], "404"),
        ],
    );
}

/// `HTTPHeaderMatch.Name`: "When a header is repeated in an HTTP request, […] proxies should
/// follow the guidance from the RFC" (RFC 7230 §3.2.2, now RFC 9110 §5.3): the lines are one
/// value joined by commas, so two lines `a` and `b` are `a, b` (as CEL conditions read them).
#[test]
fn a_header_repeated_in_the_request_is_its_comma_joined_value() {
    let g = Gateway::new(&[
        rule("ab", "/").headers(&[("x", "a, b")]),
        rule("a", "/").headers(&[("x", "a")]),
    ]);
    expect(
        &g,
        &[
            ("GET /", &[("x", "a"), ("X", "b")], "ab"),
            ("GET /", &[("x", "a")], "a"),
            ("GET /", &[("x", "b"), ("x", "a")], "404"),
        ],
    );
}

/// `HTTPQueryParamMatch.Name`: "This must be an exact string match" (names and values are
/// case-sensitive), and "If multiple entries specify equivalent query param names, only the first
/// entry with an equivalent name MUST be considered for a match."
#[test]
fn query_names_are_exact_and_only_the_first_equivalent_entry_counts() {
    let g = Gateway::new(&[rule("first", "/").query(&[("v", "1"), ("v", "2")])]);
    expect(
        &g,
        &[
            ("GET /?v=1", NONE, "first"),
            ("GET /?v=2", NONE, "404"),
            ("GET /?V=1", NONE, "404"),
            ("GET /?V=9&v=1", NONE, "first"),
        ],
    );
    let g = Gateway::new(&[rule("upper", "/").query(&[("v", "1"), ("V", "2")])]);
    expect(
        &g,
        &[("GET /?v=1&V=2", NONE, "upper"), ("GET /?v=1", NONE, "404")],
    );
}

/// `HTTPQueryParamMatch.Name`: "If a query param is repeated in an HTTP request, […] it is
/// *recommended* that implementations should match against the first value of the param".
#[test]
fn a_query_parameter_repeated_in_the_request_counts_with_its_first_value() {
    let g = Gateway::new(&[rule("two", "/").query(&[("v", "2")])]);
    expect(
        &g,
        &[
            ("GET /?v=2&v=1", NONE, "two"),
            ("GET /?v=1&v=2", NONE, "404"),
        ],
    );
}

/// `HTTPRouteMatch.Method`: "When specified, this route will be matched only if the request has
/// the specified method", and `HTTPRouteRule.Matches`: "When no rules matching a request have been
/// successfully attached to the parent a request is coming from, a HTTP 404 status code MUST be
/// returned." A path that matches with the wrong method is a 404, and the outcome still names
/// the route that would have matched, for `meshc explain`.
#[test]
fn a_method_mismatch_is_a_404_that_names_the_routes_that_would_match() {
    let g = Gateway::new(&[
        rule("get", "GET exact /ping"),
        rule("put", "PUT exact /ping"),
    ]);
    expect(
        &g,
        &[("DELETE /ping", NONE, "404"), ("GET /ping", NONE, "get")],
    );
    let outcome = g.table.find(&RequestTarget::new("DELETE", "", "/ping"));
    let MatchOutcome::MethodMismatch { allow, routes } = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(allow, ["GET", "PUT"]);
    let names: Vec<&str> = routes.iter().map(|r| g.routes[*r].name.as_str()).collect();
    assert_eq!(names, ["get", "put"]);
}

/// `HTTPRouteRule.Matches` precedence: "* "Exact" path match. * "Prefix" path match with largest
/// number of characters. * Method match. * Largest number of header matches. * Largest number of
/// query param matches." A repeated header name is one header match: the later entries are
/// ignored, so they do not lift a route above another.
#[test]
fn a_repeated_header_name_counts_once_in_precedence() {
    let g = Gateway::new(&[
        rule("declared_first", "/").headers(&[("x", "a")]),
        rule("repeated", "/").headers(&[("x", "a"), ("X", "b")]),
    ]);
    expect(&g, &[("GET /", &[("x", "a")], "declared_first")]);
}

/// `HTTPRouteSpec.Hostnames`: "precedence must be given to rules from the HTTPRoute with the
/// largest number of: * Characters in a matching non-wildcard hostname. * Characters in a matching
/// hostname." Hostname precedence comes before the path rules; `*.example.com` matches
/// `test.example.com` and `foo.test.example.com` "but not `example.com`"; a port is ignored.
#[test]
fn host_specificity_ranks_before_the_path() {
    let g = Gateway::new(&[
        rule("any", "exact /foo"),
        rule("wild", "/").host("*.example.com"),
        rule("longer_wild", "/").host("*.test.example.com"),
        rule("exact", "/").host("test.example.com"),
    ]);
    expect(
        &g,
        &[
            ("GET test.example.com /foo", NONE, "exact"),
            ("GET a.test.example.com /foo", NONE, "longer_wild"),
            ("GET other.example.com /foo", NONE, "wild"),
            ("GET foo.bar.example.com /x", NONE, "wild"),
            ("GET example.com /foo", NONE, "any"),
            ("GET example.com /x", NONE, "404"),
        ],
    );
}

// --- conformance/tests/httproute-*.yaml ----------------------------------------------------

/// `httproute-exact-path-matching`.
#[test]
fn conformance_exact_path_matching() {
    let g = Gateway::new(&[rule("v1", "exact /one"), rule("v2", "exact /two")]);
    expect(
        &g,
        &[
            ("GET /one", NONE, "v1"),
            ("GET /two", NONE, "v2"),
            ("GET /", NONE, "404"),
            ("GET /one/example", NONE, "404"),
            ("GET /two/", NONE, "404"),
            ("GET /Two", NONE, "404"),
        ],
    );
}

/// `httproute-path-match-order`.
#[test]
fn conformance_path_match_order() {
    let g = Gateway::new(&[
        rule("v1", "exact /match"),
        rule("v2", "exact /match/exact"),
        rule("v3", "exact /match/exact/one"),
        rule("v3", "prefix /match/"),
        rule("v1", "prefix /match/prefix/"),
        rule("v2", "prefix /match/prefix/one"),
    ]);
    expect(
        &g,
        &[
            ("GET /match/exact/one", NONE, "v3"),
            ("GET /match/exact", NONE, "v2"),
            ("GET /match", NONE, "v1"),
            ("GET /match/prefix/one/any", NONE, "v2"),
            ("GET /match/prefix/any", NONE, "v1"),
            ("GET /match/any", NONE, "v3"),
        ],
    );
}

/// `httproute-matching`: `/v2example` is "Not a path segment prefix so should not match /v2."
#[test]
fn conformance_matching() {
    let g = Gateway::new(&[
        rule("v1", "prefix /"),
        rule("v1", "/").headers(&[("version", "one")]),
        rule("v2", "prefix /v2"),
        rule("v2", "/").headers(&[("version", "two")]),
    ]);
    expect(
        &g,
        &[
            ("GET /", NONE, "v1"),
            ("GET /example", NONE, "v1"),
            ("GET /", &[("Version", "one")], "v1"),
            ("GET /v2", NONE, "v2"),
            ("GET /v2/example", NONE, "v2"),
            ("GET /", &[("Version", "two")], "v2"),
            ("GET /v2/", NONE, "v2"),
            ("GET /v2example", NONE, "v1"),
            ("GET /foo/v2/example", NONE, "v1"),
        ],
    );
}

/// `httproute-matching-across-routes`: "v2 matches are limited to example.com".
#[test]
fn conformance_matching_across_routes() {
    let g = Gateway::new(&[
        rule("v1", "prefix /").host("example.com"),
        rule("v1", "prefix /").host("example.net"),
        rule("v1", "/")
            .headers(&[("version", "one")])
            .host("example.com"),
        rule("v1", "/")
            .headers(&[("version", "one")])
            .host("example.net"),
        rule("v2", "prefix /v2").host("example.com"),
        rule("v2", "/")
            .headers(&[("version", "two")])
            .host("example.com"),
    ]);
    expect(
        &g,
        &[
            ("GET example.com /", NONE, "v1"),
            ("GET example.com /example", NONE, "v1"),
            ("GET example.net /example", NONE, "v1"),
            ("GET example.com /example", &[("Version", "one")], "v1"),
            ("GET example.com /v2", NONE, "v2"),
            ("GET example.net /v2", NONE, "v1"),
            ("GET example.com /v2/example", NONE, "v2"),
            ("GET example.com /", &[("Version", "two")], "v2"),
        ],
    );
}

/// `httproute-header-matching`.
#[test]
fn conformance_header_matching() {
    let g = Gateway::new(&[
        rule("v1", "/").headers(&[("version", "one")]),
        rule("v2", "/").headers(&[("version", "two")]),
        rule("v1", "/").headers(&[("version", "two"), ("color", "orange")]),
        rule("v1", "/").headers(&[("color", "blue")]),
        rule("v1", "/").headers(&[("color", "green")]),
        rule("v2", "/").headers(&[("color", "red")]),
        rule("v2", "/").headers(&[("color", "yellow")]),
    ]);
    expect(
        &g,
        &[
            ("GET /", &[("Version", "one")], "v1"),
            ("GET /", &[("Version", "two")], "v2"),
            ("GET /", &[("Version", "two"), ("Color", "orange")], "v1"),
            ("GET /", &[("Version", "two"), ("Color", "blue")], "v2"),
            ("GET /", &[("Color", "orange")], "404"),
            ("GET /", &[("Some-Other-Header", "one")], "404"),
            ("GET /", &[("Color", "blue")], "v1"),
            ("GET /", &[("Color", "green")], "v1"),
            ("GET /", &[("Color", "red")], "v2"),
            ("GET /", &[("Color", "yellow")], "v2"),
            ("GET /", &[("Color", "purple")], "404"),
        ],
    );
}

/// `httproute-query-param-matching`, including `?ANIMAL=Whale`, which matches only the rule that
/// names `ANIMAL` (names and values are case-sensitive).
#[test]
fn conformance_query_param_matching() {
    let version = |v: &'static str| -> &'static [(&'static str, &'static str)] {
        match v {
            "one" => &[("version", "one")],
            "two" => &[("version", "two")],
            "three" => &[("version", "three")],
            _ => &[("version", "four")],
        }
    };
    let g = Gateway::new(&[
        rule("v1", "/").query(&[("animal", "whale")]),
        rule("v2", "/").query(&[("animal", "dolphin")]),
        rule("v3", "/").query(&[("animal", "dolphin"), ("color", "blue")]),
        rule("v3", "/").query(&[("ANIMAL", "Whale")]),
        rule("v1", "prefix /path1").query(&[("animal", "whale")]),
        rule("v2", "/")
            .headers(version("one"))
            .query(&[("animal", "whale")]),
        rule("v3", "prefix /path2")
            .headers(version("two"))
            .query(&[("animal", "whale")]),
        rule("v1", "prefix /path3").query(&[("animal", "shark")]),
        rule("v1", "prefix /path4")
            .headers(version("three"))
            .query(&[("animal", "kraken")]),
        rule("v1", "prefix /path5"),
        rule("v2", "/").query(&[("animal", "hydra")]),
        rule("v3", "/").headers(version("four")),
    ]);
    expect(
        &g,
        &[
            ("GET /?animal=whale", NONE, "v1"),
            ("GET /?animal=dolphin", NONE, "v2"),
            ("GET /?animal=dolphin&color=blue", NONE, "v3"),
            ("GET /?ANIMAL=Whale", NONE, "v3"),
            ("GET /?animal=whale&otherparam=irrelevant", NONE, "v1"),
            ("GET /?animal=dolphin&color=yellow", NONE, "v2"),
            ("GET /?color=blue", NONE, "404"),
            ("GET /?animal=dog", NONE, "404"),
            ("GET /?animal=whaledolphin", NONE, "404"),
            ("GET /", NONE, "404"),
            ("GET /path1?animal=whale", NONE, "v1"),
            ("GET /?animal=whale", version("one"), "v2"),
            ("GET /path2?animal=whale", version("two"), "v3"),
            ("GET /path3?animal=shark", NONE, "v1"),
            ("GET /path4?animal=kraken", version("three"), "v1"),
            ("GET /?animal=shark", NONE, "404"),
            ("GET /path4?animal=kraken", NONE, "404"),
            ("GET /path5?animal=hydra", NONE, "v1"),
            ("GET /?animal=hydra", version("four"), "v3"),
        ],
    );
}

/// `httproute-method-matching`: `HEAD /` with routes for POST and GET only is a 404; a longer
/// prefix beats a method match, and a method match beats a header match.
#[test]
fn conformance_method_matching() {
    let g = Gateway::new(&[
        rule("v1", "POST /"),
        rule("v2", "GET /"),
        rule("v1", "GET prefix /path1"),
        rule("v2", "PUT /").headers(&[("version", "one")]),
        rule("v3", "POST prefix /path2").headers(&[("version", "two")]),
        rule("v1", "PATCH prefix /path3"),
        rule("v1", "DELETE prefix /path4").headers(&[("version", "three")]),
        rule("v1", "prefix /path5"),
        rule("v2", "PATCH /"),
        rule("v3", "/").headers(&[("version", "four")]),
    ]);
    expect(
        &g,
        &[
            ("POST /", NONE, "v1"),
            ("GET /", NONE, "v2"),
            ("HEAD /", NONE, "404"),
            ("GET /path1", NONE, "v1"),
            ("PUT /", &[("version", "one")], "v2"),
            ("POST /path2", &[("version", "two")], "v3"),
            ("PATCH /path3", NONE, "v1"),
            ("DELETE /path4", &[("version", "three")], "v1"),
            ("PUT /", NONE, "404"),
            ("DELETE /path4", NONE, "404"),
            ("PATCH /path5", NONE, "v1"),
            ("PATCH /", &[("version", "four")], "v2"),
        ],
    );
}

/// `httproute-hostname-intersection` (the route-side half: listener hostnames are not a Meshwork
/// concept): a wildcard matches one or more labels but not the bare domain, and "Port value within
/// the Host header MUST not be considered while performing match against hostname" (the runtime
/// strips the port before matching; a trailing dot and letter case are ignored here).
#[test]
fn conformance_hostname_matching() {
    let g = Gateway::new(&[
        rule("v1", "prefix /s1").host("very.specific.com"),
        rule("v2", "prefix /s2").host("foo.wildcard.io"),
        rule("v2", "prefix /s2").host("bar.wildcard.io"),
        rule("v2", "prefix /s2").host("foo.bar.wildcard.io"),
        rule("v1", "prefix /s4").host("*.anotherwildcard.io"),
    ]);
    expect(
        &g,
        &[
            ("GET very.specific.com /s1", NONE, "v1"),
            ("GET VERY.specific.com. /s1", NONE, "v1"),
            ("GET non.matching.com /s1", NONE, "404"),
            ("GET foo.wildcard.io /s1", NONE, "404"),
            ("GET very.specific.com /non-matching-prefix", NONE, "404"),
            ("GET foo.wildcard.io /s2", NONE, "v2"),
            ("GET foo.bar.wildcard.io /s2", NONE, "v2"),
            ("GET wildcard.io /s2", NONE, "404"),
            ("GET foo.anotherwildcard.io /s4", NONE, "v1"),
            ("GET foo.bar.anotherwildcard.io /s4", NONE, "v1"),
            ("GET anotherwildcard.io /s4", NONE, "404"),
            ("GET foo.wildcard.io /s4", NONE, "404"),
        ],
    );
}
