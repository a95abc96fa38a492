//! gRPC towards a service that speaks HTTP/1.1 (W0265), and retries on gRPC statuses of such a
//! service (W0266).
//!
//! *What*: a route matches `grpc "…"` and forwards to a service without `protocol h2c` or
//! `protocol h2`; or a service retries `on [grpc …]` and speaks HTTP/1.1.
//! *Why*: gRPC needs HTTP/2 end to end (its status travels in trailers, which HTTP/1.1 proxies
//! drop), so meshd would call the service over HTTP/1.1 and every call would fail at the client;
//! a gRPC status is never seen on an HTTP/1.1 answer, so the retry never fires.
//! *Example*: `route log { match grpc "starfleet.Log" public forward picard }` with
//! `service picard { endpoints ["127.0.0.1:9101"] }`.

use std::collections::HashSet;

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::syntax::ast::{self, Protocol};

use super::{GRPC_RETRY_OVER_HTTP1, GRPC_TO_HTTP1};

/// Every gRPC route forwarding to an HTTP/1.1 service, and every gRPC retry of one.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let speaks_http2 = |service: &ast::Service| {
        service
            .protocol()
            .is_some_and(|p| matches!(p.node, Protocol::H2c | Protocol::H2))
    };
    for (_, route) in program.routes() {
        let (Some(matcher), Some(forward)) = (route.matcher(), route.forward()) else {
            continue;
        };
        let Some(grpc) = &matcher.grpc else {
            continue;
        };
        let mut seen = HashSet::new();
        for target in &forward.targets {
            let name = target.service.node.as_str();
            let Some(service) = program.service(name).filter(|_| seen.insert(name)) else {
                continue;
            };
            if speaks_http2(service) {
                continue;
            }
            out.push(
                Diagnostic::warning(
                    &GRPC_TO_HTTP1,
                    format!(
                        "route `{}` matches gRPC calls but forwards them to `{name}`, which speaks HTTP/1.1",
                        route.name.node
                    ),
                )
                .with_label(grpc.span, "a gRPC match")
                .with_label(target.service.span, "this service has no `protocol h2c` or `protocol h2`")
                .with_help(format!(
                    "add `protocol h2c` (plaintext HTTP/2) or `protocol h2` (HTTP/2 over TLS) to service `{name}`"
                )),
            );
        }
    }
    for service in program.services.iter().copied() {
        let Some(retry) = service.retry() else {
            continue;
        };
        let Some(grpc) = retry
            .on
            .iter()
            .find(|on| matches!(on.node, ast::RetryOn::Grpc(_)))
        else {
            continue;
        };
        if speaks_http2(service) {
            continue;
        }
        out.push(
            Diagnostic::warning(
                &GRPC_RETRY_OVER_HTTP1,
                format!(
                    "service `{}` retries on a gRPC status but speaks HTTP/1.1, where no gRPC status arrives",
                    service.name.node
                ),
            )
            .with_label(grpc.span, "never fires over HTTP/1.1")
            .with_help("add `protocol h2c` or `protocol h2` to the service, or retry on HTTP statuses"),
        );
    }
    out
}
