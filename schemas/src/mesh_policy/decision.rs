//! The mesh decision for one call: may `source` call `destination`? Deny beats allow: a deny
//! rule that applies refuses the call whatever allows it; otherwise an allow rule that applies
//! lets it through; otherwise the default decides. A rule applies when it names the source (or
//! `*`) and the destination (or `*`) and its `when` condition, if any, holds.
//!
//! `when` conditions are CEL; this crate does not evaluate CEL, so the caller passes an
//! evaluator (meshd's compiled conditions, `meshc explain`'s interpreter, or the compiler's
//! static view, which asks whether a call can ever pass). A condition that cannot be evaluated
//! fails closed: a deny whose condition errs applies, an allow whose condition errs does not.

use crate::types::bundle::{Effect, SourceLocation};
use crate::types::mesh::{Mesh, MeshRule};

/// Who calls, as the called side knows it: only from a verified TLS peer, never from a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MeshSource<'a> {
    /// The gateway or service whose identity the peer presented; `None` for a plaintext caller
    /// or a peer whose identity no gateway or service of the program has.
    pub name: Option<&'a str>,
    /// The peer's verified identity (`spiffe://…`); `None` for a plaintext caller.
    pub identity: Option<&'a str>,
}

impl<'a> MeshSource<'a> {
    /// A plaintext caller (accepted under `mtls permissive`): only rules from `*` and the default
    /// can allow it.
    pub const UNAUTHENTICATED: MeshSource<'static> = MeshSource {
        name: None,
        identity: None,
    };

    /// A gateway or service of the program, with the identity it presented.
    pub fn member(name: &'a str, identity: Option<&'a str>) -> Self {
        MeshSource {
            name: Some(name),
            identity,
        }
    }

    /// Whether `pattern` (a rule's `from`: a name or `*`) names this source.
    pub fn is_named_by(&self, pattern: &str) -> bool {
        pattern == "*" || self.name == Some(pattern)
    }
}

/// A `when` condition's verdict for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// It holds: the rule applies.
    Holds,
    /// It does not hold: the rule does not apply.
    Fails,
    /// It could not be evaluated (why): a deny applies, an allow does not.
    Error(String),
}

/// What decided a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecidedBy<'m> {
    /// This rule (its index in [`Mesh::rules`]).
    Rule {
        /// The index in [`Mesh::rules`].
        index: usize,
        /// The rule.
        rule: &'m MeshRule,
    },
    /// No rule applied: the mesh's default.
    Default {
        /// Where `default` was written (`None` when the program states none).
        source: Option<&'m SourceLocation>,
    },
}

/// The decision for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshDecision<'m> {
    /// Allow or deny.
    pub effect: Effect,
    /// The rule, or the default.
    pub decided_by: DecidedBy<'m>,
    /// The first condition that could not be evaluated, if any: its rule's index and why.
    pub condition_error: Option<(usize, String)>,
}

impl MeshDecision<'_> {
    /// Whether the call may go through.
    pub fn is_allowed(&self) -> bool {
        self.effect == Effect::Allow
    }

    /// `file:line` of the deciding rule or default (`None`: a default the program never wrote).
    pub fn location(&self) -> Option<String> {
        let source = match self.decided_by {
            DecidedBy::Rule { rule, .. } => Some(&rule.source),
            DecidedBy::Default { source } => source,
        };
        source.map(|s| format!("{}:{}", s.file, s.line))
    }
}

/// Conditions read statically, for "can this call ever pass?": an allow rule's `when` may hold,
/// a deny rule's `when` may not. With it, only an unconditional deny or the default refuses.
pub fn possibly(_index: usize, rule: &MeshRule) -> Condition {
    match rule.effect {
        Effect::Allow => Condition::Holds,
        Effect::Deny => Condition::Fails,
    }
}

/// Conditions on a connection to a `protocol tcp` service, which has no request to read: each
/// errs, so a deny whose `when` names it applies and an allow does not (fail closed). meshd's
/// sidecars and `meshc explain` both decide tcp connections with it.
pub fn on_connection(_index: usize, _rule: &MeshRule) -> Condition {
    Condition::Error("a tcp connection has no request for the condition to read".to_string())
}

/// Whether `rule` names a call from `source` to `destination` (conditions aside).
pub fn rule_names(rule: &MeshRule, source: &MeshSource<'_>, destination: &str) -> bool {
    source.is_named_by(&rule.from) && rule.to.iter().any(|t| t == "*" || t == destination)
}

/// The decision for a call from `source` to the service `destination`. `condition` evaluates a
/// rule's `when` (given the rule's index and the rule); it is called only for rules that name
/// the call, denies first, and never once the decision is known.
pub fn decide<'m>(
    mesh: &'m Mesh,
    source: &MeshSource<'_>,
    destination: &str,
    mut condition: impl FnMut(usize, &'m MeshRule) -> Condition,
) -> MeshDecision<'m> {
    let mut condition_error = None;
    let mut applies = |index: usize, rule: &'m MeshRule, effect: Effect| {
        if rule.effect != effect || !rule_names(rule, source, destination) {
            return false;
        }
        if rule.when.is_none() {
            return true;
        }
        match condition(index, rule) {
            Condition::Holds => true,
            Condition::Fails => false,
            Condition::Error(why) => {
                condition_error.get_or_insert((index, why));
                effect == Effect::Deny
            }
        }
    };
    let found = [Effect::Deny, Effect::Allow]
        .into_iter()
        .find_map(|effect| {
            mesh.rules
                .iter()
                .enumerate()
                .find(|(index, rule)| applies(*index, rule, effect))
                .map(|(index, rule)| (effect, DecidedBy::Rule { index, rule }))
        });
    let (effect, decided_by) = found.unwrap_or((
        mesh.default,
        DecidedBy::Default {
            source: mesh.default_source.as_ref(),
        },
    ));
    MeshDecision {
        effect,
        decided_by,
        condition_error,
    }
}

/// What the deciding rule or default is called in `x-meshwork-denied-by`, logs and `meshc explain`:
/// `mesh=riker; rule=deny * -> riker; source=mesh.mesh:7` or
/// `mesh=riker; rule=default deny; source=mesh.mesh:4` (no `source` for an unwritten default).
pub fn denied_by(decision: &MeshDecision<'_>, destination: &str) -> String {
    let rule = match decision.decided_by {
        DecidedBy::Rule { rule, .. } => describe_rule(rule),
        DecidedBy::Default { .. } => match decision.effect {
            Effect::Allow => "default allow".to_string(),
            Effect::Deny => "default deny".to_string(),
        },
    };
    match decision.location() {
        Some(at) => format!("mesh={destination}; rule={rule}; source={at}"),
        None => format!("mesh={destination}; rule={rule}"),
    }
}

/// The rule as it reads in a `.mesh` file: `allow picard -> riker when request.method == "GET"`.
pub fn describe_rule(rule: &MeshRule) -> String {
    let effect = match rule.effect {
        Effect::Allow => "allow",
        Effect::Deny => "deny",
    };
    let targets = match rule.to.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    let mut text = format!("{effect} {} -> {targets}", rule.from);
    if let Some(when) = &rule.when {
        text.push_str(" when ");
        text.push_str(when);
    }
    text
}
