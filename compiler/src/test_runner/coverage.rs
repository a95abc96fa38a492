//! Coverage, as `opa test --coverage` has it: the routes, mesh rules, admission steps (auth,
//! access, limits, CEL conditions, CORS, body limits) and streams of the program that no test
//! reached. An admission step counts as reached when it ran: every step up to the one that
//! refused, or all of them for an admitted request.

use std::collections::BTreeSet;

use meshwork_bundle::{AdmissionStep, Bundle, SourceLocation};
use serde::Serialize;

use crate::reach::{mesh_verdict, MeshVerdict};

use super::expectations::at;
use super::outcome::Outcome;

/// Something the program decides with, which a test may reach.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Decider {
    /// `route`, `mesh rule`, `auth`, `access`, `rate_limit`, `condition`, `cors`,
    /// `body_limit` or `stream`.
    pub kind: String,
    /// `edge/officers`, `edge -> [picard, riker]`, `red_alerts`.
    pub name: String,
    /// `file:line:column`.
    pub source: String,
}

/// Reached and unreached deciders, per kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub routes: Tally,
    pub mesh_rules: Tally,
    pub admission_steps: Tally,
    pub streams: Tally,
    /// Everything no test reached: each gateway's routes (with their steps) as written, then
    /// mesh rules, then streams.
    pub not_reached: Vec<Decider>,
}

impl Coverage {
    /// The share of everything counted that some test reached, in percent (100 for a program
    /// with nothing to reach).
    pub fn percent(&self) -> f64 {
        let tallies = [
            self.routes,
            self.mesh_rules,
            self.admission_steps,
            self.streams,
        ];
        let reached: usize = tallies.iter().map(|t| t.reached).sum();
        let total: usize = tallies.iter().map(|t| t.total).sum();
        if total == 0 {
            100.0
        } else {
            reached as f64 * 100.0 / total as f64
        }
    }
}

/// How many of one kind were reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub reached: usize,
    pub total: usize,
}

/// What the tests reached, gathered from their outcomes.
#[derive(Debug, Default)]
pub struct Reached {
    routes: BTreeSet<(String, String)>,
    steps: BTreeSet<(String, String, usize)>,
    mesh_rules: BTreeSet<SourceLocation>,
    streams: BTreeSet<String>,
}

impl Reached {
    /// Adds what `outcome` reached.
    pub fn add(&mut self, bundle: &Bundle, outcome: &Outcome) {
        if let (Some(gateway), Some((route, _))) = (&outcome.gateway, &outcome.route) {
            self.routes.insert((gateway.clone(), route.clone()));
            for step in &outcome.steps_reached {
                self.steps.insert((gateway.clone(), route.clone(), *step));
            }
            // A forward passes the mesh's decision on the gateway's call to each service.
            for (service, _) in outcome.forward.iter().flatten() {
                if let MeshVerdict::Allowed {
                    rule: Some(rule), ..
                }
                | MeshVerdict::Denied { rule: Some(rule) } =
                    mesh_verdict(&bundle.mesh, gateway, service)
                {
                    self.mesh_rules.insert(rule.source.clone());
                }
            }
        }
        if let Some(rule) = &outcome.mesh_rule {
            self.mesh_rules.insert(rule.clone());
        }
        if let Some(refusal) = &outcome.refusal {
            if refusal.step == "mesh" {
                if let Some(source) = &refusal.source {
                    self.mesh_rules.insert(source.clone());
                }
            }
        }
        for step in &outcome.streams {
            self.streams.insert(step.stream.clone());
        }
    }
}

fn step_kind(step: &AdmissionStep) -> &'static str {
    match step {
        AdmissionStep::Auth { .. } => "auth",
        AdmissionStep::Access { .. } => "access",
        AdmissionStep::RateLimit { .. } => "rate_limit",
        AdmissionStep::Condition { .. } => "condition",
        AdmissionStep::Cors { .. } => "cors",
        AdmissionStep::BodyLimit { .. } => "body_limit",
        AdmissionStep::Fault { .. } => "fault",
        AdmissionStep::Header { .. } => "header",
    }
}

fn step_source(step: &AdmissionStep) -> &SourceLocation {
    match step {
        AdmissionStep::Auth { source, .. }
        | AdmissionStep::Access { source, .. }
        | AdmissionStep::RateLimit { source, .. }
        | AdmissionStep::Condition { source, .. }
        | AdmissionStep::Cors { source, .. }
        | AdmissionStep::BodyLimit { source, .. }
        | AdmissionStep::Fault { source, .. }
        | AdmissionStep::Header { source, .. } => source,
    }
}

/// The coverage of `bundle` by what was `reached`.
pub fn coverage(bundle: &Bundle, reached: &Reached) -> Coverage {
    let mut not_reached = Vec::new();
    let mut tally = |hit: bool, decider: Decider, count: &mut Tally| {
        count.total += 1;
        if hit {
            count.reached += 1;
        } else {
            not_reached.push(decider);
        }
    };
    let empty = Tally {
        reached: 0,
        total: 0,
    };
    let (mut routes, mut steps, mut mesh_rules, mut streams) = (empty, empty, empty, empty);
    for gateway in &bundle.gateways {
        // The bundle keeps routes in precedence order; people read them as written.
        let mut written: Vec<&meshwork_bundle::Route> = gateway.routes.iter().collect();
        written.sort_by(|a, b| {
            (&a.source.file, a.source.line, a.source.column).cmp(&(
                &b.source.file,
                b.source.line,
                b.source.column,
            ))
        });
        for route in written {
            let key = (gateway.name.clone(), route.name.clone());
            let name = format!("{}/{}", gateway.name, route.name);
            tally(
                reached.routes.contains(&key),
                Decider {
                    kind: "route".to_string(),
                    name: name.clone(),
                    source: at(&route.source),
                },
                &mut routes,
            );
            for (index, step) in route.admission.iter().enumerate() {
                // Header rules only decorate; they decide nothing a test could miss.
                if matches!(step, AdmissionStep::Header { .. }) {
                    continue;
                }
                tally(
                    reached
                        .steps
                        .contains(&(gateway.name.clone(), route.name.clone(), index)),
                    Decider {
                        kind: step_kind(step).to_string(),
                        name: name.clone(),
                        source: at(step_source(step)),
                    },
                    &mut steps,
                );
            }
        }
    }
    for rule in &bundle.mesh.rules {
        tally(
            reached.mesh_rules.contains(&rule.source),
            Decider {
                kind: "mesh rule".to_string(),
                name: format!("{} -> [{}]", rule.from, rule.to.join(", ")),
                source: at(&rule.source),
            },
            &mut mesh_rules,
        );
    }
    for stream in &bundle.streams {
        tally(
            reached.streams.contains(&stream.name),
            Decider {
                kind: "stream".to_string(),
                name: stream.name.clone(),
                source: at(&stream.source),
            },
            &mut streams,
        );
    }
    Coverage {
        routes,
        mesh_rules,
        admission_steps: steps,
        streams,
        not_reached,
    }
}
