//! meshd's own HTTP/1.1 client for upstreams. The whole exchange runs inside the request's task:
//! the request is written straight to the pooled socket and the response body is read straight
//! from it as the client consumes it. Compared with a general client (a connection task, channels
//! between it and the request, a body channel), that saves two task hops and several allocations
//! per request, which is most of what a proxy spends in user space.
//!
//! Scope: requests with or without a body (length-delimited or chunked), responses delimited by
//! length, chunked or by close, 1xx interim responses skipped, `HEAD`/204/304 without body.
//! Protocol upgrades are not forwarded.

pub mod answer_watch;
pub mod body_decoder;
pub mod chunk_line;
pub mod connection;
pub mod exchange;
pub mod request_encoder;
pub mod response_head;
pub mod token;

/// Header lines as received live with the decision core, which reads them in place.
pub use meshwork_policy::wire::raw_headers;

pub use connection::{ConnectError, UpstreamConn};
pub use exchange::{exchange, ExchangeError, ExchangeRequest};
