//! Answers as data (rendered for people by [`super::render_human`], serialized as JSON as is).
//! The structure comes from the bundle's graph (which routes forward to a service, which routes
//! and streams write a topic, which streams read it); the details of each route (its match, who
//! it admits, its limits) from the route itself.

use std::collections::BTreeSet;

use meshwork_bundle::{
    Bundle, EdgeKind, Gateway, ProduceTopic, Route, RouteAction, SourceLocation, Stream,
};
use serde::Serialize;

use crate::diagnostics::suggest::closest;
use crate::explain::render::describe_match;
use crate::reach::graph_index::id_name;
use crate::reach::{mesh_verdict, route_callers, GraphIndex, MeshVerdict, Qualifier};

use super::question::Question;

/// The answer to one question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "question", rename_all = "snake_case")]
pub enum Answer {
    /// Who can reach a service.
    ReachService {
        service: String,
        /// Gateway routes that forward to it.
        routes: Vec<RouteReach>,
        /// Gateways and services the mesh lets call it.
        mesh: Vec<MeshCaller>,
        /// Streams that deliver records to it.
        streams: Vec<StreamReach>,
        /// Routes that reach it through services the mesh lets call it.
        indirect: Vec<IndirectReach>,
    },
    /// Who can send requests through a route.
    ReachRoute { route: Box<RouteReach> },
    /// Who can write a topic.
    Produce {
        topic: String,
        /// Whether the program says the topic is also written outside it.
        external: bool,
        routes: Vec<RouteReach>,
        streams: Vec<StreamReach>,
    },
    /// Who reads a topic: the streams, and the routes serving it to HTTP clients (with whom
    /// they admit).
    Consume {
        topic: String,
        streams: Vec<StreamReach>,
        routes: Vec<RouteReach>,
    },
}

/// One route and who it admits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteReach {
    pub gateway: String,
    pub route: String,
    /// The match as written (`GET "/officers/{id}"`).
    #[serde(rename = "match")]
    pub matcher: String,
    /// The gateway's listening addresses.
    pub listeners: Vec<String>,
    /// `no auth`, `API key`, `basic auth` or `JWT`.
    pub auth: String,
    /// Whether clients without credentials get through.
    pub anyone: bool,
    /// The consumers that get through (when not `anyone`).
    pub consumers: Vec<String>,
    /// What else limits them (address rules, conditions, rate and body limits).
    pub only: Vec<String>,
    /// For a forward: this service's share of the route's requests, in percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share: Option<u8>,
    /// For a produce whose topic a path parameter names: which parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_param: Option<String>,
    /// For a forward: whether the mesh lets the gateway call the service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mesh: Option<MeshCaller>,
    /// Where the route is written.
    pub source: String,
}

/// A gateway or service and the mesh's verdict on its calls to a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeshCaller {
    /// `gateway` or `service`.
    pub kind: String,
    pub name: String,
    /// The called service.
    pub service: String,
    pub allowed: bool,
    /// `allowed`, `allowed when …`, `denied by default`.
    pub verdict: String,
    /// The deciding rule, or `null` for the default.
    pub rule: Option<String>,
}

/// A stream and what it does with the topic in question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamReach {
    pub stream: String,
    /// `delivers`, `republishes`, `dead-letters` or `reads`.
    pub role: String,
    /// The topic it reads.
    pub from: String,
    /// Whether that topic is also written outside the program.
    pub from_external: bool,
    pub group: String,
    /// Its filter.
    pub when: Option<String>,
    /// The topic it republishes to.
    pub to: Option<String>,
    /// `service path` it delivers to.
    pub deliver: Option<String>,
    pub dead_letter: Option<String>,
    /// Routes that write the topic it reads.
    pub fed_by: Vec<RouteReach>,
    /// Other streams that write the topic it reads.
    pub fed_by_streams: Vec<String>,
    pub source: String,
}

/// A route whose requests reach the service through a chain of mesh calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndirectReach {
    /// The services between the route and the service in question, nearest the route first.
    pub through: Vec<String>,
    /// The mesh's verdicts on each call of the chain.
    pub mesh: Vec<MeshCaller>,
    pub route: RouteReach,
}

