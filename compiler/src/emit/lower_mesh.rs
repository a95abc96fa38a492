//! The mesh policy: every `mesh` block of the program, in program order, as one.

use meshwork_bundle::{Mesh, MeshFault, MeshMirror, MeshRule, MtlsMode, SidecarHop};

use super::context::EmitContext;
use super::lower_route::{lower_effect, lower_fault_action, lower_mirror};
use crate::syntax::ast::{self, MeshStatement};

/// Lowers all mesh blocks (in program order). The first `default`, `mtls`, `trust_domain` and
/// `between_sidecars` win; without them every call is allowed, mTLS is permissive, identities
/// are only those written and sidecars speak HTTP/2 to each other (see [`Mesh::default`]).
pub fn lower_mesh(cx: &EmitContext, blocks: &[&ast::Mesh]) -> Mesh {
    let statements = || blocks.iter().flat_map(|m| m.statements.iter());
    let fallback = Mesh::default();
    let default = statements().find_map(|s| match s {
        MeshStatement::Default(effect) => Some(effect),
        _ => None,
    });
    Mesh {
        default: default.map_or(fallback.default, |effect| lower_effect(effect.node)),
        default_source: default.map(|effect| cx.location(effect.span)),
        mtls: statements()
            .find_map(|s| match s {
                MeshStatement::Mtls(mode) => Some(match mode.node {
                    ast::MtlsMode::Strict => MtlsMode::Strict,
                    ast::MtlsMode::Permissive => MtlsMode::Permissive,
                }),
                _ => None,
            })
            .unwrap_or(fallback.mtls),
        between_sidecars: statements()
            .find_map(|s| match s {
                MeshStatement::BetweenSidecars(hop) => Some(match hop.node {
                    ast::SidecarHop::H2 => SidecarHop::H2,
                    ast::SidecarHop::Http1 => SidecarHop::Http1,
                }),
                _ => None,
            })
            .unwrap_or(fallback.between_sidecars),
        trust_domain: statements().find_map(|s| match s {
            MeshStatement::TrustDomain { domain, .. } => Some(domain.node.clone()),
            _ => None,
        }),
        rules: statements()
            .filter_map(|s| match s {
                MeshStatement::Rule(rule) => Some(lower_rule(cx, rule)),
                _ => None,
            })
            .collect(),
        faults: statements()
            .filter_map(|s| match s {
                MeshStatement::Fault(fault) => Some(lower_pair_fault(cx, fault)),
                _ => None,
            })
            .collect(),
        mirrors: statements()
            .filter_map(|s| match s {
                MeshStatement::Mirror(mirror) => Some(MeshMirror {
                    from: mirror.source.node.clone(),
                    to: mirror.targets.iter().map(|t| t.node.clone()).collect(),
                    mirror: lower_mirror(&mirror.mirror),
                    source: cx.location(mirror.span),
                }),
                _ => None,
            })
            .collect(),
    }
}

fn lower_pair_fault(cx: &EmitContext, fault: &ast::MeshFault) -> MeshFault {
    MeshFault {
        from: fault.source.node.clone(),
        to: fault.targets.iter().map(|t| t.node.clone()).collect(),
        action: lower_fault_action(&fault.fault.kind),
        percent: fault.fault.percent.node.value,
        when: fault.fault.when.as_ref().map(|c| c.source.clone()),
        source: cx.location(fault.span),
    }
}

fn lower_rule(cx: &EmitContext, rule: &ast::MeshRule) -> MeshRule {
    MeshRule {
        effect: lower_effect(rule.effect),
        from: rule.source.node.clone(),
        to: rule.targets.iter().map(|t| t.node.clone()).collect(),
        when: rule.when.as_ref().map(|c| c.source.clone()),
        source: cx.location(rule.span),
    }
}
