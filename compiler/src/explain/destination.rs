//! The destination part of `meshc explain`: what the route does with an admitted request — the
//! fixed answer, the Kafka topic, or the services it forwards to with their balancing, retries,
//! mesh verdict and time budget.

use std::fmt::Write;

use meshwork_bundle::{
    Balance, Bundle, Gateway, ProduceTopic, RetryOn, Route, RouteAction, RouteUpgrades,
};

use crate::checks::mesh::policy::{decide, MeshDecision};
use crate::resolve::Program;

use super::render::at_span;
use super::time_budget::TimeBudget;

/// Where the route sends the request, with each service's settings and time budget.
pub fn render_destination(
    out: &mut String,
    program: &Program,
    bundle: &Bundle,
    gateway: &Gateway,
    route: &Route,
) {
    let _ = writeln!(out, "\ndestination:");
    match &route.action {
        RouteAction::Respond {
            status,
            body,
            content_type,
        } => {
            let _ = writeln!(
                out,
                "  the gateway answers {status} ({content_type}): {body:?}"
            );
        }
        RouteAction::Serve {
            topic,
            when,
            buffer,
            buffer_bytes,
            clients,
            keepalive_ms,
        } => render_serve(
            out,
            topic,
            when.as_deref(),
            *buffer,
            *buffer_bytes,
            *clients,
            *keepalive_ms,
        ),
        RouteAction::Produce {
            topic,
            key,
            acks,
            mode,
            timeout_ms,
            ..
        } => {
            let topic = match topic {
                ProduceTopic::Fixed { name } => format!("Kafka topic \"{name}\""),
                ProduceTopic::Param { param, allow } => format!(
                    "the Kafka topic named by path parameter `{param}` (one of {})",
                    allow
                        .as_ref()
                        .map(|a| a.join(", "))
                        .unwrap_or_else(|| "any".to_string())
                ),
            };
            let _ = writeln!(
                out,
                "  produced to {topic}{}, acks {}, {}",
                key.as_ref()
                    .map(|k| format!(" with key {k}"))
                    .unwrap_or_default(),
                serde_json::to_value(acks)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                match mode {
                    meshwork_bundle::ProduceMode::Sync =>
                        "answered 200 {topic, partition, offset} after the delivery report",
                    meshwork_bundle::ProduceMode::Async => "answered 202 once queued",
                }
            );
            if *mode == meshwork_bundle::ProduceMode::Sync {
                let _ = writeln!(
                    out,
                    "  time budget: 503 with Retry-After when Kafka has not acknowledged {}",
                    match timeout_ms {
                        Some(ms) => format!("within {ms}ms (the route's timeout)"),
                        None => "within the producer's delivery timeout (5s)".to_string(),
                    }
                );
            }
        }
        RouteAction::Forward {
            targets,
            strip_prefix,
            rewrite,
            timeout_ms,
            idempotent,
            mirror,
            websocket,
        } => {
            for target in targets {
                let _ = writeln!(
                    out,
                    "  forwarded to service `{}` ({}% of requests)",
                    target.service, target.weight
                );
                if let Some(service) = bundle.services.iter().find(|s| s.name == target.service) {
                    let balance = match &service.balance {
                        Balance::RoundRobin => "round_robin".to_string(),
                        Balance::Random => "random".to_string(),
                        Balance::LeastRequest => "least_request".to_string(),
                        Balance::Hash { cel } => format!("hash({cel})"),
                    };
                    let _ = writeln!(
                        out,
                        "    endpoints {}; balance {balance}",
                        service.endpoints.join(", ")
                    );
                    if let Some(retry) = &service.retry {
                        let on: Vec<String> = retry
                            .on
                            .iter()
                            .map(|o| match o {
                                RetryOn::Status(s) => s.to_string(),
                                RetryOn::Grpc(grpc) => format!(
                                    "grpc {}",
                                    meshwork_bundle::grpc_status::grpc_code_name(grpc.grpc)
                                        .unwrap_or("unknown")
                                ),
                                RetryOn::Condition(c) => serde_json::to_value(c)
                                    .ok()
                                    .and_then(|v| v.as_str().map(str::to_string))
                                    .unwrap_or_default(),
                            })
                            .collect();
                        let _ = writeln!(
                            out,
                            "    retry {} on [{}], backoff {}..{}ms{}",
                            retry.attempts,
                            on.join(", "),
                            retry.backoff_min_ms,
                            retry.backoff_max_ms,
                            if *idempotent {
                                "; the route is `idempotent`: every method is retried"
                            } else if retry.on.iter().any(|o| matches!(o, RetryOn::Grpc(_))) {
                                "; POST, PATCH and other non-idempotent methods only on connect_failure and the gRPC statuses"
                            } else {
                                "; POST, PATCH and other non-idempotent methods only on connect_failure"
                            }
                        );
                        if let Some(b) = &retry.budget {
                            let _ = writeln!(
                                out,
                                "    retry budget: over {}ms, retries at most {}% of requests + {} per {}ms (an outage multiplies the load by at most {:.2}, not {})",
                                b.window_ms,
                                b.percent,
                                b.min_retries,
                                b.min_period_ms,
                                1.0 + f64::from(b.percent) / 100.0,
                                retry.attempts + 1
                            );
                        }
                    }
                    if let Some(b) = &service.circuit_breaker {
                        let mut detectors =
                            vec![format!("{} errors in a row", b.consecutive_errors)];
                        if let Some(f) = &b.failure_percentage {
                            detectors.push(format!(
                                "{}% failures of at least {} requests per {}ms",
                                f.percent,
                                f.min_requests,
                                b.interval_ms.unwrap_or_default()
                            ));
                        }
                        if let Some(s) = &b.success_rate {
                            detectors.push(format!(
                                "a success rate 1.9 standard deviations below its peers' (5+ endpoints with {} requests per {}ms)",
                                s.min_requests,
                                b.interval_ms.unwrap_or_default()
                            ));
                        }
                        if let Some(l) = &b.latency {
                            let factor =
                                format!("{}.{:02}", l.factor_percent / 100, l.factor_percent % 100);
                            let factor = factor.trim_end_matches('0').trim_end_matches('.');
                            detectors.push(format!(
                                "a mean latency over {factor}x its peers' median and at least {}ms ({} answered requests per {}ms)",
                                l.min_latency_ms,
                                l.min_requests,
                                b.interval_ms.unwrap_or_default()
                            ));
                        }
                        let _ = writeln!(
                            out,
                            "    circuit breaker: an endpoint is ejected after {}, for {}ms{}; at most {}% of endpoints out",
                            detectors.join(", or "),
                            b.eject_ms,
                            if b.interval_ms.is_some() { " times its ejections so far (up to 300s)" } else { "" },
                            b.max_ejected_percent
                        );
                        if let Some(max) = b.max_requests {
                            let _ = writeln!(
                                out,
                                "    at most {max} requests in flight to it from each meshd; more are answered 503 at once"
                            );
                        }
                    }
                    let budget = TimeBudget::of(service, *timeout_ms);
                    for line in budget.describe() {
                        let _ = writeln!(out, "    {line}");
                    }
                }
                let _ = writeln!(
                    out,
                    "    mesh: {}",
                    mesh_verdict(program, &gateway.name, &target.service)
                );
            }
            if let Some(prefix) = strip_prefix {
                let _ = writeln!(out, "  the prefix \"{prefix}\" is stripped from the path");
            }
            if let Some(rewrite) = rewrite {
                let _ = writeln!(out, "  the path is rewritten to \"{rewrite}\"");
            }
            if let Some(m) = mirror {
                let _ = writeln!(
                    out,
                    "  mirrored to service `{}` ({}% of requests, fire and forget: its answer is dropped; Host gets `-shadow`; bodies up to {} bytes; at most {} copies in flight, more are dropped)",
                    m.service, m.percent, m.max_body_bytes, m.queue
                );
                let _ = writeln!(
                    out,
                    "    mesh: {}",
                    mesh_verdict(program, &gateway.name, &m.service)
                );
            }
            let _ = writeln!(
                out,
                "  {}",
                upgrade_verdict(websocket.as_ref(), &route.name)
            );
        }
    }
}

