//! Services, with the defaults the language leaves implicit made explicit.
//!
//! Several declarations with the same name are merged naively: endpoints are appended, and for
//! single-valued settings the first one in program order wins.

use meshwork_bundle::{
    Balance, CircuitBreaker, FailurePercentage, GrpcRetry, HealthCheck, LatencyOutlier, Protocol,
    Retry, RetryBudget, RetryCondition, RetryOn, Service, SuccessRate, GRPC_HEALTH_CHECK_PATH,
};

use meshwork_bundle::mesh_policy::derived_identity;

use super::context::EmitContext;
use crate::syntax::ast::{self, ServiceStatement};

/// Per-attempt timeout when a service sets none (Envoy's default route timeout).
pub const DEFAULT_TIMEOUT_MS: u64 = 15_000;
/// Retry conditions when `retry` lists none: failures where no response was received.
pub const DEFAULT_RETRY_ON: [RetryCondition; 2] =
    [RetryCondition::ConnectFailure, RetryCondition::Reset];
/// Retry backoff bounds when none are written.
pub const DEFAULT_BACKOFF_MS: (u64, u64) = (25, 250);
/// Circuit breaker settings when the block leaves them out: errors, ejection, max ejected %.
pub const DEFAULT_CIRCUIT_BREAKER: (u64, u64, u8) = (5, 30_000, 10);
/// Health-check timeout when none is written (capped at the interval).
pub const DEFAULT_HEALTH_TIMEOUT_MS: u64 = 1_000;
/// Health-check thresholds when none are written: successes to mark healthy, failures to mark unhealthy.
pub const DEFAULT_HEALTH_THRESHOLDS: (u64, u64) = (1, 3);

/// Lowers the declarations of one service (in program order) into one service; without an
/// `identity` it gets the one derived from `trust_domain`, if any.
pub fn lower_service(
    cx: &EmitContext,
    declarations: &[&ast::Service],
    trust_domain: Option<&str>,
) -> Option<Service> {
    let first = declarations.first()?;
    let statements: Vec<&ServiceStatement> = declarations
        .iter()
        .flat_map(|s| s.statements.iter())
        .collect();
    let endpoints = statements
        .iter()
        .filter_map(|s| match s {
            ServiceStatement::Endpoints(list) => Some(list.node.iter().map(|e| e.node.clone())),
            _ => None,
        })
        .flatten()
        .collect();
    let balance = statements.iter().find_map(|s| match s {
        ServiceStatement::Balance(b) => Some(lower_balance(&b.node)),
        _ => None,
    });
    let timeout_ms = statements.iter().find_map(|s| match s {
        ServiceStatement::Timeout(t) => Some(t.node.millis),
        _ => None,
    });
    Some(Service {
        name: first.name.node.clone(),
        endpoints,
        balance: balance.unwrap_or(Balance::RoundRobin),
        timeout_ms: timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS),
        retry: statements.iter().find_map(|s| match s {
            ServiceStatement::Retry(r) => Some(lower_retry(r)),
            _ => None,
        }),
        circuit_breaker: statements.iter().find_map(|s| match s {
            ServiceStatement::CircuitBreaker(c) => Some(lower_circuit_breaker(c)),
            _ => None,
        }),
        health_check: statements.iter().find_map(|s| match s {
            ServiceStatement::HealthCheck(h) => Some(lower_health_check(h)),
            _ => None,
        }),
        identity: statements
            .iter()
            .find_map(|s| match s {
                ServiceStatement::Identity(i) => Some(i.node.clone()),
                _ => None,
            })
            .or_else(|| trust_domain.map(|domain| derived_identity(domain, &first.name.node))),
        protocol: statements
            .iter()
            .find_map(|s| match s {
                ServiceStatement::Protocol(p) => Some(lower_protocol(p.node)),
                _ => None,
            })
            .unwrap_or_default(),
        source: cx.location(first.span),
    })
}

fn lower_protocol(protocol: ast::Protocol) -> Protocol {
    match protocol {
        ast::Protocol::Http1 => Protocol::Http1,
        ast::Protocol::H2c => Protocol::H2c,
        ast::Protocol::H2 => Protocol::H2,
        ast::Protocol::Tcp => Protocol::Tcp,
    }
}

fn lower_balance(balance: &ast::Balance) -> Balance {
    match balance {
        ast::Balance::RoundRobin => Balance::RoundRobin,
        ast::Balance::Random => Balance::Random,
        ast::Balance::LeastRequest => Balance::LeastRequest,
        ast::Balance::Hash(cel) => Balance::Hash {
            cel: cel.source.clone(),
        },
    }
}

fn lower_retry(retry: &ast::Retry) -> Retry {
    let on = if retry.on.is_empty() {
        DEFAULT_RETRY_ON
            .iter()
            .map(|c| RetryOn::Condition(*c))
            .collect()
    } else {
        retry
            .on
            .iter()
            .map(|on| match on.node {
                ast::RetryOn::ConnectFailure => RetryOn::Condition(RetryCondition::ConnectFailure),
                ast::RetryOn::Reset => RetryOn::Condition(RetryCondition::Reset),
                ast::RetryOn::Timeout => RetryOn::Condition(RetryCondition::Timeout),
                ast::RetryOn::Status(status) => RetryOn::Status(status),
                ast::RetryOn::Grpc(grpc) => RetryOn::Grpc(GrpcRetry { grpc }),
            })
            .collect()
    };
    let (backoff_min_ms, backoff_max_ms) =
        backoff_bounds(retry.backoff.as_ref(), DEFAULT_BACKOFF_MS);
    Retry {
        attempts: retry.attempts.node,
        on,
        backoff_min_ms,
        backoff_max_ms,
        budget: retry.budget.as_ref().map(lower_retry_budget),
    }
}

