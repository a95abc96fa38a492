//! Security checks: open routes, secrets, JWT settings and pinning, rate limits, topic parameters, identity
//! used where it is unknown, keys in URLs, CORS. One file per rule; the codes are documented
//! here (the inline-secret code, E0030, is declared with the front end's codes).

pub mod exposure;
pub mod identity;
pub mod inline_secret;
pub mod jwt;
pub mod jwt_pinning;
pub mod rate_limit;
pub mod topic_param;
pub mod unauthenticated;

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;

crate::diagnostics::codes::codes! {
    /// A route without auth on a listener others can reach.
    UNAUTHENTICATED_ROUTE = "W0600", "unauthenticated route",
        "The route has no `auth` and is not marked `public`, and its gateway listens on an address that is not loopback-only. Anyone who can reach the port reaches the upstream. Routes on gateways that only listen on 127.0.0.1 or ::1 are not reported.",
        "Add `auth key|basic|jwt …`, or write `public` to say the route is open on purpose.",
        "gateway edge {\n  listen \"0.0.0.0:8080\"\n  route r { match GET \"/\" respond 200 \"hi\" }\n}";
    /// JWT verification that verifies nothing or can be forged.
    UNSAFE_JWT = "E0601", "unsafe JWT settings",
        "`alg none` accepts unsigned tokens; HS* needs a `secret` and RS*/PS*/ES*/EdDSA need `keys` (a JWKS); an unknown algorithm cannot be verified; `keys` and `secret` without a pinned `alg` invite the RS256→HS256 algorithm-confusion forgery; with neither, nothing is verified.",
        "Pin one algorithm and give the matching key: `alg RS256 keys file(\"jwks.json\")` or `alg HS256 secret env(\"JWT_SECRET\")`.",
        "route r { match GET \"/\" auth jwt alg none respond 200 \"x\" }";
    /// A rate limit or burst of zero.
    ZERO_RATE_LIMIT = "E0602", "zero rate limit",
        "`rate_limit 0/…` or `burst 0` never admits a request: every request gets 429, which looks like throttling but is a closed route.",
        "Give a positive rate and burst; close a route by removing it.",
        "route r { match GET \"/\" public rate_limit 0/min respond 200 \"x\" }";
    /// A produce topic chosen by the caller without an allow-list.
    UNRESTRICTED_TOPIC_PARAM = "E0603", "unrestricted topic parameter",
        "`produce topic param \"…\"` takes the topic from the URL. Without `allow [..]` any caller can write to any topic of the cluster, internal ones included; with an empty list every request is refused.",
        "List the topics the parameter may name: `produce topic param \"ship\" allow [\"enterprise-log\", \"voyager-log\"]`.",
        "route r { match POST \"/log/{ship}\" auth key header \"k\" produce topic param \"ship\" }";
    /// The caller's identity used on a route that never knows it.
    IDENTITY_NEVER_KNOWN = "W0604", "identity never known",
        "`consumer.*` in CEL, `allow|deny consumers|groups` and `rate_limit … per consumer` need an authenticated caller, and `jwt.*` needs `auth jwt`. On this route the identity is never known: conditions and rules refuse every request, and a per-consumer limit puts every caller in one bucket.",
        "Add the matching `auth`, or base the rule on what is known (`per ip`, `request.*`).",
        "route r { match GET \"/\" public allow groups [captains] respond 200 \"x\" }";
    /// An API key read from the query string.
    API_KEY_IN_QUERY = "W0605", "API key in query string",
        "`auth key query \"…\"` puts the key in the URL, which is written to access logs (meshd's and every proxy's), browser history and Referer headers.",
        "Read the key from a header: `auth key header \"x-api-key\"`.",
        "route r { match GET \"/\" auth key query \"apikey\" respond 200 \"x\" }";
    /// CORS with credentials from any origin.
    WILDCARD_CORS_CREDENTIALS = "E0606", "wildcard CORS origin with credentials",
        "`cors { origins [\"*\"] credentials }`: browsers refuse `*` with credentials, and answering with the caller's origin instead would let any web site act with the user's cookies.",
        "List the trusted origins.",
        "route r { match GET \"/\" public cors { origins [\"*\"] credentials } respond 200 \"x\" }";
    /// A route both public and authenticated.
    PUBLIC_WITH_AUTH = "E0607", "public route with auth",
        "`public` says a route has no authentication on purpose; next to `auth` one of the two lines is a mistake, and a reader cannot tell which.",
        "Remove `public` or remove `auth`.",
        "route r { match GET \"/\" public auth key header \"k\" respond 200 \"x\" }";
    /// JWT auth that does not pin the audience or the issuer.
    UNPINNED_JWT = "W0608", "JWT audience or issuer not pinned",
        "`auth jwt` without `audience` accepts a token the same identity provider minted for any other service (a confused deputy: RFC 8725 §3.9); without `issuer`, any provider whose key is in the key set can mint tokens for this route. Signature checks alone do not say who the token is for.",
        "Pin both: `auth jwt issuer \"https://id.starfleet.test\" audience \"enterprise\" alg ES256 keys file(\"jwks.json\")`.",
        "route r { match GET \"/\" auth jwt alg RS256 keys file(\"jwks.json\") respond 200 \"x\" }";
}

/// Runs every security check.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = unauthenticated::check(program);
    out.extend(inline_secret::check(program));
    out.extend(jwt::check(program));
    out.extend(jwt_pinning::check(program));
    out.extend(rate_limit::check(program));
    out.extend(topic_param::check(program));
    out.extend(identity::check(program));
    out.extend(exposure::check(program));
    out
}
