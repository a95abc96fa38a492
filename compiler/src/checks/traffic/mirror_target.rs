//! Mirrors that copy nothing or copy to the primary (W0252, W0253).
//!
//! *What*: a `mirror` on a route that does not `forward` (W0252: it is ignored: only forwarded
//! requests are copied); a `mirror` to a service the route already forwards to (W0253).
//! *Why*: a mirror exists to show a second service real traffic without touching the answer.
//! On a `respond` or `produce` route it never fires; to a target of the route's own forward it
//! sends that service each copied request twice (once answered, once dropped), doubling writes on
//! the service the clients depend on.
//! *Example*: `route r { match GET "/" public mirror picard forward picard }`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;

use super::{MIRROR_OF_PRIMARY, MIRROR_WITHOUT_FORWARD};

/// Every mirror that cannot do its job.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (_, route) in program.routes() {
        let Some(mirror) = route.mirror() else {
            continue;
        };
        let Some(forward) = route.forward() else {
            out.push(
                Diagnostic::warning(
                    &MIRROR_WITHOUT_FORWARD,
                    format!(
                        "route `{}` mirrors but does not forward: nothing is copied",
                        route.name.node
                    ),
                )
                .with_label(mirror.span, "only forwarded requests are mirrored")
                .with_help("remove the mirror, or move it to the route that forwards"),
            );
            continue;
        };
        if let Some(target) = forward
            .targets
            .iter()
            .find(|t| t.service.node == mirror.service.node)
        {
            out.push(
                Diagnostic::warning(
                    &MIRROR_OF_PRIMARY,
                    format!(
                        "route `{}` mirrors to `{}`, which it also forwards to",
                        route.name.node, mirror.service.node
                    ),
                )
                .with_label(mirror.service.span, "copies go here")
                .with_label(target.service.span, "and so do the requests themselves")
                .with_help("mirror to the new version of the service (e.g. `picard_v2`), not to the one that answers"),
            );
        }
    }
    out
}
