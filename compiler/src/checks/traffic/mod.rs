//! Traffic-management checks: injected faults (and, beside them, retry budgets, mirrors and
//! outlier detection as they arrive). Codes W0250–W0269 / E0250–E0269. One file per rule.

pub mod empty_retry_budget;
pub mod unconditional_fault;

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;

crate::diagnostics::codes::codes! {
    /// A fault on a route others can reach fires for every caller.
    UNCONDITIONAL_FAULT = "W0250", "fault injected for every caller",
        "A route has a `fault abort` or `fault delay` without a `when` condition, and its gateway listens on an address that is not loopback-only. Every client that reaches the route, not only the team testing its resilience, gets the injected errors or delays: a chaos test left in a bundle becomes an outage. Istio and Kuma faults are usually scoped the same way, by a header or a source.",
        "Scope the fault to the callers under test with `when` (e.g. `when request.headers[\"x-chaos\"] == \"on\"`), or acknowledge a deliberate one with `meshc check --allow W0250`.",
        "gateway edge {\n  listen \"0.0.0.0:8080\"\n  route r { match GET \"/\" public fault abort 10% 503 respond 200 \"ok\" }\n}";
    /// A retry budget that can never hold a retry.
    EMPTY_RETRY_BUDGET = "W0251", "retry budget allows no retry",
        "A service's retry line has `budget 0%` with `min 0/…`: over any window the budget holds no retry, so the `retry N` written never happens, although it reads as if the service retried. A budget caps retries at `P%` of the requests over its window plus the `min` rate (Linkerd's retry budget; defaults `min 10/s`, `window 10s`).",
        "Allow a share (`budget 20%`) or a minimum (`min 10/s`), or remove the retry line.",
        "service picard {\n  endpoints [\"127.0.0.1:9101\"]\n  retry 3 on [503] budget 0% min 0/s\n}";
}

/// Every traffic-management check.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = unconditional_fault::check(program);
    out.extend(empty_retry_budget::check(program));
    out
}
