//! Rate limits (429): GCRA buckets per consumer, per client address or per route, counted in
//! this process or, for `shared` limits, in Redis.
//!
//! `per consumer` on a request without a consumer (a public route) counts per client address.
//! When the store cannot decide a `shared` limit, the limit's `fail` mode says what happens:
//! `local` (the default) counts in this process, `open` lets the request through, `closed`
//! refuses it with 503 ([`LimitDecision::StoreDown`]); the store is told of each such decision.
//! A reload keeps the local buckets of every limit whose rule did not change (same route, same
//! place among the route's limits, same rate, key and consumers), so reloading never hands out
//! fresh tokens.

pub mod gcra;
pub mod local;
mod local_slab;
pub mod shared_counter;

use std::sync::Arc;

use http::{HeaderName, HeaderValue};
use meshwork_bundle::{RateLimitKey, SourceLocation, StoreFailure};

pub use gcra::{Gcra, RateLimitStatus, Verdict};
pub use local::{Clock, KeyedBuckets, DEFAULT_MAX_KEYS};
pub use local_slab::LimitSlabBuilder;
pub use shared_counter::{CountFuture, SharedCountError, SharedCounter};

use super::consumers::ConsumerEntry;
use super::error::AdmitBuildError;
use super::facts::RequestFacts;
use super::header_sink::HeaderSink;
use local_slab::{LocalBuckets, LocalRef};

/// `RateLimit-Limit` (IETF draft `ratelimit-headers`).
pub static RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
/// `RateLimit-Remaining`.
pub static RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
/// `RateLimit-Reset` (seconds until the bucket is full again).
pub static RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
/// `RateLimit-Policy` (`<limit>;w=<window seconds>`).
pub static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// Where a shared limit keeps its buckets, and what it does when the store cannot answer.
#[derive(Debug)]
struct SharedBuckets {
    store: Arc<dyn SharedCounter>,
    prefix: String,
    on_failure: StoreFailure,
}

/// How a limit decided a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitDecision {
    /// The bucket (local or in the store) decided.
    Counted(Verdict),
    /// The store could not answer and the limit fails closed: refuse with 503.
    StoreDown,
}

/// One `rate_limit` rule, ready to run.
#[derive(Debug)]
pub struct RateLimitStep {
    gcra: Gcra,
    local: LocalRef,
    shared: Option<SharedBuckets>,
    limit: HeaderValue,
    policy: HeaderValue,
    reason: String,
}

/// What the bundle says about one rate limit, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitRule {
    /// Requests per period.
    pub count: u64,
    /// The period in milliseconds.
    pub period_ms: u64,
    /// What the bucket is kept per.
    pub per: RateLimitKey,
    /// The bucket size, if not `count`.
    pub burst: Option<u64>,
    /// Counted in Redis.
    pub shared: bool,
    /// What a shared limit does when the store cannot answer.
    pub on_store_failure: StoreFailure,
}

/// Where a step sits, to name its Redis buckets uniquely and stably across instances.
#[derive(Debug, Clone, Copy)]
pub struct StepPlace<'a> {
    /// The gateway.
    pub gateway: &'a str,
    /// The route.
    pub route: &'a str,
    /// The step's index among the route's admission steps.
    pub index: usize,
    /// Where the rule is written (for errors).
    pub source: &'a SourceLocation,
}

impl RateLimitStep {
    /// Prepares a limit. A `shared` limit with no store is counted locally (the caller is told
    /// through [`RateLimitStep::is_shared`] and should warn). With `previous`, the same limit of
    /// the bundle being replaced, its local buckets are kept when the rule is unchanged. New
    /// buckets read `clock` and go into `slab`, which must be finished before the step runs.
    pub fn build(
        rule: RateLimitRule,
        place: StepPlace<'_>,
        slab: &mut LimitSlabBuilder,
        store: Option<&Arc<dyn SharedCounter>>,
        previous: Option<&RateLimitStep>,
        clock: &Clock,
    ) -> Result<Self, AdmitBuildError> {
        let gcra = Gcra::new(rule.count, rule.period_ms, rule.burst)
            .map_err(|message| AdmitBuildError::invalid(place.route, place.source, message))?;
        let identity = slab.identity(gcra, rule.per);
        let local = match previous.filter(|p| p.local.state().identity == identity) {
            Some(previous) => previous.local.clone(),
            None => slab.add(identity, clock),
        };
        let per = match rule.per {
            RateLimitKey::Route => "route",
            RateLimitKey::Consumer => "consumer",
            RateLimitKey::Ip => "ip",
        };
        let shared = match (rule.shared, store) {
            (true, Some(store)) => Some(SharedBuckets {
                store: Arc::clone(store),
                prefix: format!(
                    "meshwork:rl:{}:{}:{}:{}/{}ms:{}",
                    place.gateway,
                    place.route,
                    place.index,
                    gcra.burst(),
                    rule.period_ms,
                    per
                ),
                on_failure: rule.on_store_failure,
            }),
            _ => None,
        };
        let window_s = rule.period_ms.div_ceil(1_000).max(1);
        let policy = HeaderValue::from_str(&format!("{};w={window_s}", rule.count))
            .map_err(|_| AdmitBuildError::invalid(place.route, place.source, "bad rate"))?;
        Ok(RateLimitStep {
            limit: HeaderValue::from(gcra.burst()),
            gcra,
            local,
            shared,
            policy,
            reason: format!(
                "rate limit of {} per {} per {per} exceeded",
                rule.count,
                describe_period(rule.period_ms)
            ),
        })
    }

