//! HTTP → Kafka: the produce route action ([`produce_route`]) turns an admitted request into one
//! record and writes it with the [`event_producer`].

pub mod event_producer;
pub mod produce_route;
