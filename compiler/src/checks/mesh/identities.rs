//! Mesh identities as deployed: missing under `mtls strict`, or on a `protocol tcp` service
//! whatever the mode (E0304), shared by two workloads
//! (E0305), or not a SPIFFE ID of the mesh's trust domain (E0306).
//!
//! *What*: under `mtls strict`, a service, or a gateway that forwards into the mesh, with no
//! identity (none written and no `trust_domain` to derive one from); two services or gateways with
//! one identity, written or derived (`spiffe://<trust_domain>/<name>`); an identity that is not a
//! valid SPIFFE ID (lowercase trust domain, no port, query, fragment, percent-encoding, empty or
//! dot segments), names a trust domain rather than a workload, or lies outside the mesh's
//! `trust_domain`.
//! *Why*: a sidecar maps the verified peer certificate's URI SAN to a service or gateway by
//! identity, and the mesh rules are written on those names. With no identity there is nothing to
//! map; with one identity for two workloads the mesh cannot tell them apart (a call from one is
//! judged as the other, so `allow picard -> riker` also lets a compromised `data` through); a
//! malformed ID is never in any certificate (`meshd ca issue` and SPIRE refuse it), and one of
//! another trust domain is never issued by this mesh's CA, so its calls always fail.
//! *Example*: `mesh { mtls strict }` with `service riker { endpoints [...] }`;
//! `service data { identity "spiffe://starfleet/picard" }` beside picard's.

use std::collections::BTreeMap;

use meshwork_bundle::mesh_policy::{derived_identity, is_trust_domain_name};
use meshwork_bundle::spiffe_id::{parse_spiffe_id, SpiffeIdProblem};

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::source::Spanned;
use crate::syntax::ast;

use super::{IDENTITY_INVALID, IDENTITY_MISSING, IDENTITY_SHARED};

/// Where a workload's identity comes from.
enum Identity<'a> {
    /// Written: `identity "…"`.
    Written(&'a Spanned<String>),
    /// Derived from the mesh's `trust_domain`.
    Derived(String),
    /// Neither.
    Missing,
}

/// A workload of the mesh and the identity it presents.
struct Workload<'a> {
    /// `service` or `gateway`.
    kind: &'static str,
    name: &'a ast::Ident,
    identity: Identity<'a>,
    /// Whether mTLS requires it to have an identity: every service, and gateways that forward.
    in_mesh: bool,
    /// A service with `protocol tcp`, which only the mesh carries: it needs an identity whatever
    /// the mTLS mode.
    tcp: bool,
}

impl Workload<'_> {
    fn identity_text(&self) -> Option<&str> {
        match &self.identity {
            Identity::Written(id) => Some(&id.node),
            Identity::Derived(id) => Some(id),
            Identity::Missing => None,
        }
    }
}

