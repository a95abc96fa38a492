//! A stream delivering to a service the mesh does not let it call (E0307).
//!
//! *What*: a stream's `deliver SERVICE` where the mesh policy refuses every call from the
//! stream's identity to that service (an unconditional deny, or no allow under `default deny`).
//! *Which identity*: streams run in the process that runs the program's gateway (`meshd run`),
//! so their deliveries carry the gateway's identity, as a sidecar-less worker in the gateway's
//! pod would under Linkerd or Kuma. With one gateway, the rules for that gateway decide; with
//! several, a delivery is reported only when the mesh denies it to every one of them; with none,
//! the stream has no identity, so only rules on `*` and the default can let it through (and
//! `mtls strict` refuses it).
//! *Why*: every record would be refused with 403 at the service's sidecar, retried and then
//! dead-lettered: a pipeline that drops everything, found in production.
//! *Example*: `mesh { default deny allow edge -> [picard] }` and
//! `stream alerts { from topic "log" deliver riker }`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::syntax::ast;

use super::policy::{decide, MeshDecision};
use super::DELIVERY_DENIED_BY_MESH;

/// Every delivery the mesh refuses.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    if program.meshes.is_empty() {
        return Vec::new();
    }
    let gateways: Vec<&str> = program.symbols.gateways.keys().copied().collect();
    let strict = program
        .meshes
        .iter()
        .flat_map(|m| m.statements.iter())
        .find_map(|s| match s {
            ast::MeshStatement::Mtls(mode) if mode.node == ast::MtlsMode::Strict => Some(mode),
            _ => None,
        });
    let mut out = Vec::new();
    for stream in &program.streams {
        let Some(deliver) = stream.deliver() else {
            continue;
        };
        let service = deliver.service.node.as_str();
        if !program.symbols.has_service(service) {
            continue;
        }
        let stream_name = &stream.name.node;
        if gateways.is_empty() {
            if let Some(strict) = strict {
                out.push(
                    Diagnostic::error(&DELIVERY_DENIED_BY_MESH, format!("stream `{stream_name}` delivers to `{service}`, but it has no mesh identity and the mesh requires mTLS"))
                        .with_label(deliver.service.span, "every delivery would be refused at the handshake")
                        .with_label(strict.span, "mutual TLS required")
                        .with_help("streams run with their gateway's identity; declare the gateway that runs them, or use `mtls permissive`"),
                );
                continue;
            }
            // No identity: only `*` rules and the default apply (no source name matches "").
            if let Some(d) = denial(
                program,
                stream,
                deliver,
                "",
                "an unauthenticated caller (the program has no gateway)",
            ) {
                out.push(d);
            }
            continue;
        }
        if !gateways
            .iter()
            .all(|gateway| decide(program, gateway, service).is_denied())
        {
            continue;
        }
        let runs_as = match gateways.as_slice() {
            [only] => format!("`{only}`, the gateway whose process runs it"),
            all => format!(
                "every gateway whose process may run it ({})",
                all.iter()
                    .map(|g| format!("`{g}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        out.extend(denial(program, stream, deliver, gateways[0], &runs_as));
    }
    out
}

/// The error when the mesh denies `source` calling the delivery's service.
fn denial(
    program: &Program,
    stream: &ast::Stream,
    deliver: &ast::Deliver,
    source: &str,
    runs_as: &str,
) -> Option<Diagnostic> {
    let service = deliver.service.node.as_str();
    let stream_name = &stream.name.node;
    let message = format!(
        "stream `{stream_name}` delivers to `{service}`, which the mesh denies to {runs_as}"
    );
    Some(match decide(program, source, service) {
        MeshDecision::DeniedByRule { deny, overridden } => {
            let mut d = Diagnostic::error(&DELIVERY_DENIED_BY_MESH, message)
                .with_label(
                    deliver.service.span,
                    "every record would be refused (403), retried, then dead-lettered",
                )
                .with_label(deny.span, "denied by this rule");
            if let Some(allow) = overridden {
                d = d.with_label(allow.span, "this allow does not help: deny beats allow");
            }
            d.with_help("narrow the deny rule (or give it a `when`), or deliver to another service")
        }
        MeshDecision::DeniedByDefault(default) => {
            let help = if source.is_empty() {
                format!("allow every caller to reach it (`allow * -> {service}`), or declare the gateway that runs the stream")
            } else {
                format!("add `allow {source} -> {service}` to the mesh block: streams call with their gateway's identity")
            };
            Diagnostic::error(&DELIVERY_DENIED_BY_MESH, message)
                .with_label(
                    deliver.service.span,
                    "every record would be refused (403), retried, then dead-lettered",
                )
                .with_label(default.span, "the mesh denies by default")
                .with_help(help)
        }
        _ => return None,
    })
}
