//! `meshd_outlier_ejections_total{service,detector}`: one counter per detector of a service,
//! handed out at load so an ejection costs one atomic add. Unregistered counters (the default)
//! count for nobody, for services built outside a process registry (unit tests).

use prometheus_client::metrics::counter::Counter;

/// The detectors that eject, as the `detector` label names them.
pub const DETECTORS: [&str; 4] = [
    "consecutive_errors",
    "failure_percentage",
    "success_rate",
    "latency",
];

/// A service's ejection counters, one per detector.
#[derive(Debug, Clone, Default)]
pub struct EjectionCounters {
    by_detector: [Counter; 4],
}

impl EjectionCounters {
    /// The counters `counter(detector)` hands out, for each of [`DETECTORS`].
    pub fn new(mut counter: impl FnMut(&'static str) -> Counter) -> Self {
        EjectionCounters {
            by_detector: DETECTORS.map(&mut counter),
        }
    }

    /// Counts one ejection by `detector` (one of [`DETECTORS`]).
    pub fn count(&self, detector: &str) {
        if let Some(index) = DETECTORS.iter().position(|d| *d == detector) {
            self.by_detector[index].inc();
        }
    }
}
