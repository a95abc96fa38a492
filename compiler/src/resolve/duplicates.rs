//! Duplicate definitions (E0101): a name defined twice is reported at the second definition,
//! with the first one labelled, so the user sees both.

use std::collections::BTreeMap;

use crate::diagnostics::Diagnostic;
use crate::source::Span;
use crate::syntax::ast;

use super::{Program, DUPLICATE_DEFINITION};

/// Every duplicate of the program.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let symbols = &program.symbols;
    let mut out = Vec::new();
    report_all(&mut out, "gateway", &symbols.gateways, |g| g.name.span);
    report_all(&mut out, "service", &symbols.services, |s| s.name.span);
    report_all(&mut out, "stream", &symbols.streams, |s| s.name.span);
    report_all(&mut out, "topic", &symbols.topics, |t| t.name.span);
    for (gateway, names) in &symbols.gateway_names {
        report_all(
            &mut out,
            &format!("route of gateway `{gateway}`"),
            &names.routes,
            |r| r.name.span,
        );
        report_all(
            &mut out,
            &format!("consumer of gateway `{gateway}`"),
            &names.consumers,
            |c| c.name.span,
        );
    }
    for (name, services) in &symbols.services {
        if let Some(gateway) = symbols.gateways.get(name).and_then(|d| d.first()) {
            out.push(
                Diagnostic::error(&DUPLICATE_DEFINITION, format!("`{name}` names both a gateway and a service"))
                    .with_label(services[0].name.span, "the service")
                    .with_label(gateway.name.span, "the gateway")
                    .with_help("mesh rules name gateways and services alike (`allow edge -> picard`); rename one of them"),
            );
        }
    }
    out.extend(mesh_settings(program));
    out
}

fn report_all<T>(
    out: &mut Vec<Diagnostic>,
    what: &str,
    map: &BTreeMap<&str, Vec<&T>>,
    name_span: impl Fn(&T) -> Span,
) {
    for (name, definitions) in map {
        let Some((first, rest)) = definitions.split_first() else {
            continue;
        };
        for again in rest {
            out.push(duplicate(what, name, name_span(again), name_span(first)));
        }
    }
}

fn duplicate(what: &str, name: &str, again: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        &DUPLICATE_DEFINITION,
        format!("{what} `{name}` is defined twice"),
    )
    .with_label(again, "defined again here")
    .with_label(first, "first defined here")
    .with_help("rename or remove one of the definitions")
}

/// `default`, `mtls`, `trust_domain` and `between_sidecars` set in two different mesh blocks (twice in one block is a parse error).
fn mesh_settings(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut first_default: Option<(usize, Span)> = None;
    let mut first_mtls: Option<(usize, Span)> = None;
    let mut first_trust_domain: Option<(usize, Span)> = None;
    let mut first_hop: Option<(usize, Span)> = None;
    for (block, mesh) in program.meshes.iter().enumerate() {
        for statement in &mesh.statements {
            let (slot, what, span) = match statement {
                ast::MeshStatement::Default(d) => (&mut first_default, "the mesh default", d.span),
                ast::MeshStatement::Mtls(m) => (&mut first_mtls, "the mesh mTLS mode", m.span),
                ast::MeshStatement::BetweenSidecars(h) => {
                    (&mut first_hop, "the protocol between sidecars", h.span)
                }
                ast::MeshStatement::TrustDomain { span, .. } => {
                    (&mut first_trust_domain, "the mesh trust domain", *span)
                }
                ast::MeshStatement::Rule(_)
                | ast::MeshStatement::Fault(_)
                | ast::MeshStatement::Mirror(_) => continue,
            };
            match slot {
                None => *slot = Some((block, span)),
                Some((first_block, first_span)) if *first_block != block => out.push(
                    Diagnostic::error(&DUPLICATE_DEFINITION, format!("{what} is set in two mesh blocks"))
                        .with_label(span, "set again here")
                        .with_label(*first_span, "first set here")
                        .with_help("keep one `mesh` block's setting; the mesh policy is one policy for the whole program"),
                ),
                Some(_) => {}
            }
        }
    }
    out
}
