//! Services that speak plain TCP (`protocol tcp`): HTTP sent to one (E0308), an HTTP setting on
//! one (E0309), a request condition, fault or mirror on a call to one (E0310). One without a mesh
//! identity is E0304 ([`super::identities`]).
//!
//! *What*: a route's `forward` or `mirror`, or a stream's `deliver`, naming a tcp service; a tcp
//! service with `timeout`, `retry`, `circuit_breaker`, `health_check` or `balance hash(…)`; a
//! mesh `allow`/`deny` with `when`, a `fault` or a `mirror` naming a tcp service as its target.
//! *Why*: only the mesh's sidecars carry TCP, as a byte stream inside mutual TLS, allowed or
//! refused by the caller's verified identity alone. There is no request to route, time, retry,
//! probe, hash, read a condition on, fault or copy.
//! *Example*: `service db { endpoints ["127.0.0.1:5432"] protocol tcp retry 2 }`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::source::Span;
use crate::syntax::ast::{self, Balance, Protocol};

use super::{HTTP_TO_TCP_SERVICE, REQUEST_RULE_ON_TCP, TCP_SERVICE_HTTP_SETTING};

/// Every use of a tcp service that assumes HTTP.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let speaks_tcp =
        |service: &ast::Service| service.protocol().is_some_and(|p| p.node == Protocol::Tcp);
    // Most programs have none: their routes and rules are not walked (100k routes, 100k uses).
    if !program.services.iter().any(|s| speaks_tcp(s)) {
        return Vec::new();
    }
    let is_tcp = |name: &str| program.service(name).is_some_and(speaks_tcp);
    let mut http_uses: Vec<(String, &ast::Ident)> = Vec::new();
    for (_, route) in program.routes() {
        let name = &route.name.node;
        if let Some(forward) = route.forward() {
            for target in &forward.targets {
                http_uses.push((format!("route `{name}` forwards"), &target.service));
            }
        }
        if let Some(mirror) = route.mirror() {
            http_uses.push((format!("route `{name}` mirrors"), &mirror.service));
        }
    }
    for stream in &program.streams {
        if let Some(deliver) = stream.deliver() {
            let what = format!("stream `{}` delivers records", stream.name.node);
            http_uses.push((what, &deliver.service));
        }
    }
    for mirror in program.mesh_mirrors() {
        let what = "a mesh `mirror` copies calls".to_string();
        http_uses.push((what, &mirror.mirror.service));
    }
    let mut out: Vec<Diagnostic> = http_uses
        .into_iter()
        .filter(|(_, service)| is_tcp(&service.node))
        .map(|(what, service)| {
            Diagnostic::error(
                &HTTP_TO_TCP_SERVICE,
                format!("{what} over HTTP to `{}`, which speaks tcp", service.node),
            )
            .with_label(service.span, "a tcp service: only the mesh's sidecars reach it")
            .with_help(format!(
                "call `{}` from a service's app through its sidecar (`meshd sidecar --tcp {}=ADDRESS`), or point this at an HTTP service",
                service.node, service.node
            ))
        })
        .collect();
    for service in program.services.iter().copied().filter(|s| speaks_tcp(s)) {
        out.extend(http_settings(service));
    }
    let mut pairs: Vec<(&str, &[ast::Ident], Span, &str)> = Vec::new();
    for rule in program.mesh_rules() {
        if let Some(when) = &rule.when {
            pairs.push((
                "a mesh rule with `when`",
                &rule.targets,
                when.span,
                "a connection has no request for the condition to read",
            ));
        }
    }
    for fault in program.mesh_faults() {
        pairs.push((
            "a mesh `fault`",
            &fault.targets,
            fault.span,
            "a connection has no request to abort or delay",
        ));
    }
    for mirror in program.mesh_mirrors() {
        pairs.push((
            "a mesh `mirror`",
            &mirror.targets,
            mirror.span,
            "a connection has no request to copy",
        ));
    }
    for (line, targets, at, why) in pairs {
        for target in targets.iter().filter(|t| is_tcp(&t.node)) {
            out.push(
                Diagnostic::error(
                    &REQUEST_RULE_ON_TCP,
                    format!("{line} names `{}`, which speaks tcp: {why}", target.node),
                )
                .with_label(target.span, "a tcp service")
                .with_label(at, "needs a request")
                .with_help("a call to a tcp service is allowed or refused by its caller alone: write the rule without it, or drop the service from the line"),
            );
        }
    }
    out
}

/// The settings of a tcp service that only an HTTP request gives a meaning to.
fn http_settings(service: &ast::Service) -> Vec<Diagnostic> {
    let mut found: Vec<(&str, Span)> = Vec::new();
    if let Some(timeout) = service.timeout() {
        found.push(("timeout", timeout.span));
    }
    if let Some(retry) = service.retry() {
        found.push(("retry", retry.span));
    }
    if let Some(breaker) = service.circuit_breaker() {
        found.push(("circuit_breaker", breaker.span));
    }
    if let Some(check) = service.health_check() {
        found.push(("health_check", check.span));
    }
    if let Some(balance) = service
        .balance()
        .filter(|b| matches!(b.node, Balance::Hash(_)))
    {
        found.push(("balance hash(…)", balance.span));
    }
    found
        .into_iter()
        .map(|(setting, span)| {
            Diagnostic::error(
                &TCP_SERVICE_HTTP_SETTING,
                format!(
                    "service `{}` speaks tcp, where `{setting}` has no request to apply to",
                    service.name.node
                ),
            )
            .with_label(span, "needs HTTP requests")
            .with_help("remove it: a tcp connection lasts as long as its two ends keep it, and its endpoint is picked with `balance round_robin`, `random` or `least_request`")
        })
        .collect()
}
