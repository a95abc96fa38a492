//! HTTP/2 to upstreams (`protocol h2c` and `protocol h2` services, and HTTP/2 services inside the
//! mesh's mutual TLS), on hyper's HTTP/2 client: multiplexed connections to each endpoint, shared
//! by every worker, each carrying up to 100 streams. Trailers pass both ways, bodies stream with
//! HTTP/2 flow control as back-pressure (a bidirectional gRPC call runs for as long as both sides
//! keep their streams open), and `grpc-timeout` narrows the request's deadline.
//!
//! The request arrives as the HTTP/1 head that the shared forward stage encodes once
//! ([`request_head`] reads it back), so the chains need no second path to HTTP/2 services.

pub mod connection;
pub mod exchange;
pub mod grpc_health;
pub mod grpc_timeout;
pub mod health_probe;
pub mod request_body;
pub mod request_head;
pub mod response_body;
pub mod stream_slot;

pub use connection::{H2Connections, H2Transport};
pub use exchange::forward_h2;
pub use response_body::H2ResponseBody;