    /// Whether this step kept the buckets of `other` (same limit across a reload).
    pub fn shares_buckets_with(&self, other: &RateLimitStep) -> bool {
        self.local.same_as(&other.local)
    }

    /// Whether the step counts in Redis.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Why a refused request was refused.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Decides a request in this process.
    pub fn decide_local(
        &self,
        facts: &RequestFacts<'_>,
        consumer: Option<&ConsumerEntry>,
    ) -> Verdict {
        let state = self.local.state();
        let now = state.clock.now_ns();
        match &state.buckets {
            LocalBuckets::Route(tat) => local::decide_atomic(&self.gcra, tat, now),
            LocalBuckets::Consumer { first, anonymous } => match consumer {
                Some(c) => {
                    let tat = self.local.consumer_tat(*first, c.id().index());
                    local::decide_atomic(&self.gcra, tat, now)
                }
                None => anonymous.decide(&self.gcra, &facts.client_ip(), now),
            },
            LocalBuckets::Ip(buckets) => buckets.decide(&self.gcra, &facts.client_ip(), now),
        }
    }

    /// Decides a request: in the store for a shared limit (by the limit's `fail` mode when the
    /// store cannot answer), else locally.
    pub async fn decide(
        &self,
        facts: &RequestFacts<'_>,
        consumer: Option<&ConsumerEntry>,
    ) -> LimitDecision {
        let Some(shared) = &self.shared else {
            return LimitDecision::Counted(self.decide_local(facts, consumer));
        };
        let key = match (&self.local.state().buckets, consumer) {
            (LocalBuckets::Route(_), _) => shared.prefix.clone(),
            (LocalBuckets::Consumer { .. }, Some(c)) => format!("{}:{}", shared.prefix, c.name()),
            _ => format!("{}:{}", shared.prefix, facts.client_ip()),
        };
        match shared.store.decide(&key, &self.gcra).await {
            Ok(verdict) => LimitDecision::Counted(verdict),
            Err(_) => {
                shared.store.count_fallback(shared.on_failure);
                match shared.on_failure {
                    StoreFailure::Local => {
                        LimitDecision::Counted(self.decide_local(facts, consumer))
                    }
                    StoreFailure::Open => LimitDecision::Counted(Verdict::Allow(RateLimitStatus {
                        limit: self.gcra.burst(),
                        remaining: self.gcra.burst(),
                        reset_ns: 0,
                    })),
                    StoreFailure::Closed => LimitDecision::StoreDown,
                }
            }
        }
    }

    /// The `RateLimit-*` headers for a decision.
    pub fn write_headers(&self, status: &RateLimitStatus, headers: &mut impl HeaderSink) {
        headers.set_header(RATELIMIT_LIMIT.clone(), self.limit.clone());
        headers.set_number(RATELIMIT_REMAINING.clone(), status.remaining);
        headers.set_number(RATELIMIT_RESET.clone(), seconds_up(status.reset_ns));
        headers.set_header(RATELIMIT_POLICY.clone(), self.policy.clone());
    }
}

/// Nanoseconds as whole seconds, rounded up (a client waiting that long will pass).
pub fn seconds_up(ns: u64) -> u64 {
    ns.div_ceil(1_000_000_000)
}

fn describe_period(period_ms: u64) -> String {
    match period_ms {
        1_000 => "second".to_string(),
        60_000 => "minute".to_string(),
        3_600_000 => "hour".to_string(),
        86_400_000 => "day".to_string(),
        ms if ms % 1_000 == 0 => format!("{}s", ms / 1_000),
        ms => format!("{ms}ms"),
    }
}