/// A name the question uses that the program does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} `{name}` is not in the program{}", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
pub struct UnknownName {
    pub what: &'static str,
    pub name: String,
    pub suggestion: Option<String>,
}

/// `file:line:column`.
pub fn at(location: &SourceLocation) -> String {
    format!("{}:{}:{}", location.file, location.line, location.column)
}

/// Answers `question` about `bundle`.
pub fn answer(bundle: &Bundle, question: &Question) -> Result<Answer, UnknownName> {
    let graph = GraphIndex::new(&bundle.graph);
    let finder = Finder { bundle, graph };
    match question {
        Question::ReachService(service) => finder.reach_service(service),
        Question::ReachRoute(route) => finder.reach_route(route),
        Question::Produce(topic) => finder.produce(topic),
        Question::Consume(topic) => finder.consume(topic),
    }
}

struct Finder<'b> {
    bundle: &'b Bundle,
    graph: GraphIndex<'b>,
}

impl<'b> Finder<'b> {
    fn unknown(&self, what: &'static str, name: &str, known: Vec<String>) -> UnknownName {
        UnknownName {
            what,
            name: name.to_string(),
            suggestion: closest(name, known.iter().map(String::as_str)).map(str::to_string),
        }
    }

    fn route(&self, qualified: &str) -> Option<(&'b Gateway, &'b Route)> {
        let (gateway, route) = qualified.split_once('/')?;
        let gateway = self.bundle.gateways.iter().find(|g| g.name == gateway)?;
        Some((gateway, gateway.routes.iter().find(|r| r.name == route)?))
    }

