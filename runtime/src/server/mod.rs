//! The HTTP side of meshd: listeners, worker threads, connections (HTTP/1.1, HTTP/2, TLS) and
//! the request path, for gateway listeners and a sidecar's alike ([`listener_role`]).

pub mod admission_response;
pub mod body_buffer;
pub mod client_request;
pub mod connection;
pub mod connection_clock;
pub mod connection_watch;
pub mod drain;
pub mod error_response;
pub mod forwarded_headers;
pub mod gateway_chain;
pub mod gateway_response;
pub mod grpc_answer;
pub mod http1;
pub mod http2;
pub mod http2_send_timeout;
pub mod listener_role;
pub mod listeners;
pub mod request_handler;
pub mod stages;
pub mod tls_config;
pub mod workers;

pub use listener_role::ListenerRole;
pub use request_handler::Shared;
