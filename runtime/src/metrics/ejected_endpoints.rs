//! `meshd_outlier_ejected_endpoints{service}`: the endpoints of each service with a circuit
//! breaker that are out of rotation now. Ejections end by time, not by an event, so the gauge is
//! read at scrape from the state being served rather than kept up to date per request.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use crate::forward::clock::now_ms;
use crate::reload::state_cell::StateCell;

/// Reads the ejected endpoints of the served state at scrape.
#[derive(Debug)]
pub struct EjectedEndpointsCollector(pub Arc<StateCell>);

impl Collector for EjectedEndpointsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(state) = self.0.load() else {
            return Ok(());
        };
        let now = now_ms();
        let mut rows: Vec<(&str, i64)> = state
            .services
            .values()
            .filter(|service| service.breaker.is_some())
            .map(|service| {
                let out = service
                    .endpoints
                    .iter()
                    .filter(|e| e.outlier.is_ejected_at(now))
                    .count();
                (&*service.name, i64::try_from(out).unwrap_or(i64::MAX))
            })
            .collect();
        rows.sort_unstable();
        let mut family = encoder.encode_descriptor(
            "meshd_outlier_ejected_endpoints",
            "Endpoints of a service out of rotation now, ejected by its circuit breaker's detectors",
            None,
            MetricType::Gauge,
        )?;
        for (service, out) in rows {
            ConstGauge::new(out).encode(family.encode_family(&[("service", service)])?)?;
        }
        Ok(())
    }
}
