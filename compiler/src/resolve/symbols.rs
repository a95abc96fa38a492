//! The program's names: every definition of every gateway, service, stream and declared topic,
//! and inside each gateway its routes, consumers and groups. Built once; every reference is
//! looked up here, and a name with two definitions is a duplicate.

use std::collections::BTreeMap;

use crate::syntax::ast;

/// All definitions of one name, in program order (more than one is a duplicate).
pub type Definitions<'a, T> = Vec<&'a T>;

/// The names of one gateway (of every declaration of it, if it is declared twice).
#[derive(Default)]
pub struct GatewayNames<'a> {
    pub routes: BTreeMap<&'a str, Definitions<'a, ast::Route>>,
    pub consumers: BTreeMap<&'a str, Definitions<'a, ast::Consumer>>,
    /// Each group with the consumers' mentions of it, in program order.
    pub groups: BTreeMap<&'a str, Vec<&'a ast::Ident>>,
}

/// The program's names.
#[derive(Default)]
pub struct Symbols<'a> {
    pub gateways: BTreeMap<&'a str, Definitions<'a, ast::Gateway>>,
    pub services: BTreeMap<&'a str, Definitions<'a, ast::Service>>,
    pub streams: BTreeMap<&'a str, Definitions<'a, ast::Stream>>,
    /// Topics declared with `topic "NAME"` (topics can also be used without a declaration).
    pub topics: BTreeMap<&'a str, Definitions<'a, ast::Topic>>,
    /// Per gateway name.
    pub gateway_names: BTreeMap<&'a str, GatewayNames<'a>>,
}

impl<'a> Symbols<'a> {
    /// Indexes the declarations, each list in program order.
    pub fn collect(
        gateways: &[&'a ast::Gateway],
        services: &[&'a ast::Service],
        streams: &[&'a ast::Stream],
        topics: &[&'a ast::Topic],
    ) -> Self {
        let mut symbols = Symbols::default();
        for gateway in gateways {
            symbols
                .gateways
                .entry(&gateway.name.node)
                .or_default()
                .push(gateway);
            let names = symbols.gateway_names.entry(&gateway.name.node).or_default();
            for route in &gateway.routes {
                names
                    .routes
                    .entry(&route.name.node)
                    .or_default()
                    .push(route);
            }
            for consumer in &gateway.consumers {
                names
                    .consumers
                    .entry(&consumer.name.node)
                    .or_default()
                    .push(consumer);
                for group in &consumer.groups {
                    names.groups.entry(&group.node).or_default().push(group);
                }
            }
        }
        for service in services {
            symbols
                .services
                .entry(&service.name.node)
                .or_default()
                .push(service);
        }
        for stream in streams {
            symbols
                .streams
                .entry(&stream.name.node)
                .or_default()
                .push(stream);
        }
        for topic in topics {
            symbols
                .topics
                .entry(&topic.name.node)
                .or_default()
                .push(topic);
        }
        symbols
    }

    /// True when a service with this name exists.
    pub fn has_service(&self, name: &str) -> bool {
        self.services.contains_key(name)
    }

    /// True when a gateway with this name exists.
    pub fn has_gateway(&self, name: &str) -> bool {
        self.gateways.contains_key(name)
    }

    /// The first definition of the service `name`.
    pub fn service(&self, name: &str) -> Option<&'a ast::Service> {
        self.services.get(name).and_then(|d| d.first().copied())
    }

    /// True when the topic is declared `external` (by any of its declarations).
    pub fn is_external_topic(&self, name: &str) -> bool {
        self.topics
            .get(name)
            .is_some_and(|d| d.iter().any(|t| t.external))
    }
}
