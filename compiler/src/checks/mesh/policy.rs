//! The mesh policy's decision for one call, as the runtime makes it: an unconditional deny rule
//! that matches wins (deny beats allow); otherwise a matching allow rule lets the call through
//! (perhaps only when its condition holds); otherwise the default decides (allow when the
//! program has no mesh block). Shared by the checks and `meshc explain`.

use crate::resolve::Program;
use crate::source::Spanned;
use crate::syntax::ast::{self, Effect, MeshRule};

/// Why a call is allowed or denied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MeshDecision<'a> {
    /// Allowed by this rule (`when` conditions may still refuse some calls).
    AllowedByRule(&'a MeshRule),
    /// Allowed because no rule matches and the default allows (`None`: no mesh block at all).
    AllowedByDefault(Option<&'a Spanned<Effect>>),
    /// Denied by this unconditional deny rule; `overridden` is an allow rule it beats, if any.
    DeniedByRule {
        deny: &'a MeshRule,
        overridden: Option<&'a MeshRule>,
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

/// True when `pattern` (a name or `*`) names `name`.
fn names(pattern: &str, name: &str) -> bool {
    pattern == "*" || pattern == name
}

/// True when the rule applies to calls from `source` to `target`.
pub fn rule_matches(rule: &MeshRule, source: &str, target: &str) -> bool {
    names(&rule.source.node, source) && rule.targets.iter().any(|t| names(&t.node, target))
}

/// The decision for a call from gateway or service `source` to service `target`.
pub fn decide<'a>(program: &Program<'a>, source: &str, target: &str) -> MeshDecision<'a> {
    let mut allow = None;
    let mut deny = None;
    for rule in program.mesh_rules() {
        if !rule_matches(rule, source, target) {
            continue;
        }
        match rule.effect {
            Effect::Deny if rule.when.is_none() && deny.is_none() => deny = Some(rule),
            Effect::Allow if allow.is_none() => allow = Some(rule),
            _ => {}
        }
    }
    if let Some(deny) = deny {
        return MeshDecision::DeniedByRule {
            deny,
            overridden: allow,
        };
    }
    if let Some(rule) = allow {
        return MeshDecision::AllowedByRule(rule);
    }
    match program.mesh_default() {
        Some(default) if default.node == ast::Effect::Deny => {
            MeshDecision::DeniedByDefault(default)
        }
        default => MeshDecision::AllowedByDefault(default),
    }
}
