//! Traffic-management checks: injected faults (and, beside them, retry budgets, mirrors and
//! outlier detection as they arrive). Codes W0250–W0269 / E0250–E0269. One file per rule.

pub mod empty_retry_budget;
pub mod latency_ejection;
pub mod mirror_mesh;
pub mod mirror_target;
pub mod unconditional_fault;

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;

crate::diagnostics::codes::codes! {
    /// A fault on a route others can reach fires for every caller.
    UNCONDITIONAL_FAULT = "W0250", "fault injected for every caller",
        "A route has a `fault abort` or `fault delay` without a `when` condition, and its gateway listens on an address that is not loopback-only. Every client that reaches the route, not only the team testing its resilience, gets the injected errors or delays: a chaos test left in a bundle becomes an outage. Istio and Kuma faults are usually scoped the same way, by a header or a source.",
        "Scope the fault to the callers under test with `when` (e.g. `when request.headers[\"x-chaos\"] == \"on\"`), or acknowledge a deliberate one with `meshc check --allow W0250`.",
        "gateway edge {\n  listen \"0.0.0.0:8080\"\n  route r { match GET \"/\" public fault abort 10% 503 respond 200 \"ok\" }\n}";
    /// A retry budget that can never hold a retry.
    EMPTY_RETRY_BUDGET = "W0251", "retry budget allows no retry",
        "A service's retry line has `budget 0%` with `min 0/…`: over any window the budget holds no retry, so the `retry N` written never happens, although it reads as if the service retried. A budget caps retries at `P%` of the requests over its window plus the `min` rate (Linkerd's retry budget; defaults `min 10/s`, `window 10s`).",
        "Allow a share (`budget 20%`) or a minimum (`min 10/s`), or remove the retry line.",
        "service picard {\n  endpoints [\"127.0.0.1:9101\"]\n  retry 3 on [503] budget 0% min 0/s\n}";
    /// A mirror on a route that does not forward.
    MIRROR_WITHOUT_FORWARD = "W0252", "mirror without forward",
        "A route has a `mirror` but answers itself (`respond`) or produces to Kafka (`produce`). Only forwarded requests are copied, so the mirror never fires and the second service sees nothing, although the program reads as if it did.",
        "Remove the mirror, or move it to the route that forwards.",
        "gateway edge {\n  listen \"127.0.0.1:8080\"\n  route r { match GET \"/\" public mirror picard respond 200 \"ok\" }\n}\nservice picard { endpoints [\"127.0.0.1:9101\"] }";
    /// A mirror to a service the route already forwards to.
    MIRROR_OF_PRIMARY = "W0253", "mirror to a forward target",
        "A route mirrors to a service it also forwards to. That service receives each copied request twice, once answered and once dropped, doubling the writes and the load on the service the clients depend on. Mirroring is for showing a second service (a new version) real traffic.",
        "Mirror to the new version of the service, not to the one that answers.",
        "gateway edge {\n  listen \"127.0.0.1:8080\"\n  route r { match GET \"/\" public mirror picard forward picard }\n}\nservice picard { endpoints [\"127.0.0.1:9101\"] }";
    /// A mirror the mesh would refuse.
    MIRROR_DENIED_BY_MESH = "W0254", "mirror denied by the mesh",
        "A route mirrors to a service that the mesh policy denies to the route's gateway (a deny rule applies, or no rule allows the call under `default deny`). Every copy would be refused with 403 at the mirror, and since copies are fire and forget nobody would see it: the new version just looks idle. (A forward the mesh denies is E0300.)",
        "Allow the gateway to call the mirror's service in the mesh block, or remove the mirror.",
        "gateway edge {\n  listen \"127.0.0.1:8080\"\n  route r { match GET \"/\" public mirror picard_v2 forward picard }\n}\nservice picard { endpoints [\"127.0.0.1:9101\"] }\nservice picard_v2 { endpoints [\"127.0.0.1:9102\"] }\nmesh {\n  default deny\n  allow edge -> picard\n}";
    /// A latency detector whose factor is 1x or less.
    LATENCY_FACTOR_INVALID = "E0255", "latency factor not above 1x",
        "A `circuit_breaker`'s `latency FACTORx` ejects an endpoint whose mean latency over an interval is more than FACTOR times the median of its peers'. With a factor of 1x or less, about half the endpoints are above the line at any moment, so healthy endpoints would be ejected in turn and the service would run on a fraction of its capacity.",
        "Eject only an endpoint much slower than its peers: `latency 3x`.",
        "service picard {\n  endpoints [\"127.0.0.1:9101\", \"127.0.0.1:9102\"]\n  circuit_breaker { max_ejected 50% latency 1x }\n}";
    /// A latency detector whose factor is below 1.5x.
    LATENCY_FACTOR_TIGHT = "W0255", "latency factor too tight",
        "A `circuit_breaker`'s `latency FACTORx` is below 1.5x. Healthy endpoints differ that much in ordinary operation (a cold cache, a garbage collection, a busier machine), so the detector would eject endpoints that are not degraded, and each repeat ejection lasts longer.",
        "Use a factor of 2x or more (`latency 3x`), or acknowledge a deliberate one with `meshc check --allow W0255`.",
        "service picard {\n  endpoints [\"127.0.0.1:9101\", \"127.0.0.1:9102\"]\n  circuit_breaker { max_ejected 50% latency 1.2x }\n}";
    /// A latency detector on a service with one endpoint.
    LATENCY_WITHOUT_PEERS = "W0256", "latency detector without peers",
        "A `circuit_breaker`'s `latency` detector compares each endpoint's mean latency with its peers'. The service has one endpoint, so there is nothing to compare with and the detector never ejects, although the program reads as if slow answers were handled.",
        "List more endpoints, or bound the latency with the service's `timeout` (a timeout is a failure the breaker's other detectors count).",
        "service picard {\n  endpoints [\"127.0.0.1:9101\"]\n  circuit_breaker { latency 3x }\n}";
}

/// Every traffic-management check.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = unconditional_fault::check(program);
    out.extend(empty_retry_budget::check(program));
    out.extend(mirror_target::check(program));
    out.extend(mirror_mesh::check(program));
    out.extend(latency_ejection::check(program));
    out
}
