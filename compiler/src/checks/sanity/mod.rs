//! Sanity checks: settings that parse but cannot do what they say (timeouts and retries,
//! traffic splits, endpoints, shared credentials, health checks). One file per rule; the codes
//! are documented here.

pub mod consumer_credentials;
pub mod endpoints;
pub mod health_check;
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
        "A probe timeout longer than the interval (probes pile up on a struggling endpoint), a `healthy`/`unhealthy` threshold of 0 (state flips without evidence), or a path without a leading `/`.",
        "Keep the timeout at or below the interval, thresholds at 1 or more, and paths absolute.",
        "service picard { endpoints [\"127.0.0.1:9101\"] health_check GET \"/healthz\" every 1s timeout 5s }";
}

/// Runs every sanity check.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = retry_timing::check(program);
    out.extend(split_weights::check(program));
    out.extend(endpoints::check(program));
    out.extend(consumer_credentials::check(program));
    out.extend(health_check::check(program));
    out
}
