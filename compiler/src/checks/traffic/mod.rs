//! Traffic-management checks: injected faults (and, beside them, retry budgets, mirrors and
//! outlier detection as they arrive). Codes W0250–W0269 / E0250–E0269. One file per rule.

pub mod unconditional_fault;

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;

crate::diagnostics::codes::codes! {
    /// A fault on a route others can reach fires for every caller.
    UNCONDITIONAL_FAULT = "W0250", "fault injected for every caller",
        "A route has a `fault abort` or `fault delay` without a `when` condition, and its gateway listens on an address that is not loopback-only. Every client that reaches the route, not only the team testing its resilience, gets the injected errors or delays: a chaos test left in a bundle becomes an outage. Istio and Kuma faults are usually scoped the same way, by a header or a source.",
        "Scope the fault to the callers under test with `when` (e.g. `when request.headers[\"x-chaos\"] == \"on\"`), or acknowledge a deliberate one with `meshc check --allow W0250`.",
        "gateway edge {\n  listen \"0.0.0.0:8080\"\n  route r { match GET \"/\" public fault abort 10% 503 respond 200 \"ok\" }\n}";
}

/// Every traffic-management check.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    unconditional_fault::check(program)
}
