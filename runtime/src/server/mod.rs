//! The HTTP side of the gateway: listeners, worker threads, connections (HTTP/1.1, HTTP/2, TLS)
//! and the request path.

pub mod admission_response;
pub mod body_buffer;
pub mod client_request;
pub mod connection;
pub mod connection_clock;
pub mod drain;
pub mod error_response;
pub mod forwarded_headers;
pub mod gateway_chain;
pub mod gateway_response;
pub mod http1;
pub mod http2;
pub mod listeners;
pub mod request_handler;
pub mod stages;
pub mod tls_config;
pub mod workers;

pub use request_handler::Shared;
