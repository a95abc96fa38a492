//! Rate limits (429). The buckets and every decision are the decision core's
//! (`meshwork_policy::admit::limit`, re-exported here); what meshd adds is [`shared`]: `shared`
//! limits counted in Redis, behind the core's [`SharedCounter`].

pub use meshwork_policy::admit::limit::*;

pub mod shared;

pub use shared::{SharedLimitStore, SharedStoreError};
