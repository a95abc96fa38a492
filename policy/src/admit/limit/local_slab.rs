//! Where the local buckets of one build's rate limits live: one slab per build (a gateway's
//! routes), apart from the rest of the state.
//!
//! A reload keeps the buckets of every unchanged limit, so they outlive the state they were
//! built with. Allocated one by one among that state's objects, each kept bucket (and its
//! consumer list, and its per-consumer atomics) pinned a page of the replaced state, and the
//! process grew with every reload (1.6–1.7× after 100 reloads of 10 000 routes). Here the states
//! of one build sit in one array and their per-consumer atomics in another, the consumer list is
//! shared by the whole build, and a step holds (slab, index): a kept limit pins only its slab.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

use meshwork_bundle::RateLimitKey;

use super::gcra::Gcra;
use super::local::{Clock, KeyedBuckets, DEFAULT_MAX_KEYS};
use crate::admit::consumers::ConsumerDirectory;

/// What makes two limits the same for carrying buckets over a reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LimitIdentity {
    pub(super) gcra: Gcra,
    pub(super) per: RateLimitKey,
    /// The gateway's consumers in directory order (per-consumer buckets are indexed by it);
    /// empty unless the limit counts per consumer.
    pub(super) consumers: Arc<[String]>,
}

/// Local buckets, laid out by what they count per.
#[derive(Debug)]
pub(super) enum LocalBuckets {
    Route(AtomicU64),
    /// One atomic per consumer at `first..first + consumers` of the slab's atomics, and keyed
    /// buckets for requests without a consumer.
    Consumer {
        first: usize,
        anonymous: KeyedBuckets<std::net::IpAddr>,
    },
    Ip(KeyedBuckets<std::net::IpAddr>),
}

/// The buckets of one limit in this process, with the clock their TATs are measured on.
#[derive(Debug)]
pub(super) struct LocalState {
    pub(super) identity: LimitIdentity,
    pub(super) buckets: LocalBuckets,
    pub(super) clock: Clock,
}

/// The local states of one build, filled once the build is done.
#[derive(Debug, Default)]
struct LimitSlab {
    states: OnceLock<Box<[LocalState]>>,
    tats: OnceLock<Box<[AtomicU64]>>,
}

/// A limit's place in a slab.
#[derive(Debug, Clone)]
pub(super) struct LocalRef {
    slab: Arc<LimitSlab>,
    index: usize,
}

impl LocalRef {
    /// The limit's state.
    pub(super) fn state(&self) -> &LocalState {
        &self.states()[self.index]
    }

    /// The bucket of the consumer at `consumer` in directory order, for a per-consumer limit.
    pub(super) fn consumer_tat(&self, first: usize, consumer: usize) -> &AtomicU64 {
        &self.tats()[first + consumer]
    }

    /// Whether both name the same state.
    pub(super) fn same_as(&self, other: &LocalRef) -> bool {
        Arc::ptr_eq(&self.slab, &other.slab) && self.index == other.index
    }

    fn states(&self) -> &[LocalState] {
        self.slab
            .states
            .get()
            .expect("a limit slab is finished before any step built into it is returned")
    }

    fn tats(&self) -> &[AtomicU64] {
        self.slab
            .tats
            .get()
            .expect("a limit slab is finished before any step built into it is returned")
    }
}

/// Collects the new local states of one build; [`LimitSlabBuilder::finish`] must run before the
/// steps built with it are used (the route and gateway builders do so before they return).
#[derive(Debug)]
pub struct LimitSlabBuilder {
    slab: Arc<LimitSlab>,
    states: Vec<LocalState>,
    tats: Vec<AtomicU64>,
    consumers: Arc<[String]>,
    no_consumers: Arc<[String]>,
}

impl LimitSlabBuilder {
    /// A builder for limits of `directory`'s gateway.
    pub fn new(directory: &ConsumerDirectory) -> Self {
        LimitSlabBuilder {
            slab: Arc::new(LimitSlab::default()),
            states: Vec::new(),
            tats: Vec::new(),
            consumers: directory
                .consumers()
                .iter()
                .map(|c| c.name().to_string())
                .collect(),
            no_consumers: Arc::from(Vec::new()),
        }
    }

    /// The identity of a limit of this build.
    pub(super) fn identity(&self, gcra: Gcra, per: RateLimitKey) -> LimitIdentity {
        LimitIdentity {
            gcra,
            per,
            consumers: match per {
                RateLimitKey::Consumer => Arc::clone(&self.consumers),
                _ => Arc::clone(&self.no_consumers),
            },
        }
    }

    /// Fresh buckets for a limit of this build.
    pub(super) fn add(&mut self, identity: LimitIdentity, clock: &Clock) -> LocalRef {
        let buckets = match identity.per {
            RateLimitKey::Route => LocalBuckets::Route(AtomicU64::new(0)),
            RateLimitKey::Consumer => {
                let first = self.tats.len();
                self.tats
                    .extend((0..identity.consumers.len()).map(|_| AtomicU64::new(0)));
                LocalBuckets::Consumer {
                    first,
                    anonymous: KeyedBuckets::new(DEFAULT_MAX_KEYS),
                }
            }
            RateLimitKey::Ip => LocalBuckets::Ip(KeyedBuckets::new(DEFAULT_MAX_KEYS)),
        };
        self.states.push(LocalState {
            identity,
            buckets,
            clock: clock.clone(),
        });
        LocalRef {
            slab: Arc::clone(&self.slab),
            index: self.states.len() - 1,
        }
    }

    /// Seals the slab: the steps built with this builder may now run.
    pub fn finish(self) {
        // Each lock is set here only, once (the builder is consumed), so neither can be full.
        let _ = self.slab.states.set(self.states.into_boxed_slice());
        let _ = self.slab.tats.set(self.tats.into_boxed_slice());
    }
}
