//! The interval detectors of a service's `circuit_breaker` (Envoy's failure-percentage and
//! success-rate outlier detection): every `interval`, each endpoint in rotation is judged on
//! the requests it served during the interval, and ejected when
//!
//! - `failure_percentage P%`: it failed P% or more of at least `min_requests` requests; or
//! - `success_rate`: at least five endpoints served `min_requests` each, and its success rate is
//!   below the mean of theirs by more than 1.9 standard deviations (Envoy's default factor);
//! - `latency`: it and at least one peer answered `min_requests` requests each, and its mean time
//!   to the response head is more than `factor` times the median of its peers' means (and at
//!   least `min_latency`, so that fast endpoints are not told apart by noise). Envoy has no such
//!   detector; the issue asks for "latency well below its peers'", and the peers' median (not the
//!   mean, which the slow endpoint itself drags up) is what "its peers" means robustly.
//!
//! Ejections obey `max_ejected` like the consecutive-errors ones and last `eject` times the
//! endpoint's ejections so far; an interval spent in rotation lowers that count by one. There is
//! no timer: the first request recorded after an interval ends runs the sweep (one request wins
//! the compare-and-swap), so an idle service is judged when traffic returns.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::circuit_breaker::{ejection_allowed, BreakerConfig, IntervalCounts, LatencyConfig};
use super::ejection_counters::EjectionCounters;
use super::endpoint::Endpoint;

/// Envoy's default `success_rate_stdev_factor` (1900 / 1000).
pub const SUCCESS_RATE_STDEV_FACTOR: f64 = 1.9;
/// Endpoints with enough requests the success-rate detector needs (Envoy's default).
pub const SUCCESS_RATE_MIN_HOSTS: usize = 5;

