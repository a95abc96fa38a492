//! `service NAME { … }`: one statement per line; a service with a single statement fits on one
//! line (`service riker { endpoints ["127.0.0.1:9103"] }`).

use crate::syntax::ast::*;

use super::layout::{Block, Entry, Fold, Line};
use super::literals::{backoff, duration, list, percent, rate, string};
use super::source_scan::SourceText;

/// The service block.
pub fn service(source: &SourceText<'_>, service: &Service) -> Entry {
    Block {
        head: format!("service {}", service.name.node),
        open: source.open_brace(service.name.span.end as usize),
        close: service.span.end as usize - 1,
        children: service
            .statements
            .iter()
            .map(|s| statement(source, s))
            .collect(),
        // Two statements on one line could read as one: `health_check "/h" every 5s  timeout 2s`.
        fold: Fold::UpTo(1),
    }
    .at(service.span.start as usize)
}

fn statement(source: &SourceText<'_>, statement: &ServiceStatement) -> Entry {
    let span = statement.span();
    let line = match statement {
        ServiceStatement::Endpoints(endpoints) => Line::new().text("endpoints").part(list(
            source,
            &endpoints.node,
            |e| string(&e.node),
            |e| e.span,
        )),
        ServiceStatement::Balance(balance) => match &balance.node {
            Balance::RoundRobin => Line::new().text("balance round_robin"),
            Balance::Random => Line::new().text("balance random"),
            Balance::LeastRequest => Line::new().text("balance least_request"),
            Balance::Hash(expression) => Line::new()
                .text("balance")
                .cel(&format!("hash({})", expression.source)),
        },
        ServiceStatement::Timeout(timeout) => {
            Line::new().text("timeout").text(duration(timeout.node))
        }
        ServiceStatement::Retry(retry) => retry_line(source, retry),
        ServiceStatement::CircuitBreaker(breaker) => return circuit_breaker(source, breaker),
        ServiceStatement::HealthCheck(check) => health_check_line(check),
        ServiceStatement::Identity(identity) => {
            Line::new().text("identity").text(string(&identity.node))
        }
        ServiceStatement::Protocol(protocol) => {
            Line::new().text("protocol").text(match protocol.node {
                Protocol::Http1 => "http1",
                Protocol::H2c => "h2c",
                Protocol::H2 => "h2",
                Protocol::Tcp => "tcp",
            })
        }
    };
    line.at(span.start as usize, span.end as usize)
}

/// `retry N [on […]] [backoff MIN..MAX] [budget P% [min RATE] [window D]]`.
fn retry_line(source: &SourceText<'_>, retry: &Retry) -> Line {
    let mut line = Line::new()
        .text("retry")
        .text(retry.attempts.node.to_string());
    if !retry.on.is_empty() {
        let on = list(
            source,
            &retry.on,
            |on| match on.node {
                RetryOn::ConnectFailure => "connect_failure".to_string(),
                RetryOn::Reset => "reset".to_string(),
                RetryOn::Timeout => "timeout".to_string(),
                RetryOn::Status(code) => code.to_string(),
                RetryOn::Grpc(code) => format!(
                    "grpc {}",
                    meshwork_bundle::grpc_status::grpc_code_name(code).unwrap_or("unknown")
                ),
            },
            |on| on.span,
        );
        line = line.text("on").part(on);
    }
    line.maybe(
        retry
            .backoff
            .as_ref()
            .map(|b| format!("backoff {}", backoff(b))),
    )
    .maybe(retry.budget.as_ref().map(retry_budget))
}

/// `budget P% [min RATE] [window D]`.
fn retry_budget(budget: &RetryBudget) -> String {
    let mut text = format!("budget {}", percent(budget.percent.node));
    if let Some(min) = &budget.min {
        text.push_str(&format!(" min {}", rate(min.node)));
    }
    if let Some(window) = &budget.window {
        text.push_str(&format!(" window {}", duration(window.node)));
    }
    text
}

