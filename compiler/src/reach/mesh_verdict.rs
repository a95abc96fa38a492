//! The mesh policy's standing verdict on a pair (caller → service), over the bundle's rules,
//! with the precedence of the one mesh decision (`meshwork_bundle::mesh_policy::decide`): an
//! unconditional deny that names the pair wins; otherwise the first allow that names it
//! (perhaps only `when` its condition holds); otherwise the default. Conditions stay symbolic
//! (who-can and diff answer for every request): conditional denies are kept as exceptions.

use meshwork_bundle::mesh_policy::{rule_names, MeshSource};
use meshwork_bundle::{Effect, Mesh, MeshRule};

/// Whether calls from a gateway or service to a service go through, and which rule says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeshVerdict<'b> {
    /// Calls go through: by `rule` (`None`: by the default), only `when` its condition holds,
    /// and never when one of the `unless` rules' conditions holds.
    Allowed {
        rule: Option<&'b MeshRule>,
        when: Option<&'b str>,
        unless: Vec<&'b MeshRule>,
    },
    /// Calls are refused by `rule` (`None`: by `default deny`).
    Denied { rule: Option<&'b MeshRule> },
}

impl MeshVerdict<'_> {
    /// Whether some call can go through.
    pub fn is_allowed(&self) -> bool {
        matches!(self, MeshVerdict::Allowed { .. })
    }

    /// Whether every call goes through, with no condition attached.
    pub fn is_unconditional(&self) -> bool {
        matches!(self, MeshVerdict::Allowed { when: None, unless, .. } if unless.is_empty())
    }

    /// A short description: `allowed`, `allowed when …`, `denied by default`.
    pub fn describe(&self) -> String {
        match self {
            MeshVerdict::Allowed { rule, when, unless } => {
                let mut text = match rule {
                    Some(_) => "allowed".to_string(),
                    None => "allowed by default".to_string(),
                };
                if let Some(when) = when {
                    text.push_str(&format!(" when {when}"));
                }
                for rule in unless {
                    if let Some(condition) = &rule.when {
                        text.push_str(&format!(" unless {condition}"));
                    }
                }
                text
            }
            MeshVerdict::Denied { rule: Some(_) } => "denied".to_string(),
            MeshVerdict::Denied { rule: None } => "denied by default".to_string(),
        }
    }
}

/// Whether `rule` is about calls from `caller` to `service` (the one mesh decision's reading of
/// a rule's names).
pub fn rule_applies(rule: &MeshRule, caller: &str, service: &str) -> bool {
    rule_names(rule, &MeshSource::member(caller, None), service)
}

/// The verdict on calls from `caller` (a gateway or service) to `service`.
pub fn mesh_verdict<'b>(mesh: &'b Mesh, caller: &str, service: &str) -> MeshVerdict<'b> {
    let mut allow = None;
    let mut unless = Vec::new();
    for rule in mesh
        .rules
        .iter()
        .filter(|r| rule_applies(r, caller, service))
    {
        match (rule.effect, &rule.when) {
            (Effect::Deny, None) => return MeshVerdict::Denied { rule: Some(rule) },
            (Effect::Deny, Some(_)) => unless.push(rule),
            (Effect::Allow, _) if allow.is_none() => allow = Some(rule),
            (Effect::Allow, _) => {}
        }
    }
    match (allow, mesh.default) {
        (Some(rule), _) => MeshVerdict::Allowed {
            rule: Some(rule),
            when: rule.when.as_deref(),
            unless,
        },
        (None, Effect::Allow) => MeshVerdict::Allowed {
            rule: None,
            when: None,
            unless,
        },
        (None, Effect::Deny) => MeshVerdict::Denied { rule: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshwork_bundle::{MtlsMode, SourceLocation};

    fn rule(effect: Effect, from: &str, to: &[&str], when: Option<&str>, line: u32) -> MeshRule {
        MeshRule {
            effect,
            from: from.to_string(),
            to: to.iter().map(|t| t.to_string()).collect(),
            when: when.map(str::to_string),
            source: SourceLocation {
                file: "mesh.mesh".to_string(),
                line,
                column: 3,
            },
        }
    }

    fn mesh(default: Effect, rules: Vec<MeshRule>) -> Mesh {
        Mesh {
            default,
            default_source: None,
            mtls: MtlsMode::Permissive,
            trust_domain: None,
            rules,
            faults: Vec::new(),
            mirrors: Vec::new(),
            between_sidecars: meshwork_bundle::SidecarHop::H2,
        }
    }

    #[test]
    fn an_unconditional_deny_beats_an_earlier_allow() {
        let mesh = mesh(
            Effect::Allow,
            vec![
                rule(Effect::Allow, "edge", &["*"], None, 2),
                rule(Effect::Deny, "*", &["data"], None, 3),
            ],
        );
        assert_eq!(
            mesh_verdict(&mesh, "edge", "data"),
            MeshVerdict::Denied {
                rule: Some(&mesh.rules[1])
            }
        );
        assert!(mesh_verdict(&mesh, "edge", "picard").is_unconditional());
    }

    #[test]
    fn a_conditional_allow_and_a_conditional_deny_are_both_kept() {
        let mesh = mesh(
            Effect::Deny,
            vec![
                rule(Effect::Allow, "picard", &["riker"], Some("a"), 2),
                rule(Effect::Deny, "picard", &["riker"], Some("b"), 3),
            ],
        );
        let verdict = mesh_verdict(&mesh, "picard", "riker");
        assert_eq!(verdict.describe(), "allowed when a unless b");
        assert!(verdict.is_allowed() && !verdict.is_unconditional());
        assert_eq!(
            mesh_verdict(&mesh, "riker", "picard").describe(),
            "denied by default"
        );
    }
}
