//! Kafka → HTTP clients: a route's `serve topic …` streams the topic's records as Server-Sent
//! Events, or answers long-poll JSON batches, each client from its own resumable position.
//!
//! Reading order: [`serve_route`] (the action, and where a client starts) → [`topic_reader`]
//! (one consumer per client, and why) → [`sse_feed`] or [`long_poll`] → [`position`] (the
//! resumable `id:`) → [`record_filter`] (the route's `when`) → [`serve_metrics`].

pub mod long_poll;
pub mod position;
pub mod record_filter;
pub mod serve_metrics;
pub mod serve_route;
pub mod sse_feed;
pub mod topic_reader;

pub use position::Position;
pub use serve_metrics::{ServeMetrics, ServeTally};
pub use serve_route::{ServeReply, ServeRequest, ServeRoute, ServeSettings};
