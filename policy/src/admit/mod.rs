//! Admission: whether a matched request may proceed, and what it carries when it does.
//!
//! Everything is prepared when a bundle loads and kept per route; a request costs a walk over
//! its route's checks. A server (meshd's admission stage; `meshc test` replaying a test) uses it
//! like this:
//!
//! ```text
//! load:     let secrets = SecretStore::load(&bundle, base_dir)?;
//!           let options = AdmitOptions { shared_store, clock: AdmitClock::System };
//!           let gateway_admission = GatewayAdmission::build(&gateway, &secrets, &options)?;
//!           for w in gateway_admission.warnings() { log(w) }
//! reload:   GatewayAdmission::rebuild(&gateway, &secrets, &options, &previous)  // keeps buckets
//! request:  let facts = RequestFacts::new(&method, path, &headers, remote)
//!                           .with_query(query).with_host(host).with_params(&params);
//!           let admission = gateway_admission.route(matched_index)?;
//!           if let Some(answer) = admission.preflight(&facts) { return 204 / 403 }
//!           // if admission.needs_body(): buffer the body (≤ body_limit) into facts.body
//!           match admission.admit(&facts).await {
//!               Ok(admitted) => { admitted.apply_request_headers(&mut upstream_headers);
//!                                 forward, enforcing admission.body_limit() while streaming
//!                                 (admission.body_too_large() is the 413);
//!                                 admitted.apply_response_headers(&mut response_headers) }
//!               Err(denial)  => respond denial.status, denial.response_headers()
//!                               (x-meshwork-denied-by included), denial.json_body();
//!                               log/count denial.step(), denial.route(), denial.source(),
//!                               denial.reason
//!           }
//! ```
//!
//! Checks run in bundle order: auth (401) → access (403) → rate limit (429) → condition (403)
//! → body limit (413); CORS and header rules decorate. Every [`Denial`] names its route, step
//! and source line. Request CEL for other parts of the runtime (`balance hash(…)`, produce
//! keys) is [`cel::RequestExpression`], evaluated with [`Admitted::cel_input`].
//!
//! Client addresses are the TCP peer's: `X-Forwarded-For` is not trusted by IP rules or per-IP
//! limits. `shared` limits count in the [`limit::SharedCounter`] the server gives (Redis in
//! meshd) and fall back to local counting while it fails. The time limits and tokens are judged
//! at comes from [`AdmitClock`]: the system's, or one a test sets.

pub mod access;
pub mod admitted;
pub mod auth;
pub mod cel;
pub mod claims;
pub mod clock;
pub mod consumers;
pub mod cors;
pub mod denial;
pub mod error;
pub mod facts;
pub mod gateway_admission;
pub mod header_rules;
pub mod header_sink;
pub mod limit;
pub mod request_headers;
pub mod route_admission;

pub use admitted::Admitted;
pub use claims::JwtClaims;
pub use clock::AdmitClock;
pub use consumers::{ConsumerDirectory, ConsumerEntry, ConsumerId};
pub use denial::{Denial, StepKind, DENIED_BY};
pub use error::AdmitBuildError;
pub use facts::RequestFacts;
pub use gateway_admission::GatewayAdmission;
pub use header_sink::HeaderSink;
pub use limit::{LimitDecision, RateLimitStatus, SharedCountError, SharedCounter};
pub use request_headers::RequestHeaders;
pub use route_admission::{AdmitOptions, PreflightResponse, RouteAdmission, BODY_BUFFER_LIMIT};