    fn stream(&self, name: &str) -> Option<&'b Stream> {
        self.bundle.streams.iter().find(|s| s.name == name)
    }

    fn mesh_caller(&self, kind: &str, name: &str, service: &str) -> MeshCaller {
        let verdict = mesh_verdict(&self.bundle.mesh, name, service);
        let rule = match &verdict {
            MeshVerdict::Allowed { rule, .. } | MeshVerdict::Denied { rule } => {
                rule.map(|r| at(&r.source))
            }
        };
        MeshCaller {
            kind: kind.to_string(),
            name: name.to_string(),
            service: service.to_string(),
            allowed: verdict.is_allowed(),
            verdict: verdict.describe(),
            rule,
        }
    }

    fn route_reach(&self, gateway: &Gateway, route: &Route) -> RouteReach {
        let callers = route_callers(gateway, route);
        RouteReach {
            gateway: gateway.name.clone(),
            route: route.name.clone(),
            matcher: describe_match(route),
            listeners: gateway
                .listeners
                .iter()
                .map(|l| l.address.clone())
                .collect(),
            auth: callers.auth_name().to_string(),
            anyone: callers.callers.admits_anonymous(),
            consumers: match &callers.callers {
                crate::reach::Callers::Anyone => Vec::new(),
                crate::reach::Callers::Consumers(names) => names.iter().cloned().collect(),
            },
            only: callers.qualifiers.iter().map(Qualifier::describe).collect(),
            share: None,
            topic_param: None,
            mesh: None,
            source: at(&route.source),
        }
    }

    /// Routes forwarding to `service`, from the graph's `forwards` edges.
    fn routes_forwarding_to(&self, service: &str) -> Vec<RouteReach> {
        let id = format!("service:{service}");
        let mut out = Vec::new();
        for incoming in self.graph.into_node(&id, EdgeKind::Forwards) {
            if !incoming.from.id.starts_with("route:") {
                continue;
            }
            let Some((gateway, route)) = self.route(id_name(&incoming.from.id)) else {
                continue;
            };
            let mut reach = self.route_reach(gateway, route);
            reach.share = forward_share(route, service);
            reach.mesh = Some(self.mesh_caller("gateway", &gateway.name, service));
            out.push(reach);
        }
        out
    }

    fn reach_service(&self, service: &str) -> Result<Answer, UnknownName> {
        if !self.bundle.services.iter().any(|s| s.name == service) {
            let known = self
                .bundle
                .services
                .iter()
                .map(|s| s.name.clone())
                .collect();
            return Err(self.unknown("service", service, known));
        }
        let callers = self
            .bundle
            .gateways
            .iter()
            .map(|g| ("gateway", g.name.as_str()))
            .chain(
                self.bundle
                    .services
                    .iter()
                    .map(|s| ("service", s.name.as_str())),
            )
            .filter(|(_, name)| *name != service);
        let mesh: Vec<MeshCaller> = callers
            .map(|(kind, name)| self.mesh_caller(kind, name, service))
            .filter(|caller| caller.allowed)
            .collect();
        let streams = self
            .graph
            .into_node(&format!("service:{service}"), EdgeKind::Forwards)
            .filter(|incoming| incoming.from.id.starts_with("stream:"))
            .filter_map(|incoming| self.stream(&incoming.from.name))
            .map(|stream| self.stream_reach(stream, "delivers"))
            .collect();
        Ok(Answer::ReachService {
            service: service.to_string(),
            routes: self.routes_forwarding_to(service),
            indirect: self.indirect(service, &mesh),
            mesh,
            streams,
        })
    }

    /// Routes reaching `service` through services the mesh lets call it, breadth first.
    fn indirect(&self, service: &str, direct: &[MeshCaller]) -> Vec<IndirectReach> {
        let mut out = Vec::new();
        let mut seen: BTreeSet<String> = BTreeSet::from([service.to_string()]);
        // (service reached, chain from it to `service`, verdicts along the chain)
        let mut frontier: Vec<(String, Vec<String>, Vec<MeshCaller>)> = direct
            .iter()
            .filter(|c| c.kind == "service")
            .map(|c| (c.name.clone(), vec![c.name.clone()], vec![c.clone()]))
            .collect();
        while !frontier.is_empty() {
            let mut next = Vec::new();
            for (caller, chain, verdicts) in frontier {
                if !seen.insert(caller.clone()) {
                    continue;
                }
                for route in self.routes_forwarding_to(&caller) {
                    if route.mesh.as_ref().is_some_and(|m| !m.allowed) {
                        continue;
                    }
                    let mut mesh = vec![route.mesh.clone()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>();
                    mesh.extend(verdicts.iter().cloned());
                    out.push(IndirectReach {
                        through: chain.clone(),
                        mesh,
                        route,
                    });
                }
                for upstream in &self.bundle.services {
                    if seen.contains(&upstream.name) {
                        continue;
                    }
                    let verdict = self.mesh_caller("service", &upstream.name, &caller);
                    if verdict.allowed {
                        let mut chain = chain.clone();
                        chain.insert(0, upstream.name.clone());
                        let mut verdicts = verdicts.clone();
                        verdicts.insert(0, verdict);
                        next.push((upstream.name.clone(), chain, verdicts));
                    }
                }
            }
            frontier = next;
        }
        out
    }

    fn reach_route(&self, name: &str) -> Result<Answer, UnknownName> {
        let qualified = if name.contains('/') {
            Some(name.to_string())
        } else {
            let owners: Vec<&Gateway> = self
                .bundle
                .gateways
                .iter()
                .filter(|g| g.routes.iter().any(|r| r.name == name))
                .collect();
            (owners.len() == 1).then(|| format!("{}/{name}", owners[0].name))
        };
        match qualified.as_deref().and_then(|q| self.route(q)) {
            Some((gateway, route)) => Ok(Answer::ReachRoute {
                route: Box::new(self.route_reach(gateway, route)),
            }),
            None => {
                let known = self
                    .bundle
                    .gateways
                    .iter()
                    .flat_map(|g| {
                        g.routes
                            .iter()
                            .map(move |r| format!("{}/{}", g.name, r.name))
                    })
                    .collect();
                Err(self.unknown("route", name, known))
            }
        }
    }

    /// Routes writing `topic`: the graph's `produces` edges, plus routes whose path parameter
    /// may name any topic (the graph cannot list those).
    fn routes_producing(&self, topic: &str) -> Vec<RouteReach> {
        let mut out = Vec::new();
        for incoming in self
            .graph
            .into_node(&format!("topic:{topic}"), EdgeKind::Produces)
            .filter(|incoming| incoming.from.id.starts_with("route:"))
        {
            if let Some((gateway, route)) = self.route(id_name(&incoming.from.id)) {
                let mut reach = self.route_reach(gateway, route);
                reach.topic_param = topic_param(route);
                out.push(reach);
            }
        }
        for gateway in &self.bundle.gateways {
            for route in &gateway.routes {
                if let RouteAction::Produce {
                    topic: ProduceTopic::Param { allow: None, .. },
                    ..
                } = &route.action
                {
                    let mut reach = self.route_reach(gateway, route);
                    reach.topic_param = topic_param(route);
                    out.push(reach);
                }
            }
        }
        out
    }

    fn known_topics(&self) -> Vec<String> {
        self.bundle
            .graph
            .nodes
            .iter()
            .filter(|n| n.id.starts_with("topic:"))
            .map(|n| n.name.clone())
            .collect()
    }

    fn produce(&self, topic: &str) -> Result<Answer, UnknownName> {
        let id = format!("topic:{topic}");
        if self.graph.node(&id).is_none() {
            return Err(self.unknown("topic", topic, self.known_topics()));
        }
        let streams = self
            .graph
            .into_node(&id, EdgeKind::Produces)
            .filter(|incoming| incoming.from.id.starts_with("stream:"))
            .filter_map(|incoming| {
                let stream = self.stream(&incoming.from.name)?;
                let role =
                    if incoming.edge.label.as_deref() == Some(crate::graph::DEAD_LETTER_LABEL) {
                        "dead-letters"
                    } else {
                        "republishes"
                    };
                Some(self.stream_reach(stream, role))
            })
            .collect();
        Ok(Answer::Produce {
            topic: topic.to_string(),
            external: self
                .bundle
                .topics
                .iter()
                .any(|t| t.name == topic && t.external),
            routes: self.routes_producing(topic),
            streams,
        })
    }

    fn consume(&self, topic: &str) -> Result<Answer, UnknownName> {
        let id = format!("topic:{topic}");
        if self.graph.node(&id).is_none() {
            return Err(self.unknown("topic", topic, self.known_topics()));
        }
        let streams = self
            .graph
            .out_of(&id, EdgeKind::Consumes)
            .filter_map(|edge| self.stream(id_name(&edge.to)))
            .map(|stream| self.stream_reach(stream, "reads"))
            .collect();
        let routes = self
            .graph
            .out_of(&id, EdgeKind::Consumes)
            .filter(|edge| edge.to.starts_with("route:"))
            .filter_map(|edge| self.route(id_name(&edge.to)))
            .map(|(gateway, route)| self.route_reach(gateway, route))
            .collect();
        Ok(Answer::Consume {
            topic: topic.to_string(),
            streams,
            routes,
        })
    }

    fn stream_reach(&self, stream: &Stream, role: &str) -> StreamReach {
        let from = &stream.from.topic;
        let fed_by_streams = self
            .graph
            .into_node(&format!("topic:{from}"), EdgeKind::Produces)
            .filter(|incoming| incoming.from.id.starts_with("stream:"))
            .map(|incoming| incoming.from.name.clone())
            .collect();
        StreamReach {
            stream: stream.name.clone(),
            role: role.to_string(),
            from: from.clone(),
            from_external: self
                .bundle
                .topics
                .iter()
                .any(|t| &t.name == from && t.external),
            group: stream.from.group.clone(),
            when: stream.when.clone(),
            to: stream.to.as_ref().map(|t| t.topic.clone()),
            deliver: stream
                .deliver
                .as_ref()
                .map(|d| format!("{} {}", d.service, d.path)),
            dead_letter: stream.dead_letter.clone(),
            fed_by: self.routes_producing(from),
            fed_by_streams,
            source: at(&stream.source),
        }
    }
}

/// The weight of `service` among a forward's targets.
fn forward_share(route: &Route, service: &str) -> Option<u8> {
    match &route.action {
        RouteAction::Forward { targets, .. } => targets
            .iter()
            .find(|t| t.service == service)
            .map(|t| t.weight),
        _ => None,
    }
}

/// The path parameter naming a produce route's topic, if it is one.
fn topic_param(route: &Route) -> Option<String> {
    match &route.action {
        RouteAction::Produce {
            topic: ProduceTopic::Param { param, .. },
            ..
        } => Some(param.clone()),
        _ => None,
    }
}
