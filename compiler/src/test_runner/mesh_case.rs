//! A call through the mesh: may `source` (a gateway or service) call `destination`? The rules
//! name the pair; a rule's `when` is request CEL, evaluated by the runtime's request CEL
//! (`meshwork-policy`) on the call's method, path and headers. An unconditional deny wins;
//! then a conditional deny whose condition holds; then the first allow whose condition holds;
//! then the default. A condition that fails to evaluate refuses (fail closed).

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use meshwork_bundle::{Bundle, Effect, MeshRule};
use meshwork_policy::admit::cel::{CelInput, RequestCondition};
use meshwork_policy::admit::RequestFacts;

use crate::reach::mesh_verdict::rule_applies;

use super::case_plan::CasePlan;
use super::outcome::{Outcome, Refusal};

/// Whether `rule`'s condition holds for the call (`Err`: it failed to evaluate).
fn condition_holds(rule: &MeshRule, facts: &RequestFacts<'_>) -> Result<bool, String> {
    let Some(source) = &rule.when else {
        return Ok(true);
    };
    let condition = RequestCondition::compile(source).map_err(|e| e.message)?;
    condition
        .evaluate(CelInput::request(facts))
        .map_err(|e| format!("`{source}` failed: {e}"))
}

/// Decides the call of `plan` from `source` to `destination`.
pub fn decide_call(
    bundle: &Bundle,
    plan: &CasePlan<'_>,
    source: &str,
    destination: &str,
) -> Result<Outcome, String> {
    let request = &plan.request;
    let method = Method::from_bytes(request.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut headers = HeaderMap::new();
    for (name, value) in &request.headers {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?,
            HeaderValue::from_str(value).map_err(|e| e.to_string())?,
        );
    }
    let host = (!request.host.is_empty()).then_some(request.host.as_str());
    let query = (!request.query.is_empty()).then_some(request.query.as_str());
    let facts = RequestFacts::new(&method, &request.path, &headers, plan.client)
        .with_host(host)
        .with_query(query);
    let rules: Vec<&MeshRule> = bundle
        .mesh
        .rules
        .iter()
        .filter(|rule| rule_applies(rule, source, destination))
        .collect();
    let refuse = |rule: Option<&MeshRule>, reason: String| Outcome {
        status: Some(403),
        refusal: Some(Refusal {
            step: "mesh".to_string(),
            reason,
            source: rule.map(|r| r.source.clone()),
        }),
        mesh_rule: rule.map(|r| r.source.clone()),
        ..Outcome::default()
    };
    let pair = format!("`{source}` → `{destination}`");
    for rule in rules.iter().filter(|r| r.effect == Effect::Deny) {
        match condition_holds(rule, &facts) {
            Ok(true) => {
                return Ok(refuse(
                    Some(rule),
                    format!("{pair} is denied by a mesh rule"),
                ))
            }
            Ok(false) => {}
            Err(error) => return Ok(refuse(Some(rule), error)),
        }
    }
    for rule in rules.iter().filter(|r| r.effect == Effect::Allow) {
        match condition_holds(rule, &facts) {
            Ok(true) => {
                return Ok(Outcome {
                    allowed: true,
                    mesh_rule: Some(rule.source.clone()),
                    ..Outcome::default()
                })
            }
            Ok(false) => {}
            Err(error) => return Ok(refuse(Some(rule), error)),
        }
    }
    Ok(match bundle.mesh.default {
        Effect::Allow => Outcome {
            allowed: true,
            ..Outcome::default()
        },
        Effect::Deny => refuse(
            None,
            format!("{pair} is not allowed by any mesh rule and the mesh denies by default"),
        ),
    })
}
