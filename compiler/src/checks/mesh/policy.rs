//! The mesh policy's answer for one call at compile time: can it ever pass? The answer comes from
//! the bundle crate's decision ([`meshwork_bundle::mesh_policy::decide`]), the function meshd's
//! sidecars run per request and `meshc explain --from` prints, asked with the conditions read
//! statically: an allow rule's `when` may hold and a deny rule's `when` may not, so only an
//! unconditional deny or the default refuses a call for good. Shared by the checks and
//! `meshc explain`'s gateway view.

use meshwork_bundle::mesh_policy::{self, possibly, DecidedBy, MeshSource};
use meshwork_bundle::{Mesh, MeshRule, SourceLocation};

use crate::resolve::Program;
use crate::source::Spanned;
use crate::syntax::ast::{self, Effect};

/// Why a call is allowed or denied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MeshDecision<'a> {
    /// Allowed by this rule (`when` conditions may still refuse some calls).
    AllowedByRule(&'a ast::MeshRule),
    /// Allowed because no rule matches and the default allows (`None`: no mesh block at all).
    AllowedByDefault(Option<&'a Spanned<Effect>>),
    /// Denied by this unconditional deny rule; `overridden` is an allow rule it beats, if any.
    DeniedByRule {
        deny: &'a ast::MeshRule,
        overridden: Option<&'a ast::MeshRule>,
    },
    /// Denied because no rule matches and the default denies.
    DeniedByDefault(&'a Spanned<Effect>),
}

impl MeshDecision<'_> {
    /// True when the call can never go through.
    pub fn is_denied(&self) -> bool {
        matches!(
            self,
            MeshDecision::DeniedByRule { .. } | MeshDecision::DeniedByDefault(_)
        )
    }
}

/// The program's mesh rules as the bundle holds them (the order of [`Program::mesh_rules`]), so
/// the shared decision can run over them before any bundle exists.
pub fn bundle_mesh(program: &Program) -> Mesh {
    let nowhere = SourceLocation {
        file: String::new(),
        line: 1,
        column: 1,
    };
    let mut mesh = Mesh::default();
    if let Some(default) = program.mesh_default() {
        mesh.default = lower_effect(default.node);
    }
    mesh.rules = program
        .mesh_rules()
        .map(|rule| MeshRule {
            effect: lower_effect(rule.effect),
            from: rule.source.node.clone(),
            to: rule.targets.iter().map(|t| t.node.clone()).collect(),
            when: rule.when.as_ref().map(|c| c.source.clone()),
            source: nowhere.clone(),
        })
        .collect();
    mesh
}

fn lower_effect(effect: Effect) -> meshwork_bundle::Effect {
    match effect {
        Effect::Allow => meshwork_bundle::Effect::Allow,
        Effect::Deny => meshwork_bundle::Effect::Deny,
    }
}

/// The decision for a call from gateway or service `source` to service `target`.
pub fn decide<'a>(program: &Program<'a>, source: &str, target: &str) -> MeshDecision<'a> {
    decide_in(program, &bundle_mesh(program), source, target)
}

/// [`decide`] over a [`bundle_mesh`] built once for many calls.
pub fn decide_in<'a>(
    program: &Program<'a>,
    mesh: &Mesh,
    source: &str,
    target: &str,
) -> MeshDecision<'a> {
    let caller = MeshSource::member(source, None);
    let decision = mesh_policy::decide(mesh, &caller, target, possibly);
    let rule_at = |index: usize| program.mesh_rules().nth(index);
    match decision.decided_by {
        DecidedBy::Rule { index, rule } => {
            let Some(written) = rule_at(index) else {
                return MeshDecision::AllowedByDefault(program.mesh_default());
            };
            if rule.effect == meshwork_bundle::Effect::Allow {
                return MeshDecision::AllowedByRule(written);
            }
            // The first allow this deny beats, for the diagnostic.
            let overridden = mesh
                .rules
                .iter()
                .position(|r| {
                    r.effect == meshwork_bundle::Effect::Allow
                        && mesh_policy::rule_names(r, &caller, target)
                })
                .and_then(rule_at);
            MeshDecision::DeniedByRule {
                deny: written,
                overridden,
            }
        }
        DecidedBy::Default { .. } => match program.mesh_default() {
            Some(default) if default.node == Effect::Deny => MeshDecision::DeniedByDefault(default),
            default => MeshDecision::AllowedByDefault(default),
        },
    }
}
