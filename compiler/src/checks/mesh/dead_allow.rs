//! A mesh allow rule that can never apply (W0301).
//!
//! *What*: under `default allow`, any allow rule (calls are already allowed, and deny beats
//! allow, so an allow never changes a decision); otherwise an allow whose every
//! caller → service pair is also named by an unconditional deny rule; or an allow whose `when`
//! can never hold (`request.method == "GET" && request.method == "POST"`, a header required
//! present and absent — decided as for routes, E0210).
//! *Why*: the rule reads as a permission but grants nothing; the real policy is elsewhere. Mesh
//! users most often meet this after adding a broad `deny * -> x` "for now".
//! *Example*: `deny * -> riker` and `allow edge -> riker`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::syntax::ast::{Effect, MeshRule};

use super::MESH_ALLOW_NEVER_APPLIES;

/// Every allow rule that never changes a decision.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let rules: Vec<&MeshRule> = program.mesh_rules().collect();
    let default = program.mesh_default();
    let mut out = Vec::new();
    for allow in rules.iter().filter(|r| r.effect == Effect::Allow) {
        if let Some(default) = default.filter(|d| d.node == Effect::Allow) {
            out.push(
                Diagnostic::warning(&MESH_ALLOW_NEVER_APPLIES, "this allow rule never changes a decision: the mesh allows by default")
                    .with_label(allow.span, "has no effect")
                    .with_label(default.span, "every call is already allowed")
                    .with_help("with `default allow`, only deny rules matter (deny beats allow); write `default deny` to make allow rules the policy"),
            );
            continue;
        }
        // Every (source, target) pair the allow names must be named by one unconditional deny.
        // `*` is only covered by `*`: a list of names never covers every possible caller.
        let covering = |target: &str| {
            rules.iter().find(|deny| {
                deny.effect == Effect::Deny
                    && deny.when.is_none()
                    && (deny.source.node == "*" || deny.source.node == allow.source.node)
                    && deny
                        .targets
                        .iter()
                        .any(|t| t.node == "*" || t.node == target)
            })
        };
        let denies: Option<Vec<&&MeshRule>> =
            allow.targets.iter().map(|t| covering(&t.node)).collect();
        if let Some(denies) = denies {
            let mut diagnostic = Diagnostic::warning(
                &MESH_ALLOW_NEVER_APPLIES,
                "this allow rule never applies: deny rules refuse every call it allows",
            )
            .with_label(allow.span, "never applies");
            let mut seen: Vec<*const MeshRule> = Vec::new();
            for deny in denies {
                if !seen.contains(&(*deny as *const MeshRule)) {
                    seen.push(*deny as *const MeshRule);
                    diagnostic = diagnostic.with_label(deny.span, "deny beats allow");
                }
            }
            out.push(diagnostic.with_help(
                "narrow the deny rule, give it a `when` condition, or remove the allow",
            ));
        }
    }
    out
}

/// An allow rule whose `when` can never hold, given the rule's parsed condition.
pub fn contradictory_condition(
    program: &Program,
    rule: &MeshRule,
    parsed: Option<&(cel::common::ast::IdedExpr, cel::common::ast::SourceInfo)>,
) -> Option<crate::diagnostics::Diagnostic> {
    let (cel, (expression, info)) = (rule.when.as_ref()?, parsed?);
    let conjuncts: Vec<_> = crate::checks::cel::requirements::requirements(cel, expression, info)
        .into_iter()
        .map(|c| {
            let text = program.text(c.span).to_string();
            (c, text)
        })
        .collect();
    let contradiction =
        crate::checks::routes::contradictory_conditions::contradictions(None, &conjuncts)
            .into_iter()
            .next()?;
    let message = format!(
        "this allow rule never applies: its condition can never hold ({})",
        contradiction.reason
    );
    let d = contradiction.into_diagnostic(&MESH_ALLOW_NEVER_APPLIES, message, true);
    Some(d.with_help("make the condition's terms agree; as written the rule grants no call"))
}
