//! The verified graph (petgraph): gateways, listeners, routes, consumers, groups, services,
//! endpoints, topics and streams as nodes; admits, forwards, produces, consumes, allows and
//! denies as edges (in progress).
