//! A mirror to a service the mesh denies to the gateway (W0254).
//!
//! *What*: a route mirrors to a service, and the mesh policy (deny beats allow, then the default)
//! refuses every call from the route's gateway to it.
//! *Why*: every copy is refused at the mirror with 403, and since copies are fire and forget
//! nobody sees it: the new version looks idle rather than broken. (A forward the mesh denies is
//! E0300, an error, since clients would see it.)
//! *Example*: `mesh { default deny allow edge -> picard }` and a route with `mirror picard_v2`.

use crate::checks::mesh::policy::{bundle_mesh, decide_in, MeshDecision};
use crate::diagnostics::Diagnostic;
use crate::resolve::Program;

use super::MIRROR_DENIED_BY_MESH;

/// Every mirror whose copies the mesh would refuse.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mesh = bundle_mesh(program);
    let mut out = Vec::new();
    for (gateway, route) in program.routes() {
        let Some(mirror) = route.mirror() else {
            continue;
        };
        let service = mirror.service.node.as_str();
        if !program.symbols.has_service(service) {
            continue;
        }
        let gateway_name = gateway.name.node.as_str();
        let denied_at = match decide_in(program, &mesh, gateway_name, service) {
            MeshDecision::DeniedByRule { deny, .. } => (deny.span, "denied by this rule"),
            MeshDecision::DeniedByDefault(default) => (default.span, "the mesh denies by default"),
            _ => continue,
        };
        out.push(
            Diagnostic::warning(
                &MIRROR_DENIED_BY_MESH,
                format!(
                    "route `{}` mirrors to `{service}`, which the mesh denies to `{gateway_name}`: every copy would be refused, unseen",
                    route.name.node
                ),
            )
            .with_label(mirror.service.span, "copies go here")
            .with_label(denied_at.0, denied_at.1)
            .with_help(format!("add `allow {gateway_name} -> {service}` to the mesh block, or remove the mirror")),
        );
    }
    out
}
