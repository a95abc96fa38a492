//! Building the graph from the resolved program. References that did not resolve are left out
//! (name resolution has reported them), so the graph only holds what exists.

use std::collections::HashMap;

use foldhash::fast::FixedState;
use meshwork_bundle::{EdgeKind, NodeKind};
use petgraph::graph::NodeIndex;

use crate::resolve::socket_address::SocketAddress;
use crate::resolve::traffic_split::split_weights;
use crate::resolve::Program;
use crate::syntax::ast;

use super::{ProgramGraph, DEAD_LETTER_LABEL};

/// The graph of `program`: nodes for everything declared or used, edges for every relation.
pub fn build_graph(program: &Program) -> ProgramGraph {
    let mut graph = ProgramGraph::default();
    let mut services = ServiceNodes::default();
    for service in &program.services {
        services.insert(service.name.node.as_str(), add_service(&mut graph, service));
    }
    for topic in &program.topics {
        graph.add_node(
            NodeKind::Topic,
            &topic.name.node,
            &topic.name.node,
            Some(topic.name.span),
        );
    }
    for gateway in &program.gateways {
        add_gateway(&mut graph, &services, gateway);
    }
    for stream in &program.streams {
        add_stream(&mut graph, program, stream);
    }
    add_mesh_rules(&mut graph, program);
    add_loopbacks(&mut graph, program);
    graph
}

/// Service nodes by name, looked up once per forward (lookups only, so a fixed seed is fine).
type ServiceNodes<'a> = HashMap<&'a str, NodeIndex, FixedState>;

fn add_service(graph: &mut ProgramGraph, service: &ast::Service) -> NodeIndex {
    let name = &service.name.node;
    let node = graph.add_node(NodeKind::Service, name, name, Some(service.name.span));
    for endpoint in service
        .endpoints()
        .map(|e| e.node.as_slice())
        .unwrap_or_default()
    {
        let index = graph.add_owned_node(
            NodeKind::Endpoint,
            name,
            &endpoint.node,
            Some(endpoint.span),
        );
        graph.add_edge(node, index, EdgeKind::Balances, None, Some(endpoint.span));
    }
    node
}

fn add_gateway(graph: &mut ProgramGraph, services: &ServiceNodes, gateway: &ast::Gateway) {
    let name = &gateway.name.node;
    let node = graph.add_node(NodeKind::Gateway, name, name, Some(gateway.name.span));
    for listener in &gateway.listeners {
        let address = &listener.address;
        let index =
            graph.add_owned_node(NodeKind::Listener, name, &address.node, Some(address.span));
        graph.add_edge(index, node, EdgeKind::Listens, None, Some(listener.span));
    }
    for consumer in &gateway.consumers {
        let index = graph.add_owned_node(
            NodeKind::Consumer,
            name,
            &consumer.name.node,
            Some(consumer.name.span),
        );
        for group in &consumer.groups {
            let group_index =
                graph.add_owned_node(NodeKind::Group, name, &group.node, Some(group.span));
            graph.add_edge(
                index,
                group_index,
                EdgeKind::MemberOf,
                None,
                Some(group.span),
            );
        }
    }
    for route in &gateway.routes {
        add_route(graph, services, gateway, node, route);
    }
}

fn add_route(
    graph: &mut ProgramGraph,
    services: &ServiceNodes,
    gateway: &ast::Gateway,
    gateway_node: NodeIndex,
    route: &ast::Route,
) {
    let gateway_name = &gateway.name.node;
    let node = graph.add_owned_node(
        NodeKind::Route,
        gateway_name,
        &route.name.node,
        Some(route.name.span),
    );
    graph.add_edge(
        gateway_node,
        node,
        EdgeKind::Admits,
        None,
        Some(route.name.span),
    );
    for statement in &route.statements {
        match statement {
            ast::RouteStatement::Forward(forward) => {
                let labelled =
                    forward.targets.len() > 1 || forward.targets.iter().any(|t| t.weight.is_some());
                let split = if labelled {
                    split_weights(&forward.targets)
                } else {
                    Vec::new()
                };
                for (i, target) in forward.targets.iter().enumerate() {
                    if let Some(service) = services.get(target.service.node.as_str()) {
                        let label = split.get(i).map(|s| format!("{}%", s.weight));
                        graph.add_edge(
                            node,
                            *service,
                            EdgeKind::Forwards,
                            label,
                            Some(target.service.span),
                        );
                    }
                }
            }
            ast::RouteStatement::Produce(produce) => match &produce.topic {
                ast::TopicRef::Fixed(topic) => {
                    let index =
                        graph.add_node(NodeKind::Topic, &topic.node, &topic.node, Some(topic.span));
                    graph.add_edge(node, index, EdgeKind::Produces, None, Some(topic.span));
                }
                ast::TopicRef::Param { param, allow } => {
                    for topic in allow.iter().flatten() {
                        let index = graph.add_node(
                            NodeKind::Topic,
                            &topic.node,
                            &topic.node,
                            Some(topic.span),
                        );
                        graph.add_edge(
                            node,
                            index,
                            EdgeKind::Produces,
                            Some(format!("param {}", param.node)),
                            Some(topic.span),
                        );
                    }
                }
            },
            ast::RouteStatement::Serve(serve) => {
                let topic = &serve.topic;
                let index =
                    graph.add_node(NodeKind::Topic, &topic.node, &topic.node, Some(topic.span));
                graph.add_edge(
                    index,
                    node,
                    EdgeKind::Consumes,
                    Some("served to HTTP clients".to_string()),
                    Some(topic.span),
                );
            }
            ast::RouteStatement::Access(rule) => {
                let (kind, names) = match rule.subject {
                    ast::AccessSubject::Consumers => (NodeKind::Consumer, &rule.values),
                    ast::AccessSubject::Groups => (NodeKind::Group, &rule.values),
                    ast::AccessSubject::Ips => continue,
                };
                let edge = match rule.effect {
                    ast::Effect::Allow => EdgeKind::Allows,
                    ast::Effect::Deny => EdgeKind::Denies,
                };
                for name in names {
                    if let Some(target) = graph.find_owned(kind, gateway_name, &name.node) {
                        graph.add_edge(node, target, edge, None, Some(name.span));
                    }
                }
            }
            _ => {}
        }
    }
}

