//! Admission: whether a matched request may proceed, and what it carries when it does.
//!
//! The decision code is in the `meshwork-policy` crate (re-exported here, so `crate::admit::…`
//! paths are the core's), shared with `meshc test`, which replays a program's tests with it:
//! the compiler must not depend on the runtime, and the two must never decide differently.
//! What stays in meshd is the I/O: shared rate limits counted in Redis ([`limit::shared`]).
//!
//! Everything is prepared when a bundle loads and kept per route; a request costs a walk over
//! its route's checks. The server uses it like this:
//!
//! ```text
//! load:     let secrets = SecretStore::load(&bundle, base_dir)?;            // load/secrets.rs
//!           let store = redis_url.map(SharedLimitStore::open).transpose()?;  // --redis URL
//!           let gateway_admission = GatewayAdmission::build(&gateway, &secrets,
//!                                       &AdmitOptions { shared_store: store, ..default })?;
//!           for w in gateway_admission.warnings() { log(w) }
//! reload:   GatewayAdmission::rebuild(&gateway, &secrets, &options, &previous)  // keeps buckets
//!           (open the SharedLimitStore once per process and pass the same Arc on every build)
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
//! In meshd the load side is [`crate::state`] (one [`GatewayAdmission`] per gateway state) and
//! the request side is the gateway chain's admission stage ([`crate::server::stages::admission`]);
//! its match stage ([`crate::server::stages::route_match`]) also sends a preflight for a
//! route of another method to the route `Access-Control-Request-Method` names.

pub use meshwork_policy::admit::*;

pub mod limit;

pub use limit::{SharedLimitStore, SharedStoreCollector, SharedStoreError};
