//! The interval detectors of a service's `circuit_breaker` (Envoy's failure-percentage and
//! success-rate outlier detection): every `interval`, each endpoint in rotation is judged on
//! the requests it served during the interval, and ejected when
//!
//! - `failure_percentage P%`: it failed P% or more of at least `min_requests` requests; or
//! - `success_rate`: at least five endpoints served `min_requests` each, and its success rate is
//!   below the mean of theirs by more than 1.9 standard deviations (Envoy's default factor).
//!
//! Ejections obey `max_ejected` like the consecutive-errors ones and last `eject` times the
//! endpoint's ejections so far; an interval spent in rotation lowers that count by one. There is
//! no timer: the first request recorded after an interval ends runs the sweep (one request wins
//! the compare-and-swap), so an idle service is judged when traffic returns.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::circuit_breaker::{ejection_allowed, BreakerConfig};
use super::endpoint::Endpoint;

/// Envoy's default `success_rate_stdev_factor` (1900 / 1000).
pub const SUCCESS_RATE_STDEV_FACTOR: f64 = 1.9;
/// Endpoints with enough requests the success-rate detector needs (Envoy's default).
pub const SUCCESS_RATE_MIN_HOSTS: usize = 5;

/// Runs the sweep when the interval that `next_at` ends has passed at `now`.
pub fn sweep_when_due(
    service: &str,
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
    sweep(service, config, endpoints, now);
}

/// Judges every endpoint on its interval's requests, ejecting the outliers.
fn sweep(service: &str, config: &BreakerConfig, endpoints: &[Arc<Endpoint>], now: u64) {
    let mut out = 0;
    let mut judged = Vec::with_capacity(endpoints.len());
    for (index, endpoint) in endpoints.iter().enumerate() {
        let (requests, failures) = endpoint.outlier.take_interval();
        if endpoint.outlier.is_ejected_at(now) {
            out += 1;
        } else {
            judged.push((index, requests, failures));
        }
    }
    let outliers = outliers(config, &judged);
    for &(index, detector) in &outliers {
        if !ejection_allowed(config, out, endpoints.len()) {
            break;
        }
        let endpoint = &endpoints[index];
        endpoint.outlier.eject(config, now);
        out += 1;
        tracing::warn!(
            service = %service,
            endpoint = %endpoint.address,
            detector,
            "endpoint ejected as an outlier"
        );
    }
    for &(index, _, _) in &judged {
        if !outliers.iter().any(|(i, _)| *i == index) {
            endpoints[index].outlier.stayed_in();
        }
    }
}

/// The endpoints (index, detector) the detectors find, worst first within each detector.
fn outliers(config: &BreakerConfig, judged: &[(usize, u64, u64)]) -> Vec<(usize, &'static str)> {
    let mut found: Vec<(usize, &'static str)> = Vec::new();
    if let Some((percent, min_requests)) = config.failure_percentage {
        let mut failing: Vec<_> = judged
            .iter()
            .filter(|(_, q, f)| *q >= min_requests.max(1) && f * 100 >= u64::from(percent) * q)
            .collect();
        failing.sort_by(|a, b| (b.2 * a.1).cmp(&(a.2 * b.1)));
        found.extend(failing.iter().map(|(i, _, _)| (*i, "failure_percentage")));
    }
    if let Some(min_requests) = config.success_rate {
        let rates: Vec<(usize, f64)> = judged
            .iter()
            .filter(|(_, q, _)| *q >= min_requests.max(1))
            .map(|(i, q, f)| (*i, (q - f) as f64 / *q as f64))
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
    found
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
            interval: Some(Duration::from_secs(10)),
        }
    }

    #[test]
    fn failure_percentage_needs_the_share_and_the_volume() {
        let c = config(Some((50, 10)), None);
        let judged = [(0, 20, 10), (1, 20, 9), (2, 5, 5)];
        assert_eq!(outliers(&c, &judged), [(0, "failure_percentage")]);
    }

    #[test]
    fn success_rate_ejects_the_one_far_below_its_peers_among_five() {
        let c = config(None, Some(10));
        let five = [
            (0, 100, 0),
            (1, 100, 1),
            (2, 100, 0),
            (3, 100, 2),
            (4, 100, 60),
        ];
        assert_eq!(outliers(&c, &five), [(4, "success_rate")]);
        // Four endpoints are too few to tell an outlier from noise.
        assert!(outliers(&c, &five[1..]).is_empty());
    }
}