/// Whether an upgrade request (`Connection: upgrade`, `Upgrade: websocket`) on the route would be
/// forwarded, and on what terms.
fn upgrade_verdict(websocket: Option<&RouteUpgrades>, route: &str) -> String {
    let stated = websocket.is_some();
    let upgrades = websocket.copied().unwrap_or_default();
    if !upgrades.allowed {
        return format!(
            "upgrades (WebSocket): refused with 403 before any upstream sees them (`websocket off` on route `{route}`)"
        );
    }
    format!(
        "upgrades (WebSocket): forwarded after admission{}; at most {} open at once (then 503), closed after {}ms with no byte either way",
        if stated { "" } else { " (the default: the route has no `websocket` line)" },
        upgrades.max,
        upgrades.idle_ms
    )
}

fn mesh_verdict(program: &Program, gateway: &str, service: &str) -> String {
    match decide(program, gateway, service) {
        MeshDecision::AllowedByRule(rule) => format!(
            "`{gateway}` → `{service}` allowed by the rule at {}{}",
            at_span(program, rule.span),
            rule.when
                .as_ref()
                .map(|c| format!(" when {}", c.source))
                .unwrap_or_default()
        ),
        MeshDecision::AllowedByDefault(Some(default)) => format!(
            "`{gateway}` → `{service}` allowed by `default allow` at {}",
            at_span(program, default.span)
        ),
        MeshDecision::AllowedByDefault(None) => {
            format!("`{gateway}` → `{service}` allowed (the program has no mesh block)")
        }
        MeshDecision::DeniedByRule { deny, .. } => format!(
            "`{gateway}` → `{service}` DENIED by the rule at {}",
            at_span(program, deny.span)
        ),
        MeshDecision::DeniedByDefault(default) => format!(
            "`{gateway}` → `{service}` DENIED by `default deny` at {}",
            at_span(program, default.span)
        ),
    }
}

/// A `serve` route: how its records reach the client and what bounds a client.
fn render_serve(
    out: &mut String,
    topic: &str,
    when: Option<&str>,
    buffer: u64,
    buffer_bytes: u64,
    clients: u64,
    keepalive_ms: u64,
) {
    let _ = writeln!(
        out,
        "  records of Kafka topic \"{topic}\" stream to the client as Server-Sent Events \
         (`Accept: text/event-stream`), or as long-poll JSON batches (`Accept: application/json` \
         or `?wait=…`)"
    );
    if let Some(condition) = when {
        let _ = writeln!(out, "  only records where {condition}");
    }
    let _ = writeln!(
        out,
        "  starts at new records; resumes from `Last-Event-ID` or `?from=` (a position), or from \
         the consumer's group (`?group=NAME`); `?from=earliest` replays the topic"
    );
    let _ = writeln!(
        out,
        "  a client more than {buffer} events or {buffer_bytes} bytes behind is disconnected; \
         at most {clients} clients at once (then 503); a keep-alive comment after {keepalive_ms}ms \
         of silence"
    );
}
