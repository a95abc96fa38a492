//! The decision core of Meshwork: what meshd decides per request and per record, free of I/O,
//! so that `meshc test` replays a test with the very code meshd runs (the compiler must not
//! depend on the runtime; both depend on this crate).
//!
//! - [`admit`]: a matched request's admission (auth, access lists, rate limits, CEL conditions,
//!   CORS, body limits, header rules), prepared per route at load. Shared rate limits reach their
//!   store through [`admit::limit::SharedCounter`], which meshd implements with Redis.
//! - [`stream`]: the record a produce route writes, and what a stream rule does with a record.
//! - [`secrets`]: the secret values admission is built with.
//! - [`wire`]: request header lines as received, which admission reads in place.
//! - [`cel_scan`]: the bounds on a CEL expression (nesting, tokens), which meshc applies to what
//!   it reads and meshd to every expression in a bundle before the CEL parser sees it.
//!
//! Route matching lives in the bundle crate (`meshwork_bundle::matcher`), beside the types it
//! reads.

pub mod admit;
pub mod cel_scan;
pub mod secrets;
pub mod stream;
pub mod wire;
