//! Services: added or removed, endpoints, balancing and identity (topology), and the resilience
//! settings: timeout, retries, circuit breaker, health checks.

use meshwork_bundle::{Balance, Bundle, RetryOn, Service};

use super::change::{Change, ChangeKind};
use super::describe::at;

fn balance(service: &Service) -> String {
    match &service.balance {
        Balance::RoundRobin => "round_robin".to_string(),
        Balance::Random => "random".to_string(),
        Balance::LeastRequest => "least_request".to_string(),
        Balance::Hash { cel } => format!("hash({cel})"),
    }
}

fn retry(service: &Service) -> String {
    match &service.retry {
        None => "no retries".to_string(),
        Some(retry) => {
            let on: Vec<String> = retry
                .on
                .iter()
                .map(|o| match o {
                    RetryOn::Status(status) => status.to_string(),
                    RetryOn::Grpc(grpc) => grpc_retry_name(grpc.grpc),
                    RetryOn::Condition(condition) => serde_json::to_value(condition)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                })
                .collect();
            format!(
                "retry {} on [{}] backoff {}ms..{}ms",
                retry.attempts,
                on.join(", "),
                retry.backoff_min_ms,
                retry.backoff_max_ms
            )
        }
    }
}

fn breaker(service: &Service) -> String {
    match &service.circuit_breaker {
        None => "no circuit breaker".to_string(),
        Some(cb) => format!(
            "circuit breaker after {} errors, eject {}ms, at most {}%{}",
            cb.consecutive_errors,
            cb.eject_ms,
            cb.max_ejected_percent,
            cb.max_requests
                .map(|n| format!(", at most {n} requests in flight"))
                .unwrap_or_default()
        ),
    }
}

fn health(service: &Service) -> String {
    match &service.health_check {
        None => "no health check".to_string(),
        Some(hc) => format!(
            "health check {} every {}ms (timeout {}ms, {} up / {} down)",
            match &hc.grpc_service {
                Some(service) => format!("grpc {service:?}"),
                None => format!("{} {}", hc.method, hc.path),
            },
            hc.interval_ms,
            hc.timeout_ms,
            hc.healthy_threshold,
            hc.unhealthy_threshold
        ),
    }
}

/// Every service change from `old` to `new`.
pub fn service_changes(old: &Bundle, new: &Bundle, out: &mut Vec<Change>) {
    for service in &new.services {
        let subject = format!("service {}", service.name);
        let source = Some(at(&service.source));
        let Some(before) = old.services.iter().find(|s| s.name == service.name) else {
            out.push(Change::new(
                ChangeKind::Topology,
                subject,
                format!(
                    "service added with endpoints {}",
                    service.endpoints.join(", ")
                ),
                source,
            ));
            continue;
        };
        let mut topology = Vec::new();
        if before.endpoints != service.endpoints {
            topology.push(format!(
                "endpoints [{}] → [{}]",
                before.endpoints.join(", "),
                service.endpoints.join(", ")
            ));
        }
        if balance(before) != balance(service) {
            topology.push(format!(
                "balance {} → {}",
                balance(before),
                balance(service)
            ));
        }
        if before.identity != service.identity {
            let show = |i: &Option<String>| i.clone().unwrap_or_else(|| "none".to_string());
            topology.push(format!(
                "identity {} → {}",
                show(&before.identity),
                show(&service.identity)
            ));
        }
        if !topology.is_empty() {
            out.push(Change::new(
                ChangeKind::Topology,
                subject.clone(),
                topology.join("; "),
                source.clone(),
            ));
        }
        let mut resilience = Vec::new();
        if before.timeout_ms != service.timeout_ms {
            resilience.push(format!(
                "timeout {}ms → {}ms",
                before.timeout_ms, service.timeout_ms
            ));
        }
        for describe in [retry, breaker, health] {
            let (was, is) = (describe(before), describe(service));
            if was != is {
                resilience.push(format!("{was} → {is}"));
            }
        }
        if !resilience.is_empty() {
            out.push(Change::new(
                ChangeKind::Resilience,
                subject,
                resilience.join("; "),
                source,
            ));
        }
    }
    for service in &old.services {
        if !new.services.iter().any(|s| s.name == service.name) {
            out.push(Change::new(
                ChangeKind::Topology,
                format!("service {}", service.name),
                "service removed",
                Some(at(&service.source)),
            ));
        }
    }
}

/// `grpc NAME` as the language writes it.
fn grpc_retry_name(code: u8) -> String {
    format!(
        "grpc {}",
        meshwork_bundle::grpc_status::grpc_code_name(code).unwrap_or("unknown")
    )
}
