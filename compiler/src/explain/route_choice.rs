//! Which route of a gateway a request reaches, through the shared matcher (the same code meshd
//! routes with), and which precedence step put the winner before each other matching route.

use meshwork_bundle::matcher::{HeaderPairs, MatchOutcome, RequestTarget, RouteTable};
use meshwork_bundle::{compare_routes, Gateway, MethodMismatch, PrecedenceStep, Route};

use super::request_line::ExplainRequest;

/// What the matcher decided for one gateway.
#[derive(Debug)]
pub enum RouteChoice<'b> {
    /// `winner` takes the request; every other matching route, with the step that ranked the winner first.
    Matched {
        winner: &'b Route,
        params: Vec<(String, String)>,
        beaten: Vec<(&'b Route, PrecedenceStep)>,
        /// The path as normalized: what was matched, and what goes upstream.
        path: String,
    },
    /// No route matches, but these would if the method were one of `allow`: a 404, or a 405
    /// with `allow` in `Allow` when the gateway says `method_mismatch 405`.
    MethodMismatch {
        routes: Vec<&'b Route>,
        allow: Vec<String>,
        answer: MethodMismatch,
    },
    /// No route matches the (normalized) path: 404.
    NotFound { path: String },
    /// The path cannot be normalized: 400.
    BadPath(String),
    /// The gateway's routes do not compile (only for bundles not made by a checked compile).
    BadTable(String),
}

/// The gateways a request reaches: those listening on the URL's port, else all of them.
pub fn gateways_for<'b>(gateways: &'b [Gateway], request: &ExplainRequest) -> Vec<&'b Gateway> {
    let on_port: Vec<&Gateway> = match request.port {
        Some(port) => gateways
            .iter()
            .filter(|g| {
                g.listeners.iter().any(|l| {
                    l.address
                        .rsplit_once(':')
                        .and_then(|(_, p)| p.parse::<u16>().ok())
                        == Some(port)
                })
            })
            .collect(),
        None => Vec::new(),
    };
    if on_port.is_empty() {
        gateways.iter().collect()
    } else {
        on_port
    }
}

/// Runs the request through the gateway's route table.
pub fn choose_route<'b>(gateway: &'b Gateway, request: &ExplainRequest) -> RouteChoice<'b> {
    let table = match RouteTable::with_path_policy(&gateway.routes, &gateway.path_policy) {
        Ok(table) => table,
        Err(error) => return RouteChoice::BadTable(error.to_string()),
    };
    // The runtime's own normalization under the gateway's policy: what is matched and forwarded.
    let path = match table.normalize(&request.path) {
        Ok(path) => path.into_owned(),
        Err(error) => return RouteChoice::BadPath(error.to_string()),
    };
    let headers: Vec<(&str, &str)> = request
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let header_pairs = HeaderPairs(&headers);
    let target = RequestTarget::new(&request.method, &request.host, &path)
        .with_query(&request.query)
        .with_headers(&header_pairs);
    let outcome = table.find(&target);
    let choice = match outcome {
        MatchOutcome::Matched { route, params } => {
            let winner = &gateway.routes[route];
            let beaten = table
                .matching_routes(&target)
                .into_iter()
                .filter(|other| *other != route)
                .map(|other| {
                    let loser = &gateway.routes[other];
                    (loser, compare_routes(winner, loser).step)
                })
                .collect();
            let params = params
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            RouteChoice::Matched {
                winner,
                params,
                beaten,
                path: path.clone(),
            }
        }
        MatchOutcome::MethodMismatch { allow, routes } => RouteChoice::MethodMismatch {
            routes: routes.into_iter().map(|r| &gateway.routes[r]).collect(),
            allow: allow.into_iter().map(str::to_string).collect(),
            answer: gateway.method_mismatch,
        },
        MatchOutcome::NotFound => RouteChoice::NotFound { path: path.clone() },
    };
    choice
}
