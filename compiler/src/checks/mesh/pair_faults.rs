//! Faults on mesh pairs: unconditioned (W0360) and never reached (W0361).
//!
//! *What*: W0360, a `fault SOURCE -> TARGETS …` in the mesh block without `when`; W0361, a fault
//! on a pair the mesh always denies (an unconditional deny rule or the default), so the sidecar
//! never gets to inject it.
//! *Why*: a pair fault without a condition fails or slows every call of the pair, not only the
//! test traffic of the team checking its client; a chaos line left in a bundle is an outage
//! between two services. A fault on a denied pair reads as a test that runs, but every call is
//! refused with 403 before the fault is drawn.
//! *Example*: `fault picard -> riker abort 10% 503` (W0360); `default deny` and
//! `fault picard -> data delay 10% 1s when …` with nothing allowing picard → data (W0361).

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;

use super::policy::{bundle_mesh, decide_in};
use super::{PAIR_FAULT_NEVER_REACHED, PAIR_FAULT_UNCONDITIONED};

/// Every pair fault that fires for every call of the pair, or never.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mesh = bundle_mesh(program);
    for fault in program.mesh_faults() {
        if fault.fault.when.is_none() {
            out.push(
                Diagnostic::warning(
                    &PAIR_FAULT_UNCONDITIONED,
                    format!(
                        "`fault {}` on `{} -> …` is injected into every call of the pair",
                        fault.fault.kind.keyword(),
                        fault.source.node
                    ),
                )
                .with_label(fault.span, "no `when` condition")
                .with_help("scope it to the calls under test: `when request.headers[\"x-chaos\"] == \"on\"`"),
            );
        }
        if fault.source.node == "*" {
            continue;
        }
        for target in fault.targets.iter().filter(|t| t.node != "*") {
            if !program.symbols.has_service(&target.node) {
                continue;
            }
            if decide_in(program, &mesh, &fault.source.node, &target.node).is_denied() {
                out.push(
                    Diagnostic::warning(
                        &PAIR_FAULT_NEVER_REACHED,
                        format!(
                            "the mesh denies every call from `{}` to `{}`: this fault never fires",
                            fault.source.node, target.node
                        ),
                    )
                    .with_label(target.span, "the mesh refuses this pair")
                    .with_help("allow the pair in the mesh block, or remove the fault"),
                );
            }
        }
    }
    out
}
