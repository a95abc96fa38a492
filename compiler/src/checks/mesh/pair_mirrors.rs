//! Mirrors on mesh pairs: from a gateway (E0362), to one of their own targets (W0362), to a
//! service the mesh denies to the caller (W0363).
//!
//! *What*: E0362, `mirror edge -> riker to riker_v2` where `edge` is a gateway; W0362, a mirror
//! service that is also a target of the line; W0363, a mirror service the caller may never call.
//! *Why*: mesh mirrors are made by the caller's outbound sidecar, which a gateway does not have
//! (its routes mirror); a target mirrored to itself gets every copied call twice; copies go out
//! with the caller's identity, so a denied mirror refuses every copy, unseen.
//! *Example*: `default deny  allow picard -> riker  mirror picard -> riker to riker_v2 10%` (W0363).

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;

use super::policy::{bundle_mesh, decide_in, MeshDecision};
use super::{PAIR_MIRROR_DENIED, PAIR_MIRROR_FROM_GATEWAY, PAIR_MIRROR_OF_TARGET};

/// Every mesh mirror that copies nothing, copies to its own target, or is refused.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mesh = bundle_mesh(program);
    for line in program.mesh_mirrors() {
        let service = &line.mirror.service;
        let source = line.source.node.as_str();
        if program.symbols.has_gateway(source) {
            out.push(
                Diagnostic::error(
                    &PAIR_MIRROR_FROM_GATEWAY,
                    format!("`{source}` is a gateway: it has no sidecar to make mesh mirrors"),
                )
                .with_label(line.source.span, "a gateway")
                .with_help(format!(
                    "put `mirror {}` on the route of `{source}` that forwards to the target",
                    service.node
                )),
            );
            continue;
        }
        if let Some(target) = line.targets.iter().find(|t| t.node == service.node) {
            out.push(
                Diagnostic::warning(
                    &PAIR_MIRROR_OF_TARGET,
                    format!(
                        "`{}` would get each copied call twice: once answered, once mirrored",
                        service.node
                    ),
                )
                .with_label(service.span, "the mirror")
                .with_label(target.span, "also called here")
                .with_help("mirror to the new version, not to the service being called"),
            );
        }
        if source == "*" || !program.symbols.has_service(&service.node) {
            continue;
        }
        let denied_at = match decide_in(program, &mesh, source, &service.node) {
            MeshDecision::DeniedByRule { deny, .. } => (deny.span, "denied by this rule"),
            MeshDecision::DeniedByDefault(default) => (default.span, "the mesh denies by default"),
            _ => continue,
        };
        out.push(
            Diagnostic::warning(
                &PAIR_MIRROR_DENIED,
                format!(
                    "the mesh denies `{source}` -> `{}`: every copy would be refused, unseen",
                    service.node
                ),
            )
            .with_label(service.span, "the mirror")
            .with_label(denied_at.0, denied_at.1)
            .with_help(format!(
                "allow `{source} -> {}` in the mesh block, or remove the mirror",
                service.node
            )),
        );
    }
    out
}
