//! Health checks that cannot work (E0706).
//!
//! *What*: a probe timeout longer than its interval, a `healthy` or `unhealthy` threshold of 0,
//! a path without a leading `/`, or `health_check grpc` on a service without `protocol h2c|h2`.
//! *Why*: overlapping probes pile up against a struggling endpoint; a zero threshold flips an
//! endpoint on no evidence; a path without `/` is not a request target; the gRPC health checking
//! protocol runs over HTTP/2 only.
//! *Example*: `health_check GET "/healthz" every 1s timeout 5s`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::syntax::ast;

use super::INVALID_HEALTH_CHECK;

/// Every impossible health check.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for service in &program.services {
        for statement in &service.statements {
            let ast::ServiceStatement::HealthCheck(check) = statement else {
                continue;
            };
            if let Some(timeout) = check
                .timeout
                .as_ref()
                .filter(|t| t.node.millis > check.every.node.millis)
            {
                out.push(
                    Diagnostic::error(
                        &INVALID_HEALTH_CHECK,
                        format!(
                            "probe timeout {}ms is longer than the interval {}ms",
                            timeout.node.millis, check.every.node.millis
                        ),
                    )
                    .with_label(timeout.span, "probes would overlap")
                    .with_label(check.every.span, "the next probe starts here")
                    .with_help("keep the timeout at or below the interval"),
                );
            }
            for threshold in [&check.healthy, &check.unhealthy].into_iter().flatten() {
                if threshold.node == 0 {
                    out.push(
                        Diagnostic::error(
                            &INVALID_HEALTH_CHECK,
                            "a health threshold of 0 changes state without any probe",
                        )
                        .with_label(threshold.span, "needs at least 1")
                        .with_help("leave it out for the default, or give 1 or more"),
                    );
                }
            }
            if let Some(grpc) = check.grpc {
                let http2 = service
                    .protocol()
                    .is_some_and(|p| p.node != ast::Protocol::Http1);
                if !http2 {
                    out.push(
                        Diagnostic::error(
                            &INVALID_HEALTH_CHECK,
                            format!(
                                "service `{}` is checked with gRPC but does not speak HTTP/2",
                                service.name.node
                            ),
                        )
                        .with_label(grpc, "the gRPC health checking protocol runs over HTTP/2")
                        .with_help("add `protocol h2c` (or `h2` over TLS) to the service"),
                    );
                }
            } else if !check.path.node.starts_with('/') {
                out.push(
                    Diagnostic::error(
                        &INVALID_HEALTH_CHECK,
                        format!(
                            "health check path \"{}\" does not start with `/`",
                            check.path.node
                        ),
                    )
                    .with_label(check.path.span, "not a request path")
                    .with_help(format!("write \"/{}\"", check.path.node)),
                );
            }
        }
    }
    out
}
