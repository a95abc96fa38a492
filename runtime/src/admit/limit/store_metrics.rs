//! The shared-limit store's health for Prometheus: `meshd_rate_limit_redis_errors_total` (failed
//! Redis calls), `meshd_rate_limit_redis_fallbacks_total{mode}` (requests decided without Redis,
//! by the limit's `fail` mode) and `meshd_rate_limit_redis_up` (0 while Redis is being left alone
//! after a failure).

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use super::shared::SharedLimitStore;

/// Reads the store's counters when scraped.
#[derive(Debug)]
pub struct SharedStoreCollector(pub Arc<SharedLimitStore>);

impl Collector for SharedStoreCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let store = &self.0;
        let errors = encoder.encode_descriptor(
            "meshd_rate_limit_redis_errors",
            "Redis calls of shared rate limits that failed or timed out",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(store.errors()).encode(errors)?;
        let mut fallbacks = encoder.encode_descriptor(
            "meshd_rate_limit_redis_fallbacks",
            "Requests a shared rate limit decided without Redis, by its fail mode",
            None,
            MetricType::Counter,
        )?;
        for (mode, count) in store.fallbacks() {
            ConstCounter::new(count)
                .encode(fallbacks.encode_family(&[("mode", mode.as_str())])?)?;
        }
        let up = encoder.encode_descriptor(
            "meshd_rate_limit_redis_up",
            "1 while Redis decides shared rate limits, 0 while it is left alone after a failure",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(i64::from(!store.is_paused())).encode(up)
    }
}
