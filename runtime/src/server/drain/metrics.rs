//! The drain's Prometheus families: `meshd_draining` (1 from the signal on),
//! `meshd_connections_open{side}` and `meshd_requests_in_flight{side}` (`side` is `inbound` or
//! `outbound`), summed over workers when scraped.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use super::{DrainState, Side};

/// Exposes a [`DrainState`] to `/metrics`.
#[derive(Debug)]
pub struct DrainCollector(pub Arc<DrainState>);

impl Collector for DrainCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let totals = self.0.load().totals();
        let draining = encoder.encode_descriptor(
            "meshd_draining",
            "1 once meshd has been told to stop and is draining its connections",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(i64::from(self.0.is_draining())).encode(draining)?;
        let gauge = |value: u64| ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
        let mut connections = encoder.encode_descriptor(
            "meshd_connections_open",
            "Client connections open, by side (inbound: outside clients; outbound: the local app)",
            None,
            MetricType::Gauge,
        )?;
        for (side, value) in [
            (Side::Inbound, totals.inbound_connections),
            (Side::Outbound, totals.outbound_connections),
        ] {
            gauge(value).encode(connections.encode_family(&[("side", side.as_str())])?)?;
        }
        let mut requests = encoder.encode_descriptor(
            "meshd_requests_in_flight",
            "Requests being served, by side",
            None,
            MetricType::Gauge,
        )?;
        for (side, value) in [
            (Side::Inbound, totals.inbound_requests),
            (Side::Outbound, totals.outbound_requests),
        ] {
            gauge(value).encode(requests.encode_family(&[("side", side.as_str())])?)?;
        }
        Ok(())
    }
}