fn add_stream(graph: &mut ProgramGraph, program: &Program, stream: &ast::Stream) {
    let name = &stream.name.node;
    let node = graph.add_node(NodeKind::Stream, name, name, Some(stream.name.span));
    for statement in &stream.statements {
        match statement {
            ast::StreamStatement::From { topic, group, .. } => {
                let index =
                    graph.add_node(NodeKind::Topic, &topic.node, &topic.node, Some(topic.span));
                let group = group
                    .as_ref()
                    .map_or_else(|| name.clone(), |g| g.node.clone());
                graph.add_edge(
                    index,
                    node,
                    EdgeKind::Consumes,
                    Some(format!("group {group}")),
                    Some(topic.span),
                );
            }
            ast::StreamStatement::To { topic, .. } => {
                let index =
                    graph.add_node(NodeKind::Topic, &topic.node, &topic.node, Some(topic.span));
                graph.add_edge(node, index, EdgeKind::Produces, None, Some(topic.span));
            }
            ast::StreamStatement::DeadLetter(topic) => {
                let index =
                    graph.add_node(NodeKind::Topic, &topic.node, &topic.node, Some(topic.span));
                graph.add_edge(
                    node,
                    index,
                    EdgeKind::Produces,
                    Some(DEAD_LETTER_LABEL.to_string()),
                    Some(topic.span),
                );
            }
            ast::StreamStatement::Deliver(deliver) => {
                if program.symbols.has_service(&deliver.service.node) {
                    if let Some(service) =
                        graph.find_unowned(NodeKind::Service, &deliver.service.node)
                    {
                        graph.add_edge(
                            node,
                            service,
                            EdgeKind::Forwards,
                            Some("deliver".to_string()),
                            Some(deliver.service.span),
                        );
                    }
                }
            }
            ast::StreamStatement::When(_) => {}
        }
    }
}

/// Mesh rules become edges from every caller they name to every service they name (`*` expanded).
fn add_mesh_rules(graph: &mut ProgramGraph, program: &Program) {
    let services: Vec<&str> = program.symbols.services.keys().copied().collect();
    let callers: Vec<(NodeKind, &str)> = program
        .symbols
        .gateways
        .keys()
        .map(|g| (NodeKind::Gateway, *g))
        .chain(services.iter().map(|s| (NodeKind::Service, *s)))
        .collect();
    for rule in program.mesh_rules() {
        let kind = match rule.effect {
            ast::Effect::Allow => EdgeKind::Allows,
            ast::Effect::Deny => EdgeKind::Denies,
        };
        let sources: Vec<NodeIndex> = if rule.source.node == "*" {
            callers
                .iter()
                .filter_map(|(k, n)| graph.find_unowned(*k, n))
                .collect()
        } else {
            graph
                .find_named(NodeKind::Gateway, &rule.source.node)
                .or_else(|| graph.find_unowned(NodeKind::Service, &rule.source.node))
                .into_iter()
                .collect()
        };
        let mut targets: Vec<NodeIndex> = Vec::new();
        for target in &rule.targets {
            if target.node == "*" {
                targets.extend(
                    services
                        .iter()
                        .filter_map(|s| graph.find_unowned(NodeKind::Service, s)),
                );
            } else {
                targets.extend(graph.find_unowned(NodeKind::Service, &target.node));
            }
        }
        targets.sort();
        targets.dedup();
        let label = rule.when.as_ref().map(|c| format!("when {}", c.source));
        for source in &sources {
            for target in &targets {
                graph.add_edge(*source, *target, kind, label.clone(), Some(rule.span));
            }
        }
    }
}

/// An endpoint whose address is one of the program's own listeners sends requests back in.
fn add_loopbacks(graph: &mut ProgramGraph, program: &Program) {
    let listeners: Vec<(SocketAddress, NodeIndex)> = program
        .gateways
        .iter()
        .flat_map(|g| g.listeners.iter().map(move |l| (g, l)))
        .filter_map(|(g, l)| {
            let address = SocketAddress::parse(&l.address.node)?;
            Some((
                address,
                graph.find_owned(NodeKind::Listener, &g.name.node, &l.address.node)?,
            ))
        })
        .collect();
    if listeners.is_empty() {
        return;
    }
    for service in &program.services {
        for endpoint in service
            .endpoints()
            .map(|e| e.node.as_slice())
            .unwrap_or_default()
        {
            let Some(address) = SocketAddress::parse(&endpoint.node) else {
                continue;
            };
            let Some(from) =
                graph.find_owned(NodeKind::Endpoint, &service.name.node, &endpoint.node)
            else {
                continue;
            };
            for (listener, to) in &listeners {
                if address.reaches(listener) {
                    graph.add_edge(from, *to, EdgeKind::Reaches, None, Some(endpoint.span));
                }
            }
        }
    }
}
