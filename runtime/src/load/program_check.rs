//! `meshd validate`'s check that a bundle's program builds: every part meshd compiles when it
//! loads a bundle and that needs neither secrets nor a network (route tables, CEL conditions and
//! expressions, faults, the mesh's rules, stream rules, topic schemas), compiled by the code that
//! serves it. A bundle from meshc always passes; one from elsewhere, or edited by hand, is
//! refused here as `meshd run` would refuse it, for every reason at once.

use meshwork_bundle::matcher::RouteTable;
use meshwork_bundle::{AdmissionStep, Balance, Bundle, RouteAction};
use prometheus_client::metrics::counter::Counter;

use crate::admit::cel::{RequestCondition, RequestExpression};
use crate::forward::fault_injection::FaultInjection;
use crate::forward::hash_key::HashKey;
use crate::mesh::mesh_metrics::MeshMetrics;
use crate::mesh::mesh_state::MeshState;
use crate::stream::{StreamPlan, TopicSchemas};

/// Every reason the program of `bundle` would not build, in bundle order (none when it builds).
pub fn program_errors(bundle: &Bundle) -> Vec<String> {
    let mut errors = Vec::new();
    let mut check = |result: Result<(), String>| {
        if let Err(error) = result {
            errors.push(error);
        }
    };
    for gateway in &bundle.gateways {
        let table = RouteTable::with_path_policy(&gateway.routes, &gateway.path_policy);
        check(
            table
                .map(drop)
                .map_err(|e| format!("gateway `{}`: {e}", gateway.name)),
        );
        for route in &gateway.routes {
            let at = |line: u32| format!("{}:{line}", route.source.file);
            let whose = format!("gateway `{}`, route `{}`", gateway.name, route.name);
            for step in &route.admission {
                if let AdmissionStep::Condition { cel, source } = step {
                    check(RequestCondition::compile(cel).map(drop).map_err(|e| {
                        format!("{}: {whose}: condition: {}", at(source.line), e.message)
                    }));
                }
            }
            let faults = FaultInjection::build(&route.name, &route.admission, Some(0), |_| {
                Counter::default()
            });
            check(faults.map(drop).map_err(|e| e.to_string()));
            if let RouteAction::Produce { key: Some(key), .. } = &route.action {
                check(RequestExpression::compile(key).map(drop).map_err(|e| {
                    format!(
                        "{}: {whose}: record key: {}",
                        at(route.source.line),
                        e.message
                    )
                }));
            }
        }
    }
    for service in &bundle.services {
        if let Balance::Hash { cel } = &service.balance {
            check(
                HashKey::compile(cel)
                    .map(drop)
                    .map_err(|e| format!("service `{}`: {e}", service.name)),
            );
        }
        let faults =
            FaultInjection::build_pairs(&service.name, &bundle.mesh.faults, Some(0), |_, _| {
                Counter::default()
            });
        check(faults.map(drop).map_err(|e| e.to_string()));
    }
    check(
        MeshState::build(bundle, &MeshMetrics::new(0))
            .map(drop)
            .map_err(|e| e.to_string()),
    );
    check(
        StreamPlan::from_bundle(bundle)
            .map(drop)
            .map_err(|e| e.to_string()),
    );
    check(
        TopicSchemas::compile(&bundle.topics)
            .map(drop)
            .map_err(|e| e.to_string()),
    );
    errors
}
