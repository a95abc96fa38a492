//! The store `shared` rate limits are counted in, as admission sees it. meshd implements it with
//! Redis (its `admit/limit/shared.rs`: one Lua GCRA on Redis' clock); without a store, shared
//! limits count in this process. Only shared limits call it, so the local path pays nothing for
//! the indirection.

use std::future::Future;
use std::pin::Pin;

use meshwork_bundle::StoreFailure;

use super::gcra::{Gcra, Verdict};

/// Why the store did not decide a request (the limit then falls back, see [`super`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SharedCountError(pub String);

/// The future of one decision in the store.
pub type CountFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Verdict, SharedCountError>> + Send + 'a>>;

/// A store that counts one bucket per key across every meshd.
pub trait SharedCounter: std::fmt::Debug + Send + Sync {
    /// Decides a request on bucket `key` with the rate `gcra`.
    fn decide<'a>(&'a self, key: &'a str, gcra: &'a Gcra) -> CountFuture<'a>;

    /// Told of each request a shared limit decided without the store, by its `fail` mode (for
    /// metrics); nothing by default.
    fn count_fallback(&self, _mode: StoreFailure) {}
}
