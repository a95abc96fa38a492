//! A bundle URL's status for Prometheus: `meshd_bundle_fetches_total{outcome}`,
//! `meshd_bundle_last_fetch_timestamp_seconds`, `meshd_bundle_last_success_timestamp_seconds`,
//! `meshd_bundle_fetch_consecutive_failures` and `meshd_bundle_serving_cache` (1 while the bundle
//! served came from the last-known-good cache and the server has not been reached since).
//! The served bundle itself is `meshd_bundle_info{digest,serial,source,etag,…}`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use super::fetch_status::FetchStatus;

/// Reads a [`FetchStatus`] when scraped.
#[derive(Debug)]
pub struct FetchStatusCollector(pub Arc<FetchStatus>);

fn seconds(at: Option<SystemTime>) -> f64 {
    at.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Collector for FetchStatusCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snapshot = self.0.snapshot();
        let mut fetches = encoder.encode_descriptor(
            "meshd_bundle_fetches",
            "Polls of the bundle URL by outcome (updated, unchanged, not_modified, refused, error)",
            None,
            MetricType::Counter,
        )?;
        for (outcome, count) in self.0.counts() {
            ConstCounter::new(count)
                .encode(fetches.encode_family(&[("outcome", outcome.as_str())])?)?;
        }
        let gauges: [(&str, &str, f64); 4] = [
            (
                "meshd_bundle_last_fetch_timestamp_seconds",
                "When the last poll of the bundle URL ended (Unix time; 0: never)",
                seconds(snapshot.last_fetch_at),
            ),
            (
                "meshd_bundle_last_success_timestamp_seconds",
                "When a poll last reached the server and found nothing wrong (Unix time; 0: never)",
                seconds(snapshot.last_success_at),
            ),
            (
                "meshd_bundle_fetch_consecutive_failures",
                "Failed or refused polls since the last successful one",
                f64::from(snapshot.consecutive_failures),
            ),
            (
                "meshd_bundle_serving_cache",
                "1 while the bundle served came from the last-known-good cache at start and the server has not been reached since",
                f64::from(u8::from(snapshot.serving_cache)),
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            ConstGauge::new(value).encode(gauge)?;
        }
        Ok(())
    }
}