/// Linkerd's defaults for what a budget line leaves out: 10 retries a second, a 10 s window.
pub const DEFAULT_BUDGET_MIN: (u64, u64) = (10, 1_000);
/// How long a budget remembers requests and retries when `window` is not written.
pub const DEFAULT_BUDGET_WINDOW_MS: u64 = 10_000;

fn lower_retry_budget(budget: &ast::RetryBudget) -> RetryBudget {
    let (min_retries, min_period_ms) = budget.min.as_ref().map_or(DEFAULT_BUDGET_MIN, |m| {
        (m.node.count, m.node.period.millis())
    });
    RetryBudget {
        percent: budget.percent.node.value,
        min_retries,
        min_period_ms,
        window_ms: budget
            .window
            .as_ref()
            .map_or(DEFAULT_BUDGET_WINDOW_MS, |w| w.node.millis.max(1)),
    }
}

/// `MIN..MAX` in milliseconds, or `default` when not written.
pub fn backoff_bounds(backoff: Option<&ast::Backoff>, default: (u64, u64)) -> (u64, u64) {
    backoff.map_or(default, |b| (b.min.node.millis, b.max.node.millis))
}

fn lower_circuit_breaker(breaker: &ast::CircuitBreaker) -> CircuitBreaker {
    let (errors, eject_ms, max_ejected) = DEFAULT_CIRCUIT_BREAKER;
    CircuitBreaker {
        consecutive_errors: breaker
            .consecutive_errors
            .as_ref()
            .map_or(errors, |n| n.node),
        eject_ms: breaker.eject.as_ref().map_or(eject_ms, |d| d.node.millis),
        max_ejected_percent: breaker
            .max_ejected
            .as_ref()
            .map_or(max_ejected, |p| p.node.value),
        failure_percentage: breaker
            .failure_percentage
            .as_ref()
            .map(|(p, min)| FailurePercentage {
                percent: p.node.value,
                min_requests: min
                    .as_ref()
                    .map_or(DEFAULT_FAILURE_PERCENTAGE_MIN_REQUESTS, |n| n.node),
            }),
        success_rate: breaker.success_rate.as_ref().map(|(_, min)| SuccessRate {
            min_requests: min
                .as_ref()
                .map_or(DEFAULT_SUCCESS_RATE_MIN_REQUESTS, |n| n.node),
        }),
        latency: breaker.latency.as_ref().map(|l| LatencyOutlier {
            factor_percent: l.factor_percent.node,
            min_requests: l
                .min_requests
                .as_ref()
                .map_or(DEFAULT_LATENCY_MIN_REQUESTS, |n| n.node),
            min_latency_ms: l
                .min_latency
                .as_ref()
                .map_or(DEFAULT_LATENCY_MIN_MS, |d| d.node.millis),
        }),
        interval_ms: (breaker.failure_percentage.is_some()
            || breaker.success_rate.is_some()
            || breaker.latency.is_some())
        .then(|| {
            breaker
                .interval
                .as_ref()
                .map_or(DEFAULT_OUTLIER_INTERVAL_MS, |d| d.node.millis.max(1))
        }),
        // The parser refuses 0 and values past u32.
        max_requests: breaker
            .max_requests
            .as_ref()
            .map(|n| u32::try_from(n.node).unwrap_or(u32::MAX).max(1)),
    }
}

/// Envoy's defaults for the detectors' volume thresholds and interval.
pub const DEFAULT_FAILURE_PERCENTAGE_MIN_REQUESTS: u64 = 50;
/// Requests an endpoint needs in an interval for the success-rate detector (Envoy: 100).
pub const DEFAULT_SUCCESS_RATE_MIN_REQUESTS: u64 = 100;
/// Answered requests an endpoint (and a peer) needs in an interval for the latency detector.
pub const DEFAULT_LATENCY_MIN_REQUESTS: u64 = 20;
/// The mean latency below which the latency detector never ejects.
pub const DEFAULT_LATENCY_MIN_MS: u64 = 10;
/// How often the detectors judge when `interval` is not written (Envoy: 10 s).
pub const DEFAULT_OUTLIER_INTERVAL_MS: u64 = 10_000;

fn lower_health_check(check: &ast::HealthCheck) -> HealthCheck {
    let interval_ms = check.every.node.millis;
    let (healthy, unhealthy) = DEFAULT_HEALTH_THRESHOLDS;
    let grpc_service = check.grpc.map(|_| check.path.node.clone());
    HealthCheck {
        method: match (&check.method, &grpc_service) {
            (_, Some(_)) => "POST".to_string(),
            (Some(method), None) => method.node.to_ascii_uppercase(),
            (None, None) => "GET".to_string(),
        },
        path: match &grpc_service {
            Some(_) => GRPC_HEALTH_CHECK_PATH.to_string(),
            None => check.path.node.clone(),
        },
        grpc_service,
        interval_ms,
        timeout_ms: check
            .timeout
            .as_ref()
            .map_or(DEFAULT_HEALTH_TIMEOUT_MS.min(interval_ms), |t| {
                t.node.millis
            }),
        healthy_threshold: check.healthy.as_ref().map_or(healthy, |n| n.node),
        unhealthy_threshold: check.unhealthy.as_ref().map_or(unhealthy, |n| n.node),
    }
}
