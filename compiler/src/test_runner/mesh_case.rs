//! A call through the mesh: may `source` (a gateway or service, presenting its identity) call
//! `destination`? Decided by the one mesh decision (`meshwork_bundle::mesh_policy::decide`: deny
//! beats allow, then the default), with each rule's `when` evaluated by the runtime's request
//! CEL (`meshwork-policy`) on the call's method, path and headers. A condition that fails to
//! evaluate fails closed.

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use meshwork_bundle::mesh_policy::{
    decide, describe_rule, Condition, DecidedBy, IdentityDirectory, MeshSource,
};
use meshwork_bundle::{Bundle, MeshRule};
use meshwork_policy::admit::cel::{CelInput, MeshCaller, RequestCondition};
use meshwork_policy::admit::RequestFacts;

use super::case_plan::CasePlan;
use super::outcome::{Outcome, Refusal};
use super::traffic_case::pair_faults;

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
    by_identity: bool,
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
    // As meshd's sidecar knows a caller: by the identity its certificate proves. A name stands
    // for the member presenting its own identity; an identity no member has names nobody (only
    // rules from `*` and the default can let it in).
    let directory = IdentityDirectory::build(bundle);
    let caller = if by_identity {
        MeshSource {
            name: directory.member(source).map(|m| m.name.as_str()),
            identity: Some(source),
        }
    } else {
        let identity = bundle
            .services
            .iter()
            .find(|s| s.name == source)
            .and_then(|s| s.identity.as_deref())
            .or_else(|| {
                bundle
                    .gateways
                    .iter()
                    .find(|g| g.name == source)
                    .and_then(|g| g.identity.as_deref())
            });
        MeshSource::member(source, identity)
    };
    // The one mesh decision (meshwork_bundle::mesh_policy), each `when` run by meshd's request CEL.
    let decision = decide(
        &bundle.mesh,
        &caller,
        destination,
        |_, rule| match condition_holds(rule, &facts) {
            Ok(true) => Condition::Holds,
            Ok(false) => Condition::Fails,
            Err(error) => Condition::Error(error),
        },
    );
    let rule_source = match decision.decided_by {
        DecidedBy::Rule { rule, .. } => Some(rule.source.clone()),
        DecidedBy::Default { .. } => None,
    };
    if decision.is_allowed() {
        let mut outcome = Outcome {
            allowed: true,
            mesh_rule: rule_source,
            ..Outcome::default()
        };
        // The destination's sidecar draws the pair's faults once it allowed the call.
        let cel_caller = MeshCaller {
            service: caller.name.unwrap_or(""),
            identity: caller.identity.unwrap_or(""),
        };
        pair_faults(
            plan.faults,
            &bundle.mesh.faults,
            caller.name,
            destination,
            CelInput::mesh_call(&facts, cel_caller),
            &mut outcome,
        );
        return Ok(outcome);
    }
    let pair = format!("`{source}` → `{destination}`");
    let reason = match (&decision.decided_by, &decision.condition_error) {
        (DecidedBy::Rule { index, .. }, Some((failed, error))) if index == failed => error.clone(),
        (DecidedBy::Rule { rule, .. }, _) => {
            format!("{pair} is denied by `{}`", describe_rule(rule))
        }
        (DecidedBy::Default { .. }, _) => {
            format!("{pair} is not allowed by any mesh rule and the mesh denies by default")
        }
    };
    let source_location = match decision.decided_by {
        DecidedBy::Rule { rule, .. } => Some(rule.source.clone()),
        DecidedBy::Default { source } => source.cloned(),
    };
    Ok(Outcome {
        status: Some(403),
        refusal: Some(Refusal {
            step: "mesh".to_string(),
            reason,
            source: source_location,
        }),
        mesh_rule: rule_source,
        ..Outcome::default()
    })
}
