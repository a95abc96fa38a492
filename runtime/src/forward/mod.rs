//! Forwarding to upstream services: a lean per-worker connection pool, balancing, retries with
//! backoff, outlier ejection, active health checks, path rewriting, hop-by-hop hygiene, and
//! mutual TLS to services that are mesh workloads ([`upstream_tls`]).

pub mod balance;
pub mod circuit_breaker;
pub mod clock;
pub mod ejection_counters;
pub mod endpoint;
pub mod fault_injection;
pub mod forward_plan;
pub mod h2;
pub mod hash_key;
pub mod header_edits;
pub mod health_check;
pub mod http1;
pub mod message_headers;
pub mod mirror;
pub mod outlier_sweep;
pub mod path_rewrite;
pub mod pool;
pub mod pool_sweep;
pub mod proxy;
pub mod request_body;
pub mod response_body;
pub mod retry_budget;
pub mod retry_policy;
pub mod service_state;
pub mod streamed_body;
pub mod time_budget;
pub mod upgrade;
pub mod upstream_tls;
pub mod worker_slot;

pub use forward_plan::ForwardPlan;
pub use message_headers::MessageHeaders;
pub use proxy::{forward, ForwardFailure, ForwardFailureKind, Forwarded, UpstreamRequest};
pub use request_body::{BodyError, RequestBody, WireBody};
pub use response_body::ResponseBody;
pub use service_state::{ServiceBuildError, ServiceState};
pub use time_budget::TimeBudget;
pub use upstream_tls::{HandshakeError, UpstreamTls};
