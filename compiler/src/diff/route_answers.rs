//! Which route answers each sample request in the old and in the new program, through the
//! shared matcher (the code meshd routes with). A request answered differently is a
//! [`Transition`]; [`super::routes`] attaches each to the route change that explains it, or
//! reports it as a precedence change.

use std::collections::BTreeMap;

use meshwork_bundle::matcher::{HeaderPairs, MatchOutcome, RequestTarget, RouteTable};
use meshwork_bundle::{Gateway, MethodMismatch, Route};

use super::sample_requests::{samples, SampleRequest};

/// How a gateway answers a request, as far as routing decides.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum RoutingAnswer {
    /// This route takes it.
    Route(String),
    /// Routes match all but the method (405 with these methods).
    MethodNotAllowed(Vec<String>),
    /// No route (404).
    NotFound,
    /// The path cannot be normalized (400).
    BadPath,
}

impl RoutingAnswer {
    /// The route's name, if a route takes the request.
    pub fn route(&self) -> Option<&str> {
        match self {
            RoutingAnswer::Route(name) => Some(name),
            _ => None,
        }
    }
}

/// One gateway's routes, compiled for lookups.
pub struct GatewayRouting<'b> {
    pub gateway: &'b Gateway,
    table: Option<RouteTable>,
}

impl<'b> GatewayRouting<'b> {
    /// Compiles the routes (a table that does not build answers nothing, as in meshd).
    pub fn new(gateway: &'b Gateway) -> Self {
        GatewayRouting {
            gateway,
            table: RouteTable::with_path_policy(&gateway.routes, &gateway.path_policy).ok(),
        }
    }

    /// The route named `name`.
    pub fn route(&self, name: &str) -> Option<&'b Route> {
        self.gateway.routes.iter().find(|r| r.name == name)
    }

    /// How the gateway answers `request`, and every route that matches it.
    pub fn answer(&self, request: &SampleRequest) -> (RoutingAnswer, Vec<&'b str>) {
        let Some(table) = &self.table else {
            return (RoutingAnswer::NotFound, Vec::new());
        };
        // The gateway's own path policy, as meshd normalizes.
        let Ok(path) = table.normalize(&request.path) else {
            return (RoutingAnswer::BadPath, Vec::new());
        };
        let pairs: Vec<(&str, &str)> = request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let headers = HeaderPairs(&pairs);
        let target = RequestTarget::new(&request.method, &request.host, &path)
            .with_query(&request.query)
            .with_headers(&headers);
        let matching = table
            .matching_routes(&target)
            .into_iter()
            .map(|i| self.gateway.routes[i].name.as_str())
            .collect();
        let answer = match table.find(&target) {
            MatchOutcome::Matched { route, .. } => {
                RoutingAnswer::Route(self.gateway.routes[route].name.clone())
            }
            // As in the Gateway API, a route of another method does not match: 404, unless the
            // gateway answers 405 on purpose.
            MatchOutcome::MethodMismatch { allow, .. } => match self.gateway.method_mismatch {
                MethodMismatch::MethodNotAllowed => {
                    RoutingAnswer::MethodNotAllowed(allow.into_iter().map(str::to_string).collect())
                }
                MethodMismatch::NotFound => RoutingAnswer::NotFound,
            },
            MatchOutcome::NotFound => RoutingAnswer::NotFound,
        };
        (answer, matching)
    }
}

/// A request the two programs answer differently.
#[derive(Debug, Clone)]
pub struct Transition {
    pub request: SampleRequest,
    pub before: RoutingAnswer,
    pub after: RoutingAnswer,
    /// The routes of the old program matching the request.
    pub matched_before: Vec<String>,
    /// The routes of the new program matching the request.
    pub matched_after: Vec<String>,
}

/// One transition per distinct (before, after) pair of answers, with the first sample (in
/// sample order) that shows it.
pub fn transitions(old: &GatewayRouting<'_>, new: &GatewayRouting<'_>) -> Vec<Transition> {
    let routes: Vec<&Route> = old
        .gateway
        .routes
        .iter()
        .chain(new.gateway.routes.iter())
        .collect();
    let mut seen: BTreeMap<(RoutingAnswer, RoutingAnswer), Transition> = BTreeMap::new();
    for request in samples(&routes) {
        let (before, matched_before) = old.answer(&request);
        let (after, matched_after) = new.answer(&request);
        if before == after {
            continue;
        }
        seen.entry((before.clone(), after.clone()))
            .or_insert_with(|| Transition {
                request,
                before,
                after,
                matched_before: matched_before.into_iter().map(str::to_string).collect(),
                matched_after: matched_after.into_iter().map(str::to_string).collect(),
            });
    }
    seen.into_values().collect()
}
