//! Rate limits (429). The buckets and every decision are the decision core's
//! (`meshwork_policy::admit::limit`, re-exported here); what meshd adds is [`shared`]: `shared`
//! limits counted in Redis, behind the core's [`SharedCounter`], and [`store_metrics`]: the
//! store's health for Prometheus (failed calls, requests decided by each `fail` mode).

pub use meshwork_policy::admit::limit::*;

pub mod shared;
pub mod store_metrics;

pub use shared::{SharedLimitStore, SharedStoreError};
pub use store_metrics::SharedStoreCollector;
