//! `mesh { default …  allow A -> B [when CEL]  mtls …  trust_domain "…"  between_sidecars … }`: one statement per line.

use crate::syntax::ast::{Effect, Mesh, MeshStatement, MtlsMode, SidecarHop};

use super::layout::{Block, Entry, Fold, Line};
use super::literals::{list, string};
use super::source_scan::SourceText;

/// The mesh block.
pub fn mesh(source: &SourceText<'_>, mesh: &Mesh) -> Entry {
    let start = mesh.span.start as usize;
    let children = mesh
        .statements
        .iter()
        .map(|s| statement(source, s))
        .collect();
    Block {
        head: "mesh".to_string(),
        open: source.open_brace(start + "mesh".len()),
        close: mesh.span.end as usize - 1,
        children,
        fold: Fold::Never,
    }
    .at(start)
}

fn effect(effect: Effect) -> &'static str {
    match effect {
        Effect::Allow => "allow",
        Effect::Deny => "deny",
    }
}

fn statement(source: &SourceText<'_>, statement: &MeshStatement) -> Entry {
    match statement {
        MeshStatement::Default(default) => Line::new()
            .text("default")
            .text(effect(default.node))
            .at(default.span.start as usize, default.span.end as usize),
        MeshStatement::Mtls(mode) => {
            let mode_text = match mode.node {
                MtlsMode::Strict => "strict",
                MtlsMode::Permissive => "permissive",
            };
            Line::new()
                .text("mtls")
                .text(mode_text)
                .at(mode.span.start as usize, mode.span.end as usize)
        }
        MeshStatement::BetweenSidecars(hop) => Line::new()
            .text("between_sidecars")
            .text(match hop.node {
                SidecarHop::H2 => "h2",
                SidecarHop::Http1 => "http1",
            })
            .at(hop.span.start as usize, hop.span.end as usize),
        MeshStatement::TrustDomain { domain, span } => Line::new()
            .text("trust_domain")
            .text(string(&domain.node))
            .at(span.start as usize, span.end as usize),
        MeshStatement::Rule(rule) => {
            let line = Line::new()
                .text(effect(rule.effect))
                .text(rule.source.node.clone())
                .text("->");
            // One target is written bare (`-> riker`), several as a list (`-> [picard, riker]`).
            let line = match rule.targets.as_slice() {
                [single] => line.text(single.node.clone()),
                targets => line.part(list(source, targets, |t| t.node.clone(), |t| t.span)),
            };
            let line = match &rule.when {
                Some(condition) => line.text("when").cel(&condition.source),
                None => line,
            };
            line.at(rule.span.start as usize, rule.span.end as usize)
        }
        MeshStatement::Fault(fault) => {
            let line = Line::new()
                .text("fault")
                .text(fault.source.node.clone())
                .text("->");
            let line = match fault.targets.as_slice() {
                [single] => line.text(single.node.clone()),
                targets => line.part(list(source, targets, |t| t.node.clone(), |t| t.span)),
            };
            let line = super::route::fault_words(line, &fault.fault);
            line.at(fault.span.start as usize, fault.span.end as usize)
        }
        MeshStatement::Mirror(mirror) => {
            let line = Line::new()
                .text("mirror")
                .text(mirror.source.node.clone())
                .text("->");
            let line = match mirror.targets.as_slice() {
                [single] => line.text(single.node.clone()),
                targets => line.part(list(source, targets, |t| t.node.clone(), |t| t.span)),
            };
            let line = super::route::mirror_words(line.text("to"), &mirror.mirror);
            line.at(mirror.span.start as usize, mirror.span.end as usize)
        }
    }
}