/// `circuit_breaker { consecutive_errors N  eject D  max_ejected P% }`, on one line when it fits.
fn circuit_breaker(source: &SourceText<'_>, breaker: &CircuitBreaker) -> Entry {
    let open = source.open_brace(breaker.span.start as usize + "circuit_breaker".len());
    let mut children = Vec::new();
    let setting = |keyword: &str, value: String, span: crate::source::Span| {
        let start = source
            .find_word(open, span.start as usize, keyword)
            .map(|(s, _)| s)
            .unwrap_or(span.start as usize);
        Line::new()
            .text(keyword)
            .text(value)
            .at(start, span.end as usize)
    };
    if let Some(n) = &breaker.consecutive_errors {
        children.push(setting("consecutive_errors", n.node.to_string(), n.span));
    }
    if let Some(d) = &breaker.eject {
        children.push(setting("eject", duration(d.node), d.span));
    }
    if let Some(p) = &breaker.max_ejected {
        children.push(setting("max_ejected", percent(p.node), p.span));
    }
    let with_min = |text: String, min: &Option<crate::source::Spanned<u64>>| match min {
        Some(n) => format!("{text} min_requests {}", n.node),
        None => text,
    };
    if let Some((p, min)) = &breaker.failure_percentage {
        let end = min.as_ref().map_or(p.span, |n| n.span);
        children.push(setting(
            "failure_percentage",
            with_min(percent(p.node), min),
            p.span.to(end),
        ));
    }
    if let Some((at, min)) = &breaker.success_rate {
        let end = min.as_ref().map_or(*at, |n| n.span);
        let text = with_min(String::new(), min);
        children.push(
            Line::new()
                .text(format!("success_rate{text}"))
                .at(at.start as usize, end.end as usize),
        );
    }
    if let Some(l) = &breaker.latency {
        let mut text = format!("latency {}", factor(l.factor_percent.node));
        if let Some(n) = &l.min_requests {
            text.push_str(&format!(" min_requests {}", n.node));
        }
        if let Some(d) = &l.min_latency {
            text.push_str(&format!(" min_latency {}", duration(d.node)));
        }
        children.push(
            Line::new()
                .text(text)
                .at(l.span.start as usize, l.span.end as usize),
        );
    }
    if let Some(d) = &breaker.interval {
        children.push(setting("interval", duration(d.node), d.span));
    }
    if let Some(n) = &breaker.max_requests {
        children.push(setting("max_requests", n.node.to_string(), n.span));
    }
    Block {
        head: "circuit_breaker".to_string(),
        open,
        close: breaker.span.end as usize - 1,
        children,
        fold: Fold::UpTo(usize::MAX),
    }
    .at(breaker.span.start as usize)
}

/// `health_check [METHOD | grpc] "PATH" every D [timeout D] [healthy N] [unhealthy N]`.
fn health_check_line(check: &HealthCheck) -> Line {
    Line::new()
        .text("health_check")
        .maybe(check.method.as_ref().map(|m| m.node.clone()))
        .maybe(check.grpc.map(|_| "grpc".to_string()))
        .text(string(&check.path.node))
        .text(format!("every {}", duration(check.every.node)))
        .maybe(
            check
                .timeout
                .as_ref()
                .map(|t| format!("timeout {}", duration(t.node))),
        )
        .maybe(
            check
                .healthy
                .as_ref()
                .map(|n| format!("healthy {}", n.node)),
        )
        .maybe(
            check
                .unhealthy
                .as_ref()
                .map(|n| format!("unhealthy {}", n.node)),
        )
}

/// A factor in percent as written: `3x`, `1.5x`, `1.25x`.
fn factor(percent: u32) -> String {
    let (whole, fraction) = (percent / 100, percent % 100);
    match fraction {
        0 => format!("{whole}x"),
        f if f % 10 == 0 => format!("{whole}.{}x", f / 10),
        f => format!("{whole}.{f:02}x"),
    }
}
