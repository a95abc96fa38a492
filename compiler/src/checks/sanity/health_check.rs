//! Health checks that cannot work (E0706).
//!
//! *What*: a probe timeout longer than its interval, a `healthy` or `unhealthy` threshold of 0,
//! or a path without a leading `/`.
//! *Why*: overlapping probes pile up against a struggling endpoint; a zero threshold flips an
//! endpoint on no evidence; a path without `/` is not a request target.
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
            if !check.path.node.starts_with('/') {
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
