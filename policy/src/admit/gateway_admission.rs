//! Admission for every route of one gateway, sharing one consumer directory.

use std::collections::HashMap;
use std::sync::Arc;

use meshwork_bundle::Gateway;

use super::consumers::ConsumerDirectory;
use super::error::AdmitBuildError;
use super::limit::LimitSlabBuilder;
use super::route_admission::{AdmitOptions, RouteAdmission};
use crate::secrets::SecretStore;

/// The admission of a gateway's routes, indexed like `gateway.routes` (match order).
#[derive(Debug)]
pub struct GatewayAdmission {
    directory: Arc<ConsumerDirectory>,
    routes: Vec<RouteAdmission>,
}

impl GatewayAdmission {
    /// Indexes the consumers once and builds every route; the first broken rule fails the load.
    pub fn build(
        gateway: &Gateway,
        secrets: &SecretStore,
        options: &AdmitOptions,
    ) -> Result<Self, AdmitBuildError> {
        let directory = Arc::new(ConsumerDirectory::build(gateway, secrets)?);
        let mut limits = LimitSlabBuilder::new(&directory);
        let routes = gateway
            .routes
            .iter()
            .map(|route| {
                let directory = Arc::clone(&directory);
                RouteAdmission::build_into(directory, route, secrets, options, None, &mut limits)
            })
            .collect::<Result<Vec<_>, _>>()?;
        limits.finish();
        Ok(GatewayAdmission { directory, routes })
    }

    /// [`GatewayAdmission::build`] for a reload replacing `previous`: routes keep the local
    /// buckets of their unchanged rate limits (matched by route name), so a reload never hands
    /// out fresh tokens.
    pub fn rebuild(
        gateway: &Gateway,
        secrets: &SecretStore,
        options: &AdmitOptions,
        previous: &GatewayAdmission,
    ) -> Result<Self, AdmitBuildError> {
        let directory = Arc::new(ConsumerDirectory::build(gateway, secrets)?);
        // By name through an index: a scan per route made a 100 000-route reload quadratic.
        let by_name: HashMap<&str, &RouteAdmission> = previous
            .routes
            .iter()
            .map(|route| (route.route(), route))
            .collect();
        // The buckets of changed and new limits go into one slab apart from the rest of the
        // state, so the ones a later reload keeps pin only that slab (see `limit::local_slab`).
        let mut limits = LimitSlabBuilder::new(&directory);
        let routes = gateway
            .routes
            .iter()
            .map(|route| {
                let before = by_name.get(route.name.as_str()).copied();
                let directory = Arc::clone(&directory);
                RouteAdmission::build_into(directory, route, secrets, options, before, &mut limits)
            })
            .collect::<Result<Vec<_>, _>>()?;
        limits.finish();
        Ok(GatewayAdmission { directory, routes })
    }

    /// The admission of the route at `index` in `gateway.routes`.
    pub fn route(&self, index: usize) -> Option<&RouteAdmission> {
        self.routes.get(index)
    }

    /// Every route's admission, in `gateway.routes` order.
    pub fn routes(&self) -> &[RouteAdmission] {
        &self.routes
    }

    /// The gateway's consumers.
    pub fn directory(&self) -> &Arc<ConsumerDirectory> {
        &self.directory
    }

    /// Every route's warnings (log them at load).
    pub fn warnings(&self) -> impl Iterator<Item = &str> {
        self.routes
            .iter()
            .flat_map(|r| r.warnings().iter().map(String::as_str))
    }
}
