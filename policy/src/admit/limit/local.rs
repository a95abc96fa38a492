//! Buckets counted in this process: one atomic per route or per consumer (the consumers are
//! known at load), and a sharded, bounded map for per-address buckets.
//!
//! Memory stays bounded: a bucket whose TAT has passed is full again and carries no state, so
//! sweeps drop it; a shard that is still at its cap after a sweep drops the bucket closest to
//! full. Sweeps run when a shard has doubled since the last one, so their cost is amortized.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Instant;

use super::gcra::{Gcra, Verdict};

/// A monotonic nanosecond clock starting near zero, or one a test sets.
#[derive(Debug, Clone)]
pub enum Clock {
    /// Time since this instant.
    Since(Instant),
    /// Whatever a test stored (nanoseconds; see [`super::super::AdmitClock`]).
    Manual(Arc<AtomicU64>),
}

impl Clock {
    /// A clock starting now.
    pub fn start() -> Self {
        Clock::Since(Instant::now())
    }

    /// Nanoseconds since the start (never 0, so a TAT of 0 always means "unused").
    pub fn now_ns(&self) -> u64 {
        match self {
            Clock::Since(start) => u64::try_from(start.elapsed().as_nanos())
                .unwrap_or(u64::MAX)
                .saturating_add(1),
            Clock::Manual(now) => now.load(Ordering::Acquire).max(1),
        }
    }
}

/// Decides on a TAT kept in an atomic, retrying when another thread moved it first.
pub fn decide_atomic(gcra: &Gcra, tat: &AtomicU64, now: u64) -> Verdict {
    let mut current = tat.load(Ordering::Acquire);
    loop {
        let (next, verdict) = gcra.decide(current, now);
        let Some(next) = next else {
            return verdict;
        };
        match tat.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return verdict,
            Err(actual) => current = actual,
        }
    }
}

const SHARDS: usize = 16;
const FIRST_SWEEP: usize = 64;

/// The most buckets a keyed map holds before it evicts live ones.
pub const DEFAULT_MAX_KEYS: usize = 65_536;

#[derive(Debug, Default)]
struct Shard<K> {
    tats: HashMap<K, u64>,
    sweep_at: usize,
}

/// Buckets per key (client address), bounded in memory.
///
/// The shards are allocated by the first request that needs them: a 100 000-route program has
/// a keyed map on every limited route, most of which see no anonymous caller, and shards made at
/// load would be 1.2 KB per route of state that a reload keeps (and so pins among the pages of
/// the state it was built with).
#[derive(Debug)]
pub struct KeyedBuckets<K = IpAddr> {
    shards: OnceLock<Box<[Mutex<Shard<K>>]>>,
    hasher: RandomState,
    max_per_shard: usize,
}

impl<K: Hash + Eq + Clone> KeyedBuckets<K> {
    /// Buckets for at most about `max_keys` keys.
    pub fn new(max_keys: usize) -> Self {
        KeyedBuckets {
            shards: OnceLock::new(),
            hasher: RandomState::new(),
            max_per_shard: (max_keys / SHARDS).max(1),
        }
    }

    fn shards(&self) -> &[Mutex<Shard<K>>] {
        self.shards.get_or_init(|| {
            (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        tats: HashMap::new(),
                        sweep_at: FIRST_SWEEP,
                    })
                })
                .collect()
        })
    }

    /// Decides a request of `key` at `now`.
    pub fn decide(&self, gcra: &Gcra, key: &K, now: u64) -> Verdict {
        let index = (self.hasher.hash_one(key) as usize) % SHARDS;
        // A poisoned shard only means another thread panicked mid-update of plain integers;
        // the map is still consistent, so keep serving.
        let mut shard = self.shards()[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let tat = shard.tats.get(key).copied().unwrap_or(0);
        let (next, verdict) = gcra.decide(tat, now);
        if let Some(next) = next {
            if tat == 0 {
                self.make_room(&mut shard, now);
            }
            shard.tats.insert(key.clone(), next);
        }
        verdict
    }

    fn make_room(&self, shard: &mut Shard<K>, now: u64) {
        if shard.tats.len() < shard.sweep_at.min(self.max_per_shard) {
            return;
        }
        shard.tats.retain(|_, tat| *tat > now);
        if shard.tats.len() >= self.max_per_shard {
            let fullest = shard
                .tats
                .iter()
                .min_by_key(|(_, tat)| **tat)
                .map(|(k, _)| k.clone());
            if let Some(key) = fullest {
                shard.tats.remove(&key);
            }
        }
        shard.sweep_at = (shard.tats.len() * 2).max(FIRST_SWEEP);
    }

    /// Buckets currently held.
    pub fn len(&self) -> usize {
        let Some(shards) = self.shards.get() else {
            return 0;
        };
        shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).tats.len())
            .sum()
    }

    /// Whether no bucket is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn atomic_bucket_refuses_past_the_burst() {
        let gcra = Gcra::new(3, 60_000, None).unwrap();
        let tat = AtomicU64::new(0);
        let passed = (0..10)
            .filter(|_| matches!(decide_atomic(&gcra, &tat, SECOND), Verdict::Allow(_)))
            .count();
        assert_eq!(passed, 3);
    }

    #[test]
    fn atomic_bucket_is_exact_under_contention() {
        let gcra = Gcra::new(100, 60_000, None).unwrap();
        let tat = AtomicU64::new(0);
        let passed = AtomicU64::new(0);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..100 {
                        if matches!(decide_atomic(&gcra, &tat, SECOND), Verdict::Allow(_)) {
                            passed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(passed.load(Ordering::Relaxed), 100);
    }

    #[test]
    fn keys_are_counted_apart() {
        let gcra = Gcra::new(1, 60_000, None).unwrap();
        let buckets = KeyedBuckets::<u32>::new(1_000);
        assert!(matches!(
            buckets.decide(&gcra, &1, SECOND),
            Verdict::Allow(_)
        ));
        assert!(matches!(
            buckets.decide(&gcra, &1, SECOND),
            Verdict::Deny { .. }
        ));
        assert!(matches!(
            buckets.decide(&gcra, &2, SECOND),
            Verdict::Allow(_)
        ));
    }

    #[test]
    fn idle_keys_are_evicted_and_memory_stays_bounded() {
        let gcra = Gcra::new(1, 1_000, None).unwrap();
        let buckets = KeyedBuckets::<u32>::new(SHARDS * 100);
        for key in 0..50_000u32 {
            // every key is idle (full again) a second after its request
            buckets.decide(&gcra, &key, u64::from(key) * SECOND);
        }
        assert!(
            buckets.len() <= SHARDS * 100,
            "{} buckets held",
            buckets.len()
        );
        let live = KeyedBuckets::<u32>::new(SHARDS * 100);
        for key in 0..50_000u32 {
            // nobody is idle: the cap alone bounds the map
            live.decide(&gcra, &key, SECOND);
        }
        assert!(live.len() <= SHARDS * 100, "{} buckets held", live.len());
    }
}