/// The mesh's services and gateways with their identities, in program order (a name defined
/// twice, E0101, counts once).
fn workloads<'a>(program: &Program<'a>) -> Vec<Workload<'a>> {
    // A trust domain that is not a valid name (E0350) derives no identity.
    let trust_domain = program
        .mesh_trust_domain()
        .filter(|d| is_trust_domain_name(&d.node));
    let identity = |written: Option<&'a Spanned<String>>, name: &str| match (written, trust_domain)
    {
        (Some(id), _) => Identity::Written(id),
        (None, Some(domain)) => Identity::Derived(derived_identity(&domain.node, name)),
        (None, None) => Identity::Missing,
    };
    let mut out: Vec<Workload<'a>> = program
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
            identity: identity(service.identity(), &service.name.node),
            in_mesh: true,
            tcp: service
                .protocol()
                .is_some_and(|p| p.node == ast::Protocol::Tcp),
        })
        .collect();
    out.extend(
        program
            .gateways
            .iter()
            .filter(|gateway| {
                program
                    .gateway(&gateway.name.node)
                    .is_some_and(|first| std::ptr::eq(first, **gateway))
            })
            .map(|gateway| Workload {
                kind: "gateway",
                name: &gateway.name,
                identity: identity(gateway.identity.as_ref(), &gateway.name.node),
                in_mesh: gateway.routes.iter().any(|r| r.forward().is_some()),
                tcp: false,
            }),
    );
    // In program order (files by path), so "shares an identity" names the earlier one first.
    out.sort_by_key(|w| {
        let span = w.name.span;
        (program.sources.file(span.file).path.as_str(), span.start)
    });
    out
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
    let strict = strict_mtls(program);
    for workload in &workloads {
        let required = workload.tcp || strict.is_some() && workload.in_mesh;
        if !required || !matches!(workload.identity, Identity::Missing) {
            continue;
        }
        let name = &workload.name.node;
        let mut d = if workload.tcp {
            Diagnostic::error(
                &IDENTITY_MISSING,
                format!(
                    "service `{name}` speaks tcp, which only the mesh carries, but has no identity"
                ),
            )
            .with_label(
                workload.name.span,
                "no `identity`: no sidecar can pin its certificate, so none connects to it",
            )
        } else {
            let what = if workload.kind == "gateway" {
                "forwards into the mesh"
            } else {
                "is part of the mesh"
            };
            Diagnostic::error(
                &IDENTITY_MISSING,
                format!(
                    "{} `{name}` {what} but has no identity, and the mesh requires mTLS",
                    workload.kind
                ),
            )
            .with_label(
                workload.name.span,
                "no `identity`: no certificate its peers accept",
            )
        };
        if let Some(strict) = strict {
            d = d.with_label(strict.span, "every call in the mesh must be mutual TLS");
        }
        let help = match program.mesh_trust_domain() {
            Some(invalid) => {
                d = d.with_label(invalid.span, "not a trust domain name (E0350): derives no identity");
                format!("fix the trust domain, or give `{name}` its own `identity \"spiffe://<trust-domain>/{name}\"`")
            }
            None => format!(
                "give it `identity \"spiffe://<trust-domain>/{name}\"`, or name the mesh's `trust_domain` so every service and gateway gets one"
            ),
        };
        out.push(d.with_help(help));
    }
    let trust_domain = program
        .mesh_trust_domain()
        .filter(|d| is_trust_domain_name(&d.node));
    let mut by_identity: BTreeMap<&str, Vec<&Workload>> = BTreeMap::new();
    for workload in &workloads {
        let Some(text) = workload.identity_text() else {
            continue;
        };
        let Identity::Written(identity) = &workload.identity else {
            by_identity.entry(text).or_default().push(workload);
            continue;
        };
        match parse_spiffe_id(&identity.node) {
            Ok(parts) if parts.path.is_empty() => out.push(
                Diagnostic::error(
                    &IDENTITY_INVALID,
                    format!("the identity of {} `{}` names a trust domain, not a workload", workload.kind, workload.name.node),
                )
                .with_label(identity.span, "a trust domain's own ID is its CA's, never a workload's")
                .with_help(format!("add the workload's path: \"{}/{}\"", identity.node, workload.name.node)),
            ),
            Ok(parts) => match trust_domain.filter(|d| d.node != parts.trust_domain) {
                Some(domain) => out.push(
                    Diagnostic::error(
                        &IDENTITY_INVALID,
                        format!(
                            "the identity of {} `{}` is in trust domain `{}`, outside the mesh's `{}`",
                            workload.kind, workload.name.node, parts.trust_domain, domain.node
                        ),
                    )
                    .with_label(identity.span, "the mesh's CA does not issue this identity, and its peers trust only that CA")
                    .with_label(domain.span, "the mesh's trust domain")
                    .with_help(format!(
                        "write it in the mesh's trust domain, e.g. \"spiffe://{}{}\"",
                        domain.node, parts.path
                    )),
                ),
                None => by_identity.entry(text).or_default().push(workload),
            },
            Err(problem) => out.push(invalid(program, workload, identity, &problem)),
        }
    }
    for sharing in by_identity.values().filter(|w| w.len() > 1) {
        let first = sharing[0];
        for again in &sharing[1..] {
            let identity = again.identity_text().unwrap_or("");
            let d = Diagnostic::error(
                &IDENTITY_SHARED,
                format!(
                    "{} `{}` and {} `{}` share the identity \"{identity}\"",
                    first.kind, first.name.node, again.kind, again.name.node
                ),
            );
            let d = label_identity(label_identity(d, again, "presents it"), first, "so does");
            out.push(d.with_help(
                "give every workload its own identity: a peer presenting a shared one could be either, and mesh rules would judge one as the other",
            ));
        }
    }
    out
}

/// Labels where `workload`'s identity comes from: the written identity, or its name (derived).
fn label_identity(d: Diagnostic, workload: &Workload, verb: &str) -> Diagnostic {
    let name = &workload.name.node;
    match &workload.identity {
        Identity::Written(id) => {
            let label = if verb == "so does" {
                format!("so does `{name}`")
            } else {
                format!("`{name}` {verb}")
            };
            d.with_label(id.span, label)
        }
        Identity::Derived(_) => d.with_label(
            workload.name.span,
            format!("`{name}`'s identity, derived from the mesh's trust domain"),
        ),
        Identity::Missing => d,
    }
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
