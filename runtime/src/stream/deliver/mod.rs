//! Kafka → HTTP services: a stream rule's `to service` target POSTs each record ([`deliverer`]).

pub mod deliverer;

pub use deliverer::{DeliverFailure, Deliverer, DeliveryRequest};
