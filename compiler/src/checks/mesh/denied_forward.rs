//! A route forwarding to a service the mesh denies (E0300).
//!
//! *What*: a gateway route forwards to a service, and the mesh policy (deny beats allow, then the
//! default) refuses every call from that gateway to it.
//! *Why*: every request on the route would fail with 403 at the mesh; in Istio or Kuma this
//! surfaces as "RBAC: access denied" in production, with no hint at deploy time.
//! *Example*: `mesh { default deny }` and a route that does `forward picard`.

use std::collections::HashMap;

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;

use super::policy::{bundle_mesh, decide_in, MeshDecision};
use super::FORWARD_DENIED_BY_MESH;

/// Every forward target the mesh denies.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mesh = bundle_mesh(program);
    let mut decisions: HashMap<(&str, &str), MeshDecision> = HashMap::new();
    let mut out = Vec::new();
    for (gateway, route) in program.routes() {
        let Some(forward) = route.forward() else {
            continue;
        };
        for target in &forward.targets {
            let service = target.service.node.as_str();
            if !program.symbols.has_service(service) {
                continue;
            }
            let gateway_name = gateway.name.node.as_str();
            let decision = *decisions
                .entry((gateway_name, service))
                .or_insert_with(|| decide_in(program, &mesh, gateway_name, service));
            let diagnostic = match decision {
                MeshDecision::DeniedByRule { deny, overridden } => {
                    let mut d = Diagnostic::error(&FORWARD_DENIED_BY_MESH, format!("route `{}` forwards to `{service}`, which the mesh denies to `{gateway_name}`", route.name.node))
                        .with_label(target.service.span, "every request here would be refused")
                        .with_label(deny.span, "denied by this rule");
                    if let Some(allow) = overridden {
                        d = d.with_label(allow.span, "this allow does not help: deny beats allow");
                    }
                    d.with_help(format!("narrow the deny rule (or give it a `when`), or forward to another service than `{service}`"))
                }
                MeshDecision::DeniedByDefault(default) => Diagnostic::error(
                    &FORWARD_DENIED_BY_MESH,
                    format!("route `{}` forwards to `{service}`, but no mesh rule allows `{gateway_name}` to call it", route.name.node),
                )
                .with_label(target.service.span, "every request here would be refused")
                .with_label(default.span, "the mesh denies by default")
                .with_help(format!("add `allow {gateway_name} -> {service}` to the mesh block")),
                _ => continue,
            };
            out.push(diagnostic);
        }
    }
    out
}
