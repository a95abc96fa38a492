use super::*;
use crate::types::bundle::{Effect, SourceLocation};
use crate::types::mesh::{Mesh, MeshRule, MtlsMode, SidecarHop};

fn at(line: u32) -> SourceLocation {
    SourceLocation {
        file: "mesh.mesh".to_string(),
        line,
        column: 3,
    }
}

fn rule(effect: Effect, from: &str, to: &[&str], when: Option<&str>, line: u32) -> MeshRule {
    MeshRule {
        effect,
        from: from.to_string(),
        to: to.iter().map(|t| t.to_string()).collect(),
        when: when.map(str::to_string),
        source: at(line),
    }
}

/// `default deny`; edge → everyone; picard → riker on GET; `*` → data denied; everyone → ping.
fn starfleet() -> Mesh {
    Mesh {
        default: Effect::Deny,
        default_source: Some(at(2)),
        mtls: MtlsMode::Strict,
        trust_domain: Some("starfleet".to_string()),
        rules: vec![
            rule(Effect::Allow, "edge", &["picard", "riker", "data"], None, 3),
            rule(Effect::Allow, "picard", &["riker"], Some("GET"), 4),
            rule(Effect::Deny, "*", &["data"], Some("night"), 5),
            rule(Effect::Allow, "*", &["ping"], None, 6),
        ],
        faults: Vec::new(),
        mirrors: Vec::new(),
        between_sidecars: SidecarHop::H2,
    }
}

/// Conditions as tests script them: the `when` text names the method (or `night`) it holds for.
fn on(method: &'static str) -> impl FnMut(usize, &MeshRule) -> Condition {
    move |_, rule| match rule.when.as_deref() {
        Some("boom") => Condition::Error("no such key".into()),
        Some(when) if when == method => Condition::Holds,
        _ => Condition::Fails,
    }
}

fn decided_line(decision: &MeshDecision<'_>) -> Option<u32> {
    match decision.decided_by {
        DecidedBy::Rule { rule, .. } => Some(rule.source.line),
        DecidedBy::Default { .. } => None,
    }
}

#[test]
fn an_allow_rule_lets_its_caller_through() {
    let mesh = starfleet();
    let d = decide(&mesh, &MeshSource::member("edge", None), "riker", on("GET"));
    assert!(d.is_allowed());
    assert_eq!(decided_line(&d), Some(3));
    assert_eq!(d.location().as_deref(), Some("mesh.mesh:3"));
}

#[test]
fn a_call_no_rule_names_gets_the_default_with_its_place() {
    let mesh = starfleet();
    let d = decide(
        &mesh,
        &MeshSource::member("riker", None),
        "picard",
        on("GET"),
    );
    assert_eq!(d.effect, Effect::Deny);
    assert_eq!(decided_line(&d), None);
    assert_eq!(d.location().as_deref(), Some("mesh.mesh:2"));
}

#[test]
fn a_when_condition_decides_by_the_request() {
    let mesh = starfleet();
    let picard = MeshSource::member("picard", Some("spiffe://starfleet/picard"));
    assert!(decide(&mesh, &picard, "riker", on("GET")).is_allowed());
    let post = decide(&mesh, &picard, "riker", on("POST"));
    assert_eq!((post.effect, decided_line(&post)), (Effect::Deny, None));
}

#[test]
fn deny_beats_an_earlier_allow() {
    let mesh = starfleet();
    let d = decide(
        &mesh,
        &MeshSource::member("edge", None),
        "data",
        on("night"),
    );
    assert_eq!((d.effect, decided_line(&d)), (Effect::Deny, Some(5)));
    let day = decide(&mesh, &MeshSource::member("edge", None), "data", on("GET"));
    assert_eq!((day.effect, decided_line(&day)), (Effect::Allow, Some(3)));
}

#[test]
fn an_unauthenticated_caller_matches_only_star_rules_and_the_default() {
    let mesh = starfleet();
    let anyone = MeshSource::UNAUTHENTICATED;
    assert!(decide(&mesh, &anyone, "ping", on("GET")).is_allowed());
    let riker = decide(&mesh, &anyone, "riker", on("GET"));
    assert_eq!((riker.effect, decided_line(&riker)), (Effect::Deny, None));
    // Not even a rule naming a service by name that the caller cannot prove to be.
    let mut allow_all = starfleet();
    allow_all.default = Effect::Allow;
    let d = decide(&allow_all, &anyone, "data", on("night"));
    assert_eq!(decided_line(&d), Some(5));
}

#[test]
fn a_condition_that_errs_fails_closed() {
    let mut mesh = starfleet();
    mesh.rules[1].when = Some("boom".into());
    let d = decide(
        &mesh,
        &MeshSource::member("picard", None),
        "riker",
        on("GET"),
    );
    assert_eq!(d.effect, Effect::Deny);
    assert_eq!(d.condition_error, Some((1, "no such key".to_string())));
    mesh.rules[2].when = Some("boom".into());
    let d = decide(&mesh, &MeshSource::member("edge", None), "data", on("GET"));
    assert_eq!((d.effect, decided_line(&d)), (Effect::Deny, Some(5)));
}

#[test]
fn conditions_are_evaluated_only_for_rules_naming_the_call_denies_first() {
    let mesh = starfleet();
    let mut asked = Vec::new();
    decide(
        &mesh,
        &MeshSource::member("edge", None),
        "data",
        |index, _| {
            asked.push(index);
            Condition::Fails
        },
    );
    assert_eq!(asked, [2]);
}

#[test]
fn a_program_without_a_mesh_block_allows_everything() {
    let mesh = Mesh::default();
    let d = decide(&mesh, &MeshSource::UNAUTHENTICATED, "riker", on("GET"));
    assert!(d.is_allowed());
    assert_eq!(d.location(), None);
}

#[test]
fn rules_read_back_as_written() {
    let mesh = starfleet();
    assert_eq!(
        describe_rule(&mesh.rules[0]),
        "allow edge -> [picard, riker, data]"
    );
    assert_eq!(describe_rule(&mesh.rules[2]), "deny * -> data when night");
}

#[test]
fn the_denial_names_the_rule_or_the_default_and_where() {
    let mesh = starfleet();
    let edge = MeshSource::member("edge", None);
    let by_rule = decide(&mesh, &edge, "data", on("night"));
    assert_eq!(
        denied_by(&by_rule, "data"),
        "mesh=data; rule=deny * -> data when night; source=mesh.mesh:5"
    );
    let by_default = decide(
        &mesh,
        &MeshSource::member("riker", None),
        "picard",
        on("GET"),
    );
    assert_eq!(
        denied_by(&by_default, "picard"),
        "mesh=picard; rule=default deny; source=mesh.mesh:2"
    );
}