/// Runs the sweep when the interval that `next_at` ends has passed at `now`.
pub fn sweep_when_due(
    service: &str,
    counters: &EjectionCounters,
    config: &BreakerConfig,
    endpoints: &[Arc<Endpoint>],
    next_at: &AtomicU64,
    now: u64,
) {
    let Some(interval) = config.interval else {
        return;
    };
    let interval_ms = u64::try_from(interval.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    let due = next_at.load(Ordering::Relaxed);
    if due == 0 {
        let _ =
            next_at.compare_exchange(0, now + interval_ms, Ordering::Relaxed, Ordering::Relaxed);
        return;
    }
    if now < due
        || next_at
            .compare_exchange(due, now + interval_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    sweep(service, counters, config, endpoints, now);
}

/// Judges every endpoint on its interval's requests, ejecting the outliers.
fn sweep(
    service: &str,
    counters: &EjectionCounters,
    config: &BreakerConfig,
    endpoints: &[Arc<Endpoint>],
    now: u64,
) {
    let mut out = 0;
    let mut judged = Vec::with_capacity(endpoints.len());
    for (index, endpoint) in endpoints.iter().enumerate() {
        let counts = endpoint.outlier.take_interval();
        if endpoint.outlier.is_ejected_at(now) {
            out += 1;
        } else {
            judged.push((index, counts));
        }
    }
    let outliers = outliers(config, &judged);
    for &(index, detector) in &outliers {
        if !ejection_allowed(config, out, endpoints.len()) {
            break;
        }
        let endpoint = &endpoints[index];
        endpoint.outlier.eject(config, now);
        counters.count(detector);
        out += 1;
        tracing::warn!(
            service = %service,
            endpoint = %endpoint.address,
            detector,
            "endpoint ejected as an outlier"
        );
    }
    for &(index, _) in &judged {
        if !outliers.iter().any(|(i, _)| *i == index) {
            endpoints[index].outlier.stayed_in();
        }
    }
}

/// The endpoints (index, detector) the detectors find, worst first within each detector.
fn outliers(
    config: &BreakerConfig,
    judged: &[(usize, IntervalCounts)],
) -> Vec<(usize, &'static str)> {
    let mut found: Vec<(usize, &'static str)> = Vec::new();
    if let Some((percent, min_requests)) = config.failure_percentage {
        let mut failing: Vec<_> = judged
            .iter()
            .map(|(i, c)| (*i, c.requests, c.failures))
            .filter(|(_, q, f)| *q >= min_requests.max(1) && f * 100 >= u64::from(percent) * q)
            .collect();
        failing.sort_by(|a, b| (b.2 * a.1).cmp(&(a.2 * b.1)));
        found.extend(failing.iter().map(|(i, _, _)| (*i, "failure_percentage")));
    }
    if let Some(min_requests) = config.success_rate {
        let rates: Vec<(usize, f64)> = judged
            .iter()
            .map(|(i, c)| (*i, c.requests, c.failures))
            .filter(|(_, q, _)| *q >= min_requests.max(1))
            .map(|(i, q, f)| (i, (q - f) as f64 / q as f64))
            .collect();
        if rates.len() >= SUCCESS_RATE_MIN_HOSTS {
            let n = rates.len() as f64;
            let mean = rates.iter().map(|(_, r)| r).sum::<f64>() / n;
            let variance = rates.iter().map(|(_, r)| (r - mean).powi(2)).sum::<f64>() / n;
            let threshold = mean - SUCCESS_RATE_STDEV_FACTOR * variance.sqrt();
            let mut low: Vec<_> = rates.iter().filter(|(_, r)| *r < threshold).collect();
            low.sort_by(|a, b| a.1.total_cmp(&b.1));
            for (i, _) in low {
                if !found.iter().any(|(j, _)| j == i) {
                    found.push((*i, "success_rate"));
                }
            }
        }
    }
    if let Some(latency) = &config.latency {
        for i in slow_outliers(latency, judged) {
            if !found.iter().any(|(j, _)| *j == i) {
                found.push((i, "latency"));
            }
        }
    }
    found
}

/// The endpoints whose mean latency is more than the factor times their peers' median, slowest
/// (relative to its peers) first.
fn slow_outliers(latency: &LatencyConfig, judged: &[(usize, IntervalCounts)]) -> Vec<usize> {
    let means: Vec<(usize, u64)> = judged
        .iter()
        .filter(|(_, c)| c.answered >= latency.min_requests)
        .map(|(i, c)| (*i, c.latency_us / c.answered))
        .collect();
    if means.len() < 2 {
        return Vec::new();
    }
    let mut slow: Vec<(usize, f64)> = Vec::new();
    for &(index, mean) in &means {
        let mut peers: Vec<u64> = means
            .iter()
            .filter(|(i, _)| *i != index)
            .map(|(_, m)| *m)
            .collect();
        peers.sort_unstable();
        let n = peers.len();
        let median = if n % 2 == 1 {
            peers[n / 2] as f64
        } else {
            (peers[n / 2 - 1] + peers[n / 2]) as f64 / 2.0
        };
        let line = median * f64::from(latency.factor_percent) / 100.0;
        if mean >= latency.min_latency_us && mean as f64 > line {
            slow.push((index, mean as f64 / median.max(1.0)));
        }
    }
    slow.sort_by(|a, b| b.1.total_cmp(&a.1));
    slow.into_iter().map(|(i, _)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn config(failure: Option<(u8, u64)>, success: Option<u64>) -> BreakerConfig {
        BreakerConfig {
            consecutive_errors: 1000,
            eject: Duration::from_secs(1),
            max_ejected_percent: 50,
            failure_percentage: failure,
            success_rate: success,
            latency: None,
            interval: Some(Duration::from_secs(10)),
        }
    }

    /// `(index, requests, failures)` rows, every request answered in 1 ms.
    fn rows(rows: &[(usize, u64, u64)]) -> Vec<(usize, IntervalCounts)> {
        rows.iter()
            .map(|&(i, requests, failures)| {
                let counts = IntervalCounts {
                    requests,
                    failures,
                    answered: requests,
                    latency_us: requests * 1000,
                };
                (i, counts)
            })
            .collect()
    }

    /// `(index, answered, mean latency in ms)` rows.
    fn timed(rows: &[(usize, u64, u64)]) -> Vec<(usize, IntervalCounts)> {
        rows.iter()
            .map(|&(i, answered, mean_ms)| {
                let counts = IntervalCounts {
                    requests: answered,
                    failures: 0,
                    answered,
                    latency_us: answered * mean_ms * 1000,
                };
                (i, counts)
            })
            .collect()
    }

    fn latency(factor_percent: u32, min_requests: u64, min_latency_ms: u64) -> BreakerConfig {
        BreakerConfig {
            latency: Some(LatencyConfig {
                factor_percent,
                min_requests,
                min_latency_us: min_latency_ms * 1000,
            }),
            ..config(None, None)
        }
    }

    #[test]
    fn failure_percentage_needs_the_share_and_the_volume() {
        let c = config(Some((50, 10)), None);
        let judged = rows(&[(0, 20, 10), (1, 20, 9), (2, 5, 5)]);
        assert_eq!(outliers(&c, &judged), [(0, "failure_percentage")]);
    }

    #[test]
    fn latency_ejects_an_endpoint_slower_than_factor_times_its_peers_median() {
        let c = latency(300, 10, 10);
        let judged = timed(&[(0, 20, 12), (1, 20, 15), (2, 20, 100), (3, 20, 20)]);
        assert_eq!(outliers(&c, &judged), [(2, "latency")]);
        // Two endpoints are enough: each is compared with the other.
        assert_eq!(
            outliers(&c, &timed(&[(0, 20, 12), (1, 20, 50)])),
            [(1, "latency")]
        );
        // 2.5x is under the line.
        assert!(outliers(&c, &timed(&[(0, 20, 20), (1, 20, 50)])).is_empty());
    }

    #[test]
    fn latency_needs_volume_a_peer_and_the_floor() {
        let c = latency(300, 10, 10);
        // Too few answered requests on the slow one, or no peer with enough.
        assert!(outliers(&c, &timed(&[(0, 20, 5), (1, 9, 100)])).is_empty());
        assert!(outliers(&c, &timed(&[(0, 9, 5), (1, 20, 100)])).is_empty());
        assert!(outliers(&c, &timed(&[(1, 50, 100)])).is_empty());
        // 8 ms against 1 ms is 8x, but under the 10 ms floor: noise, not an outlier.
        assert!(outliers(&c, &timed(&[(0, 20, 1), (1, 20, 8)])).is_empty());
    }

    #[test]
    fn success_rate_ejects_the_one_far_below_its_peers_among_five() {
        let c = config(None, Some(10));
        let five = rows(&[
            (0, 100, 0),
            (1, 100, 1),
            (2, 100, 0),
            (3, 100, 2),
            (4, 100, 60),
        ]);
        assert_eq!(outliers(&c, &five), [(4, "success_rate")]);
        // Four endpoints are too few to tell an outlier from noise.
        assert!(outliers(&c, &five[1..]).is_empty());
    }
}
