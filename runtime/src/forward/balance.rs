//! Choosing an endpoint among those available (healthy and not ejected): round robin, random,
//! least request (power of two choices) or rendezvous hashing on a key, so a key keeps its
//! endpoint while that endpoint is available and only its keys move when it is not.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::endpoint::Endpoint;
use super::hash_key::HashKey;

/// A service's balancing policy and its state.
#[derive(Debug)]
pub enum Balancer {
    /// Each available endpoint in turn.
    RoundRobin(AtomicUsize),
    /// A uniformly random available endpoint.
    Random,
    /// The less loaded of two random available endpoints.
    LeastRequest,
    /// The available endpoint with the highest rendezvous score for the key.
    Hash(HashKey),
}

impl Balancer {
    /// Picks an endpoint index among `endpoints` for which `available` holds, preferring one other
    /// than `avoid` (a retry's previous endpoint) when there is a choice. `key` is the hashed
    /// key for [`Balancer::Hash`]; without one, hashing falls back to random.
    pub fn pick(
        &self,
        endpoints: &[Arc<Endpoint>],
        available: impl Fn(&Endpoint) -> bool,
        key: Option<u64>,
        avoid: Option<usize>,
    ) -> Option<usize> {
        let n = endpoints.len();
        if n == 0 {
            return None;
        }
        let usable = |i: usize| available(&endpoints[i]) && (avoid != Some(i) || n == 1);
        match self {
            Balancer::RoundRobin(next) => {
                let start = next.fetch_add(1, Ordering::Relaxed);
                first_usable_from(start, n, &usable)
            }
            Balancer::Random => first_usable_from(fastrand::usize(..n), n, &usable),
            Balancer::LeastRequest => {
                if n >= 2 {
                    let a = fastrand::usize(..n);
                    let b = (a + 1 + fastrand::usize(..n - 1)) % n;
                    match (usable(a), usable(b)) {
                        (true, true) => {
                            let pick = if endpoints[b].in_flight() < endpoints[a].in_flight() {
                                b
                            } else {
                                a
                            };
                            return Some(pick);
                        }
                        (true, false) => return Some(a),
                        (false, true) => return Some(b),
                        (false, false) => {}
                    }
                }
                first_usable_from(fastrand::usize(..n), n, &usable)
            }
            Balancer::Hash(_) => match key {
                Some(key) => (0..n)
                    .filter(|i| usable(*i))
                    .max_by_key(|i| rendezvous_score(key, &endpoints[*i].address)),
                None => first_usable_from(fastrand::usize(..n), n, &usable),
            },
        }
        .or_else(|| {
            // Only the avoided endpoint is left: better it than nothing.
            avoid.filter(|i| *i < n && available(&endpoints[*i]))
        })
    }

    /// The hash-key expression, for [`Balancer::Hash`].
    pub fn hash_key(&self) -> Option<&HashKey> {
        match self {
            Balancer::Hash(key) => Some(key),
            _ => None,
        }
    }
}

fn first_usable_from(start: usize, n: usize, usable: &impl Fn(usize) -> bool) -> Option<usize> {
    (0..n)
        .map(|offset| (start + offset) % n)
        .find(|i| usable(*i))
}

fn rendezvous_score(key: u64, address: &str) -> u64 {
    let mut hasher = foldhash::fast::FixedState::with_seed(key).build_hasher();
    hasher.write(address.as_bytes());
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::pool::PoolSettings;
    use prometheus_client::metrics::histogram::Histogram;

    fn endpoints(n: usize) -> Vec<Arc<Endpoint>> {
        (0..n)
            .map(|i| {
                let address = format!("127.0.0.1:{}", 9000 + i);
                let parsed = address.parse().unwrap();
                Arc::new(Endpoint::new(
                    &address,
                    parsed,
                    PoolSettings::for_workers(1),
                    Histogram::new([1.0]),
                ))
            })
            .collect()
    }

    #[test]
    fn round_robin_visits_every_endpoint_in_turn() {
        let all = endpoints(3);
        let balancer = Balancer::RoundRobin(AtomicUsize::new(0));
        let picks: Vec<usize> = (0..6)
            .filter_map(|_| balancer.pick(&all, |_| true, None, None))
            .collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn unavailable_endpoints_are_skipped_and_none_available_gives_none() {
        let all = endpoints(3);
        let balancer = Balancer::RoundRobin(AtomicUsize::new(0));
        for _ in 0..6 {
            assert_eq!(
                balancer.pick(&all, |e| e.address.ends_with('1'), None, None),
                Some(1)
            );
        }
        assert_eq!(balancer.pick(&all, |_| false, None, None), None);
    }

    #[test]
    fn a_retry_avoids_the_previous_endpoint_when_it_can() {
        let all = endpoints(2);
        for balancer in [
            Balancer::Random,
            Balancer::LeastRequest,
            Balancer::RoundRobin(AtomicUsize::new(0)),
        ] {
            for _ in 0..20 {
                assert_eq!(balancer.pick(&all, |_| true, None, Some(0)), Some(1));
            }
        }
        let one = endpoints(1);
        assert_eq!(
            Balancer::Random.pick(&one, |_| true, None, Some(0)),
            Some(0)
        );
    }

    #[test]
    fn least_request_prefers_the_idle_endpoint_of_two() {
        let all = endpoints(2);
        let _busy = (all[0].lease(), all[0].lease());
        for _ in 0..20 {
            assert_eq!(
                Balancer::LeastRequest.pick(&all, |_| true, None, None),
                Some(1)
            );
        }
    }

    #[test]
    fn hashing_keeps_a_key_on_its_endpoint_and_moves_it_only_when_that_one_is_out() {
        let all = endpoints(5);
        let balancer = Balancer::Hash(HashKey::compile("request.path").unwrap());
        let home = balancer.pick(&all, |_| true, Some(42), None).unwrap();
        for _ in 0..10 {
            assert_eq!(balancer.pick(&all, |_| true, Some(42), None), Some(home));
        }
        let moved = balancer
            .pick(&all, |e| e.address != all[home].address, Some(42), None)
            .unwrap();
        assert_ne!(moved, home);
        let spread: std::collections::BTreeSet<usize> = (0..200u64)
            .filter_map(|k| {
                balancer.pick(
                    &all,
                    |_| true,
                    Some(k.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                    None,
                )
            })
            .collect();
        assert_eq!(spread.len(), 5);
    }
}
