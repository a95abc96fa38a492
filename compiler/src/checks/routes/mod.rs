//! Route checks: conflicting and unreachable routes (Gateway API precedence), paths, hosts,
//! listeners, status codes, repeated match names, contradictory conditions and host-dependent
//! destinations. One file per rule; the codes are documented here. (Contradictory conditions are
//! found while the CEL checks have each `when` parsed, see `checks::cel`.)

pub mod contradictory_conditions;
pub mod cors_methods;
pub mod grpc_protocol;
pub mod host_overlap;
pub mod listeners;
pub mod never_matches;
pub mod overridden_headers;
pub mod path_patterns;
pub mod repeated_match_names;
pub mod rewrite_conflict;
pub mod route_shape;
pub mod shadowing;
pub mod status_codes;
pub mod strip_prefix;

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;

crate::diagnostics::codes::codes! {
    /// Two routes of one gateway match exactly the same requests.
    CONFLICTING_ROUTES = "E0200", "conflicting routes",
        "Two routes of one gateway have the same method, host, path (templates compared without their parameter names, prefixes without a trailing `/`), headers and query conditions. Precedence cannot tell them apart, so the earlier one would take every request and the other none: almost always a copy-paste mistake.",
        "Remove one route, or make them differ (another method, host, header or query condition).",
        "gateway edge {\n  listen \"127.0.0.1:8080\"\n  route a { match GET \"/officers/{id}\" public respond 200 \"a\" }\n  route b { match GET \"/officers/{name}\" public respond 200 \"b\" }\n}";
    /// A route is fully covered by a route tried before it.
    UNREACHABLE_ROUTE = "W0201", "unreachable route",
        "Routes are tried in Kubernetes Gateway API precedence order (host, then exact path over template over prefix over regex, then longest prefix, method, header count, query count, then order in the program). A route tried earlier accepts every request this one accepts (its host, method, path, headers and query conditions are all as wide or wider; prefixes match whole segments), so this route is never chosen and its admission steps and target never apply. The warning names the shadowing route and the precedence step that puts it first.",
        "Make the route more specific than the shadowing one, move the specific case first among equal templates, or remove it.",
        "gateway edge {\n  listen \"127.0.0.1:8080\"\n  route deck { match GET \"/{ship}/{deck}\" public respond 200 \"deck\" }\n  route bridge { match GET \"/{ship}/bridge\" public respond 200 \"bridge\" }\n}";
    /// A path regex does not compile.
    INVALID_PATH_REGEX = "E0202", "invalid path regex",
        "A `match regex` pattern does not compile with the `regex` crate the runtime matcher uses (or compiles to more than 1 MiB). The bundle would be refused when meshd loads it.",
        "Fix the expression; the label shows what the regex parser expected. Escape literal `.`, `+`, `(`.",
        "route r { match regex \"^/v[0-9+/\" public respond 200 \"x\" }";
    /// Two listeners cannot both bind.
    LISTENER_CLASH = "E0203", "listener address clash",
        "Two listeners use the same port on the same address, or one listens on a wildcard address (`0.0.0.0`, `[::]`), which takes the port on every address. The second bind fails when meshd starts.",
        "Give one listener another port (port 0 picks a free one).",
        "gateway a { listen \"0.0.0.0:8080\" }\ngateway b { listen \"127.0.0.1:8080\" }";
    /// A status code cannot be used here.
    UNUSABLE_STATUS = "E0204", "unusable status code",
        "`respond` with a 1xx status (informational, never a final response), `respond 204` or `respond 304` with a body (HTTP forbids one; clients mis-frame the next response), or `retry on` a status below 400 (a retry repeats a request that succeeded).",
        "Use a final status for `respond`, drop the body of 204/304, and retry only on failures (5xx, `connect_failure`, `reset`, `timeout`).",
        "route r { match GET \"/\" public respond 204 \"done\" }";
    /// A forward's strip_prefix never applies.
    STRIP_PREFIX_NEVER_APPLIES = "W0205", "strip_prefix never applies",
        "The prefix to strip does not start any path the route matches (segments compared whole; parameters match anything), so the upstream receives the path unchanged. This usually follows a renamed route path.",
        "Strip a leading part of the matched path.",
        "route r { match GET prefix \"/officers\" public forward picard strip_prefix \"/crew\" }";
    /// A path template cannot be matched.
    INVALID_PATH_TEMPLATE = "E0206", "invalid path template",
        "A template parameter must be a whole segment `{name}` with a name of letters, digits and `_`, each name at most once; prefixes cannot capture. `/items{id}` or `/{a}/{a}` would not match what they seem to.",
        "Capture whole segments with distinct names (`/ships/{ship}/crew/{id}`).",
        "route r { match GET \"/items{id}\" public respond 200 \"x\" }";
    /// A match no request can satisfy.
    ROUTE_NEVER_MATCHES = "E0207", "route can never match",
        "The path contains `?` or `#`: the query string and fragment are never part of the path a route sees, so no request can be chosen by this route.",
        "Move query conditions to `query \"NAME\" \"VALUE\"`; drop the fragment.",
        "route r { match GET \"/search?q=warp\" public respond 200 \"x\" }";
    /// A route host no request can carry.
    INVALID_HOST = "E0208", "invalid route host",
        "Routes match the request's host name without its port. A host with a scheme, port or path, a `*` anywhere but as the whole first label, or a label that is not a DNS label can never equal a request's host.",
        "Write a host name (`api.starfleet.test`) or a leading wildcard (`*.starfleet.test`).",
        "route r { match GET \"/\" host \"api.starfleet.test:8080\" public respond 200 \"x\" }";
    /// A header or query parameter named twice in one match.
    REPEATED_MATCH_NAME = "E0209", "repeated match name",
        "One `match` names the same header (names compare case-insensitively) or query parameter (exactly) twice. The Gateway API counts only the first condition on a name and ignores the rest (`HTTPHeaderMatch.Name`, `HTTPQueryParamMatch.Name`), and the matcher does the same, so a condition the author wrote would silently never apply; read as \"both must hold\", the route could never match a request carrying one value. Either way the match does not say what it does.",
        "Keep one condition per name. To accept either of two values, write two routes.",
        "route r { match GET \"/\" header \"x-ship\" \"enterprise\" header \"X-Ship\" \"voyager\" public respond 200 \"x\" }";
    /// A route's match and conditions contradict each other.
    CONTRADICTORY_CONDITIONS = "E0210", "contradictory route conditions",
        "The route's `match` and its `when` conditions require the method, a header or a query parameter two incompatible ways: `match GET` with `when request.method == \"POST\"` (or a method list without GET), a header matched by value and required absent (`!(\"x\" in request.headers)`) or equal to another value, two `when`s naming different methods. The route matches requests and then refuses every one of them with 403. Only conjuncts the compiler can decide are compared (`&&` chains of `==`, `!=`, `in`, `has`, `!` on `request.method`, `request.headers` and `request.query`).",
        "Make the conditions agree, or split the route in two.",
        "route r { match GET \"/bridge\" public when request.method == \"POST\" respond 200 \"x\" }";
    /// Overlapping exact and wildcard hosts send the same requests to different places.
    HOST_OVERLAP = "W0211", "host-dependent destination",
        "Two routes of one gateway overlap in method, path, headers and query, one for an exact host (or a narrower wildcard) and one for a wildcard that covers it, and they send those requests to different places. Host precedence gives the exact host to the first and every other name under the wildcard to the second, so which service answers depends on the Host a client writes (an alias, a regional name, a CNAME). The warning names the requests affected and where each host sends them. Routes without a host are not compared with hosted ones: a default route beside virtual hosts is the ordinary layout.",
        "Send both to the same place, or give the special host's route a condition the wildcard route does not take. A deliberate split can be acknowledged with `meshc check --allow W0211`.",
        "gateway edge {\n  listen \"127.0.0.1:8080\"\n  route a { match GET prefix \"/officers\" host \"api.starfleet.test\" public forward picard }\n  route b { match GET prefix \"/officers\" host \"*.starfleet.test\" public forward riker }\n}\nservice picard { endpoints [\"127.0.0.1:9101\"] }\nservice riker { endpoints [\"127.0.0.1:9103\"] }";
    /// `strip_prefix` and `rewrite` on one forward.
    REWRITE_OVERRIDES_STRIP = "W0213", "strip_prefix overridden by rewrite",
        "A forward says both `strip_prefix` and `rewrite`. `rewrite` replaces the whole path sent upstream, so the prefix is never stripped and meshd ignores `strip_prefix`: the upstream path is not what the line reads as.",
        "Keep one of the two: `rewrite` to set the path, `strip_prefix` to shorten it.",
        "route r { match GET \"/officers/{id}\" public forward picard strip_prefix \"/officers\" rewrite \"/v2/{id}\" }";
    /// A CORS policy without the route's own method.
    CORS_REFUSES_METHOD = "W0214", "CORS refuses the route's method",
        "The route matches one method, and its `cors { methods [...] }` lists others only. A browser sends a preflight before a cross-origin request that is not \"simple\" (a JSON POST, PUT, PATCH, DELETE), and meshd answers it from this policy, which refuses the method: the request is never sent. The route works from curl and fails from every web page.",
        "Add the route's method to `methods`, or leave `methods` out to allow what the preflight asks.",
        "route r { match PUT \"/logs/{id}\" public cors { origins [\"https://bridge.test\"] methods [GET, POST] } respond 200 \"x\" }";
    /// A header rule on a header meshd writes itself.
    HEADER_RULE_OVERRIDDEN = "W0215", "header rule on a connection header",
        "`set_header`/`remove_header` (or the response forms) on `Content-Length`, `Transfer-Encoding`, `Connection`, `Keep-Alive`, `TE`, `Trailer`, `Upgrade`, `Proxy-*` or, on requests, `Expect`. These describe one connection, not the message (RFC 9110 §7.6.1): meshd drops them and writes the framing from the body it sends, so the rule never takes effect. A framing header that disagreed with the body would be a request-smuggling desync (CWE-444).",
        "Remove the rule.",
        "route r { match POST \"/log\" public set_header \"transfer-encoding\" \"chunked\" respond 200 \"x\" }";
    /// A gRPC route forwards to a service that speaks HTTP/1.1.
    GRPC_TO_HTTP1 = "W0265", "gRPC to an HTTP/1.1 service",
        "A route matches `grpc \"…\"` but forwards to a service without `protocol h2c` or `protocol h2`. gRPC needs HTTP/2 end to end: its status travels in trailers, which HTTP/1.1 cannot carry through meshd, so every call would fail at the client.",
        "Add `protocol h2c` (plaintext HTTP/2 with prior knowledge, as most gRPC servers listen) or `protocol h2` (HTTP/2 over TLS) to the service.",
        "gateway edge {\n  listen \"127.0.0.1:8080\"\n  route log { match grpc \"starfleet.Log\" public forward picard }\n}\nservice picard { endpoints [\"127.0.0.1:9101\"] }";
    /// A service retries on gRPC statuses but speaks HTTP/1.1.
    GRPC_RETRY_OVER_HTTP1 = "W0266", "gRPC retry on an HTTP/1.1 service",
        "A service's `retry … on [grpc NAME]` fires on the `grpc-status` of a trailers-only answer, which only an HTTP/2 service sends through meshd. Over HTTP/1.1 the condition never holds, so the retry written does nothing.",
        "Add `protocol h2c` or `protocol h2` to the service, or retry on HTTP statuses.",
        "service picard {\n  endpoints [\"127.0.0.1:9101\"]\n  retry 2 on [grpc unavailable]\n}";
}

/// Runs every route check.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = shadowing::check(program);
    out.extend(path_patterns::check(program));
    out.extend(listeners::check(program));
    out.extend(status_codes::check(program));
    out.extend(strip_prefix::check(program));
    out.extend(never_matches::check(program));
    out.extend(repeated_match_names::check(program));
    out.extend(host_overlap::check(program));
    out.extend(rewrite_conflict::check(program));
    out.extend(cors_methods::check(program));
    out.extend(overridden_headers::check(program));
    out.extend(grpc_protocol::check(program));
    out
}
