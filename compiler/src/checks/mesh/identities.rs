//! Mesh identities as deployed: missing under `mtls strict` (E0304), shared by two workloads
//! (E0305), or not a SPIFFE ID a certificate can carry (E0306).
//!
//! *What*: under `mtls strict`, a service without an `identity` (it cannot be issued a
//! certificate its peers would accept, and its sidecar refuses every plaintext call); two services
//! with one identity; an identity that is not a valid SPIFFE ID (`spiffe://<trust-domain>/<path>`,
//! lowercase trust domain, no port, query, fragment, percent-encoding, empty or dot segments) or
//! that names a trust domain rather than a workload.
//! *Why*: a sidecar maps the verified peer certificate's URI SAN to a service by `identity`, and
//! the mesh rules are written on services. With no identity there is nothing to map; with one
//! identity for two services the mesh cannot tell them apart (a call from one is judged as the
//! other, so `allow picard -> riker` also lets a compromised `data` through); a malformed ID is
//! never in any certificate (`meshd ca issue` and SPIRE refuse it), so its calls always fail.
//! *Example*: `mesh { mtls strict }` with `service riker { endpoints [...] }`;
//! `service data { identity "spiffe://starfleet/picard" }` beside picard's.

use std::collections::BTreeMap;

use meshwork_bundle::spiffe_id::{parse_spiffe_id, SpiffeIdProblem};

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::source::Spanned;
use crate::syntax::ast;

use super::{IDENTITY_INVALID, IDENTITY_MISSING, IDENTITY_SHARED};

/// A workload of the mesh and the identity it presents.
struct Workload<'a> {
    /// `service`.
    kind: &'static str,
    name: &'a ast::Ident,
    identity: Option<&'a Spanned<String>>,
}

/// The mesh's workloads with their identities, in program order (a name defined twice, E0101,
/// counts once).
fn workloads<'a>(program: &Program<'a>) -> Vec<Workload<'a>> {
    program
        .services
        .iter()
        .filter(|service| {
            program
                .service(&service.name.node)
                .is_some_and(|first| std::ptr::eq(first, **service))
        })
        .map(|service| Workload {
            kind: "service",
            name: &service.name,
            identity: service.identity(),
        })
        .collect()
}

/// `mtls strict`, where a mesh block says so.
fn strict_mtls<'a>(program: &Program<'a>) -> Option<&'a Spanned<ast::MtlsMode>> {
    program
        .meshes
        .iter()
        .flat_map(|m| m.statements.iter())
        .find_map(|s| match s {
            ast::MeshStatement::Mtls(mode) => Some(mode),
            _ => None,
        })
        .filter(|mode| mode.node == ast::MtlsMode::Strict)
}

/// Every missing, shared or malformed identity.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let workloads = workloads(program);
    let mut out = Vec::new();
    if let Some(strict) = strict_mtls(program) {
        for workload in workloads.iter().filter(|w| w.identity.is_none()) {
            let name = &workload.name.node;
            out.push(
                Diagnostic::error(
                    &IDENTITY_MISSING,
                    format!(
                        "{} `{name}` has no mesh identity, but the mesh requires mTLS",
                        workload.kind
                    ),
                )
                .with_label(
                    workload.name.span,
                    "no `identity`: no certificate its peers accept",
                )
                .with_label(strict.span, "every call in the mesh must be mutual TLS")
                .with_help(format!(
                    "give it an identity: `identity \"spiffe://<trust-domain>/{name}\"`"
                )),
            );
        }
    }
    let mut by_identity: BTreeMap<&str, Vec<&Workload>> = BTreeMap::new();
    for workload in &workloads {
        let Some(identity) = workload.identity else {
            continue;
        };
        match parse_spiffe_id(&identity.node) {
            Ok(parts) if parts.path.is_empty() => out.push(
                Diagnostic::error(
                    &IDENTITY_INVALID,
                    format!(
                        "the identity of {} `{}` names a trust domain, not a workload",
                        workload.kind, workload.name.node
                    ),
                )
                .with_label(
                    identity.span,
                    "a trust domain's own ID is its CA's, never a workload's",
                )
                .with_help(format!(
                    "add the workload's path: \"{}/{}\"",
                    identity.node, workload.name.node
                )),
            ),
            Ok(_) => by_identity
                .entry(&identity.node)
                .or_default()
                .push(workload),
            Err(problem) => out.push(invalid(program, workload, identity, &problem)),
        }
    }
    for sharing in by_identity.values().filter(|w| w.len() > 1) {
        let first = sharing[0];
        for again in &sharing[1..] {
            let identity = again.identity.map_or("", |i| i.node.as_str());
            let mut d = Diagnostic::error(
                &IDENTITY_SHARED,
                format!(
                    "{} `{}` and {} `{}` share the identity \"{identity}\"",
                    first.kind, first.name.node, again.kind, again.name.node
                ),
            );
            if let (Some(a), Some(b)) = (again.identity, first.identity) {
                d = d
                    .with_label(a.span, format!("`{}` presents it", again.name.node))
                    .with_label(b.span, format!("so does `{}`", first.name.node));
            }
            out.push(d.with_help(
                "give every workload its own identity: a peer presenting a shared one could be either, and mesh rules would judge one as the other",
            ));
        }
    }
    out
}

fn invalid(
    program: &Program,
    workload: &Workload,
    identity: &Spanned<String>,
    problem: &SpiffeIdProblem,
) -> Diagnostic {
    let text = identity.node.as_str();
    let span = match problem {
        SpiffeIdProblem::Scheme | SpiffeIdProblem::TooLong | SpiffeIdProblem::EmptyTrustDomain => {
            identity.span
        }
        _ => {
            // The offending character (a trailing `/` is reported on itself).
            let at = problem.offset().min(text.len().saturating_sub(1));
            let len = text[at..].chars().next().map_or(1, char::len_utf8);
            program.span_in_string(identity, at, len)
        }
    };
    Diagnostic::error(
        &IDENTITY_INVALID,
        format!(
            "the identity of {} `{}` is not a SPIFFE ID: {problem}",
            workload.kind, workload.name.node
        ),
    )
    .with_label(span, "not allowed here")
    .with_help(format!(
        "write `spiffe://<trust-domain>/<path>`, e.g. \"spiffe://starfleet/{}\": no certificate or peer can carry this one",
        workload.name.node
    ))
}
