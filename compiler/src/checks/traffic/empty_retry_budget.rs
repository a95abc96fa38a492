//! A retry budget that allows no retry (W0251).
//!
//! *What*: a service's `retry N … budget 0%` with `min 0/…`: the budget never holds a retry.
//! *Why*: the retry line then does nothing at all, while it reads as if the service retried N
//! times; this is usually a placeholder or mixed-up units (`budget 0%` meant "no extra reserve").
//! *Example*: `service picard { endpoints […] retry 3 budget 0% min 0/s }`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;

use super::EMPTY_RETRY_BUDGET;

/// Every service whose retry budget holds no retry.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for service in &program.services {
        let Some(retry) = service.retry() else {
            continue;
        };
        let Some(budget) = &retry.budget else {
            continue;
        };
        let min_is_zero = budget.min.as_ref().is_some_and(|m| m.node.count == 0);
        if budget.percent.node.value == 0 && min_is_zero && retry.attempts.node > 0 {
            out.push(
                Diagnostic::warning(
                    &EMPTY_RETRY_BUDGET,
                    format!(
                        "`{}` never retries: its retry budget holds no retry",
                        service.name.node
                    ),
                )
                .with_label(budget.span, "0% of requests and no minimum")
                .with_label(retry.attempts.span, "these retries never happen")
                .with_help("allow a share (`budget 20%`) or a minimum (`min 10/s`), or remove the retry line"),
            );
        }
    }
    out
}
