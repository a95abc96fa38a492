//! Sanity checks: settings that parse but cannot do what they say (timeouts and retries, retry
//! budgets and storms, retries of non-idempotent requests, circuit breakers against their
//! endpoints and health checks, traffic splits, endpoints, shared credentials, health checks).
//! One file per rule; the codes are documented here.

pub mod breaker_ejection;
pub mod breaker_health_check;
pub mod consumer_credentials;
pub mod endpoints;
pub mod health_check;
pub mod non_idempotent_retry;
pub mod retry_amplification;
pub mod retry_budget;
pub mod retry_timing;
pub mod split_weights;

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;

crate::diagnostics::codes::codes! {
    /// A timeout shorter than the first retry backoff.
    TIMEOUT_SHORTER_THAN_BACKOFF = "E0700", "timeout shorter than retry backoff",
        "A route's `timeout` is the whole request's deadline, across every retry (the service's `timeout` bounds each try, as in Envoy), and a retry whose backoff would end past the deadline is not made. A route timeout shorter than the smallest wait before a retry of the service it forwards to (`backoff MIN..MAX`; 25ms..250ms when not written) leaves room for no retry at all: the service's `retry` line is dead for this route, or the units are mixed up.",
        "Lengthen the route's timeout, shorten the backoff, or drop the retry.",
        "gateway edge {\n  listen \"127.0.0.1:8080\"\n  route officers { match GET \"/officers\" public forward picard timeout 20ms }\n}\nservice picard {\n  endpoints [\"127.0.0.1:9101\"]\n  retry 3 backoff 25ms..250ms\n}";
    /// Backoff bounds in the wrong order.
    BACKOFF_REVERSED = "E0701", "backoff bounds reversed",
        "A `backoff MIN..MAX` (of a service's retry or a stream's deliver) has a minimum above its maximum; exponential backoff cannot start above where it is capped.",
        "Write the bounds as MIN..MAX.",
        "service picard { endpoints [\"127.0.0.1:9101\"] retry 3 backoff 2s..100ms }";
    /// Traffic-split weights that do not add up.
    SPLIT_WEIGHTS = "E0702", "inconsistent split weights",
        "In `forward a 90%, b 10%` the weights must sum to 100 when every target has one; written weights cannot exceed 100, nor reach 100 while other targets have none (they would get 0%); a service cannot appear twice. Otherwise traffic is silently rescaled or dropped. (A split naming an undefined service is E0100.)",
        "Give weights summing to 100, or leave some out to share the rest.",
        "route r { match GET \"/\" public forward picard 90%, riker 20% }";
    /// A service with no endpoints.
    NO_ENDPOINTS = "E0703", "no endpoints",
        "`endpoints []` lists no address, or a service that routes forward to (or streams deliver to) has no `endpoints` at all. Every request to it would fail with 503.",
        "List at least one `\"host:port\"`.",
        "service picard { endpoints [] }";
    /// One credential given to two consumers.
    SHARED_CREDENTIAL = "E0704", "shared consumer credential",
        "Two consumers of one gateway (or one consumer twice) have the same API key reference (`env(\"…\")` or `file(\"…\")`), basic user or JWT subject. A request presenting it matches both: which name, groups and rate-limit bucket apply is arbitrary, and revoking one revokes both.",
        "Give each consumer its own credential.",
        "gateway edge {\n  listen \"127.0.0.1:8080\"\n  consumer picard { key env(\"BRIDGE_KEY\") }\n  consumer riker { key env(\"BRIDGE_KEY\") }\n}";
    /// An endpoint listed twice.
    DUPLICATE_ENDPOINT = "W0705", "duplicate endpoint",
        "The same address appears twice in one endpoint list, so it receives twice the share of requests and counts twice toward circuit-breaker ejection limits.",
        "List each endpoint once.",
        "service picard { endpoints [\"127.0.0.1:9101\", \"127.0.0.1:9101\"] }";
    /// A health check that cannot work.
    INVALID_HEALTH_CHECK = "E0706", "invalid health check",
        "A probe timeout longer than the interval (probes pile up on a struggling endpoint), a `healthy`/`unhealthy` threshold of 0 (state flips without evidence), a path without a leading `/`, or `health_check grpc` on a service that does not speak HTTP/2 (gRPC runs over HTTP/2 only).",
        "Keep the timeout at or below the interval, thresholds at 1 or more, and paths absolute; give a service checked with `grpc` its `protocol h2c` or `h2`.",
        "service picard { endpoints [\"127.0.0.1:9101\"] health_check GET \"/healthz\" every 1s timeout 5s }";
    /// Retries on timeout that a route's deadline cuts off.
    RETRY_BUDGET = "W0707", "retries exceed the route deadline",
        "A route's `timeout` is the whole request's deadline across retries; the service's `timeout` is per try, and a retry that cannot start before the deadline is not made. Here the service retries `on [timeout]`, but its tries and the backoff between them do not fit in the route's deadline, so some or all of the retries written can never happen when the upstream stops answering. The warning says how many fit and what deadline would hold them all. (A deadline shorter than even the first backoff is E0700.)",
        "Give the route a longer timeout, shorten the service's per-try timeout, or retry fewer times.",
        "gateway edge {\n  listen \"127.0.0.1:8080\"\n  route r { match GET \"/\" public timeout 3s forward picard }\n}\nservice picard {\n  endpoints [\"127.0.0.1:9101\"]\n  timeout 2s\n  retry 3 on [timeout]\n}";
    /// Retries that multiply the load of an outage with nothing to stop them.
    RETRY_AMPLIFICATION = "W0708", "retry storm",
        "A service retries three times or more on failures a failing or overloaded upstream produces (`reset`, `timeout`, 5xx; a bare `retry N` retries resets) and has no retry `budget`, `circuit_breaker` or `health_check`. On an outage every request becomes up to N + 1 attempts, exactly when the upstream can least absorb them, turning a brownout into an outage. A budget caps retries at a share of the requests (an outage then adds at most that share), and ejecting failing endpoints makes requests fail fast.",
        "Add `budget 20%` to the retry line (Linkerd's retry budget), a `circuit_breaker` (or a `health_check`), or retry at most twice.",
        "service picard {\n  endpoints [\"127.0.0.1:9101\", \"127.0.0.1:9102\"]\n  retry 4 on [503, timeout]\n}";
    /// Retries a service would make of requests that must not be repeated.
    NON_IDEMPOTENT_RETRY = "W0709", "retry of a non-idempotent request",
        "A route that takes POST, PATCH or CONNECT forwards to a service whose `retry` fires after the request may have reached the upstream (`reset`, `timeout`, a status; a bare `retry N` retries resets). Repeating such a request duplicates its side effect (a second payment), so meshd retries it only when its connection never opened, unless the route says `idempotent`: the retry written does not apply to this route. Also reported: `idempotent` on a route that does not forward.",
        "If the upstream deduplicates these requests (an Idempotency-Key), mark the route `idempotent`; otherwise retry the service only `on [connect_failure]`, or accept that the route is not retried.",
        "gateway edge {\n  listen \"127.0.0.1:8080\"\n  route pay { match POST \"/pay\" public forward payments }\n}\nservice payments {\n  endpoints [\"127.0.0.1:9101\"]\n  retry 2 on [503, timeout]\n}";
    /// A circuit breaker that can never eject an endpoint.
    BREAKER_NEVER_EJECTS = "W0710", "circuit breaker never ejects",
        "meshd ejects an endpoint only while at most `max_ejected` percent of the service's endpoints are out, rounded down (10% when not written). Fewer endpoints than that share allows one of — the default 10% with up to nine endpoints, any share below 100% with one — means the breaker never ejects anything: it looks configured, and failing endpoints keep their share of the traffic.",
        "Raise `max_ejected` so at least one endpoint may go out (the help gives the share), or list more endpoints.",
        "service riker {\n  endpoints [\"127.0.0.1:9103\", \"127.0.0.1:9104\"]\n  circuit_breaker { consecutive_errors 5 }\n}";
    /// A circuit breaker that can eject every endpoint.
    BREAKER_EJECTS_ALL = "W0711", "circuit breaker can eject every endpoint",
        "With `max_ejected 100%` the breaker may eject every endpoint of the service; every request then gets 503 for the whole `eject` time, even after the endpoints recover. With one endpoint this is the only share that ejects at all, and it ejects the whole service.",
        "Keep at least one endpoint in (`max_ejected 50%` with two endpoints), or, with a single endpoint, rely on a `health_check` instead.",
        "service riker {\n  endpoints [\"127.0.0.1:9103\"]\n  circuit_breaker { consecutive_errors 5 eject 30s max_ejected 100% }\n}";
    /// Ejection ends before the health check probes again.
    EJECT_SHORTER_THAN_PROBE = "W0712", "ejection shorter than the health-check interval",
        "A service with both a `circuit_breaker` and a `health_check` ejects failing endpoints for less time than the probe interval: an ejected endpoint returns before any probe has seen it recover, so live requests do the probing — each return costs `consecutive_errors` failed requests and ejects it again.",
        "Eject for at least the probe interval, so the health check decides when the endpoint returns.",
        "service picard {\n  endpoints [\"127.0.0.1:9101\", \"127.0.0.1:9102\"]\n  circuit_breaker { consecutive_errors 5 eject 5s max_ejected 50% }\n  health_check GET \"/healthz\" every 30s\n}";
}

/// Runs every sanity check.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = retry_timing::check(program);
    out.extend(split_weights::check(program));
    out.extend(endpoints::check(program));
    out.extend(consumer_credentials::check(program));
    out.extend(health_check::check(program));
    out.extend(retry_budget::check(program));
    out.extend(retry_amplification::check(program));
    out.extend(non_idempotent_retry::check(program));
    out.extend(breaker_ejection::check(program));
    out.extend(breaker_health_check::check(program));
    out
}
