//! Retries on timeout that cannot fit in a route's deadline (W0707).
//!
//! *What*: a route with a `timeout` forwards to a service that retries `on [timeout]`, and the
//! tries the service's per-try `timeout` allows, with the backoff between them, do not fit in the
//! route's timeout: some (or all) of the retries written can never start when the upstream
//! stops answering.
//! *Why*: the route's `timeout` is the whole request's deadline across retries, the service's
//! `timeout` is per try, and a retry that cannot start before the deadline is not made (as in
//! Envoy). `timeout 2s` per try with `retry 3 on [timeout]` under a 3 s route deadline makes at
//! most one retry: the other two are dead configuration, and the capacity plan that counted on
//! them is wrong. (A route timeout shorter than even the first backoff is E0700.)
//! *Example*: `route r { … timeout 3s forward picard }` with
//! `service picard { timeout 2s retry 3 on [timeout] }`.

use std::collections::HashSet;

use crate::diagnostics::Diagnostic;
use crate::emit::{DEFAULT_BACKOFF_MS, DEFAULT_TIMEOUT_MS};
use crate::resolve::Program;
use crate::syntax::ast;

use super::RETRY_BUDGET;

/// Every route deadline that cuts off retries on timeout.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (_, route) in program.routes() {
        let (Some(forward), Some(deadline)) = (route.forward(), route_timeout(route)) else {
            continue;
        };
        let mut seen = HashSet::new();
        for target in &forward.targets {
            let name = target.service.node.as_str();
            if !seen.insert(name) {
                continue;
            }
            let Some(service) = program.service(name) else {
                continue;
            };
            let Some(retry) = service
                .retry()
                .filter(|r| r.attempts.node > 0)
                .filter(|r| r.on.iter().any(|on| on.node == ast::RetryOn::Timeout))
            else {
                continue;
            };
            let per_try = service
                .timeout()
                .map_or(DEFAULT_TIMEOUT_MS, |t| t.node.millis);
            let (backoff_min, backoff_max) =
                retry.backoff.as_ref().map_or(DEFAULT_BACKOFF_MS, |b| {
                    (b.min.node.millis, b.max.node.millis)
                });
            if deadline.node.millis < backoff_min {
                continue; // E0700 already says no retry of any kind can start.
            }
            let attempts = retry.attempts.node;
            let fit = retries_that_start(
                deadline.node.millis,
                per_try,
                attempts,
                backoff_min,
                backoff_max,
            );
            if fit >= attempts {
                continue;
            }
            let what = if fit == 0 {
                "no retry on timeout can start".to_string()
            } else {
                format!("only {fit} of the {attempts} retries on timeout can start")
            };
            let mut d = Diagnostic::warning(
                &RETRY_BUDGET,
                format!(
                    "{what} within route `{}`'s {}ms deadline: each try of `{name}` waits up to {per_try}ms",
                    route.name.node, deadline.node.millis
                ),
            )
            .with_label(deadline.span, "the whole request, retries included, ends here")
            .with_label(retry.span, format!("{attempts} retries on timeout written"));
            if let Some(timeout) = service.timeout() {
                d = d.with_label(timeout.span, "per try");
            }
            let needed = budget(per_try, attempts, backoff_min, backoff_max);
            let fewer = match fit {
                0 => "or do not retry on timeout".to_string(),
                1 => "or retry once".to_string(),
                n => format!("or retry {n} times"),
            };
            out.push(d.with_help(format!(
                "give the route at least {needed}ms (every try plus the backoff), shorten `{name}`'s per-try timeout, {fewer}"
            )));
        }
    }
    out
}

fn route_timeout(route: &ast::Route) -> Option<&crate::source::Spanned<ast::Duration>> {
    route.statements.iter().find_map(|s| match s {
        ast::RouteStatement::Timeout(t) => Some(t),
        _ => None,
    })
}

/// The wait before retry `k` (0-based): exponential from the minimum, capped at the maximum.
fn step(k: u64, min: u64, max: u64) -> u64 {
    let doubled = min.saturating_mul(1u64 << k.min(40));
    doubled.min(max.max(min))
}

/// How many retries can start before `deadline` when every try runs to `per_try`: retry `k`
/// starts after `k` tries and the backoff before each, at its shortest (the runtime waits between
/// half the step and the whole step).
pub fn retries_that_start(deadline: u64, per_try: u64, attempts: u64, min: u64, max: u64) -> u64 {
    let mut started_at: u64 = 0;
    for k in 0..attempts {
        started_at = started_at
            .saturating_add(per_try)
            .saturating_add(step(k, min, max) / 2);
        if started_at >= deadline {
            return k;
        }
    }
    attempts
}

/// The longest the tries and backoffs can take: every try to `per_try`, every wait its whole step.
fn budget(per_try: u64, attempts: u64, min: u64, max: u64) -> u64 {
    (0..attempts).fold(per_try, |total, k| {
        total
            .saturating_add(step(k, min, max))
            .saturating_add(per_try)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_start_while_the_deadline_allows() {
        // 2 s tries, 25 ms backoff: the first retry starts at 2.0125 s, the second at 4.0375 s.
        assert_eq!(retries_that_start(3_000, 2_000, 3, 25, 250), 1);
        assert_eq!(retries_that_start(5_000, 2_000, 3, 25, 250), 2);
        assert_eq!(retries_that_start(7_000, 2_000, 3, 25, 250), 3);
        assert_eq!(retries_that_start(2_000, 2_000, 3, 25, 250), 0);
    }

    #[test]
    fn the_budget_counts_every_try_and_whole_backoff() {
        assert_eq!(budget(2_000, 3, 25, 250), 4 * 2_000 + 25 + 50 + 100);
        assert_eq!(budget(100, 2, 200, 250), 3 * 100 + 200 + 250);
    }
}
