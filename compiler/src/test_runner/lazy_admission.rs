//! A gateway's admission for one test, as meshd builds it (`meshwork-policy`), each route's
//! built when the test first reaches it.

use std::cell::OnceCell;
use std::sync::Arc;

use meshwork_bundle::Gateway;
use meshwork_policy::admit::{AdmitOptions, ConsumerDirectory, RouteAdmission};
use meshwork_policy::secrets::SecretStore;

/// A gateway's admission as meshd builds it, each route's built when the test first reaches it:
/// a test touches a route or two, and building every route of a large gateway for each test
/// would cost more than the test. (Whether meshd accepts the whole gateway is checked once.)
pub struct LazyAdmission<'b> {
    gateway: &'b Gateway,
    directory: Arc<ConsumerDirectory>,
    secrets: &'b SecretStore,
    options: AdmitOptions,
    routes: Vec<OnceCell<Option<Box<RouteAdmission>>>>,
}

impl<'b> LazyAdmission<'b> {
    /// Fresh admission for `gateway` (new buckets, the test's clock in `options`).
    pub fn new(
        gateway: &'b Gateway,
        secrets: &'b SecretStore,
        options: AdmitOptions,
    ) -> Result<Self, String> {
        let directory = ConsumerDirectory::build(gateway, secrets)
            .map_err(|e| format!("meshd would refuse this program: {e}"))?;
        Ok(LazyAdmission {
            gateway,
            directory: Arc::new(directory),
            secrets,
            options,
            routes: (0..gateway.routes.len()).map(|_| OnceCell::new()).collect(),
        })
    }

    /// The admission of the route at `index` in `gateway.routes`.
    pub fn route(&self, index: usize) -> Option<&RouteAdmission> {
        self.routes
            .get(index)?
            .get_or_init(|| {
                let route = self.gateway.routes.get(index)?;
                RouteAdmission::build_with(
                    Arc::clone(&self.directory),
                    route,
                    self.secrets,
                    &self.options,
                )
                .ok()
                .map(Box::new)
            })
            .as_deref()
    }
}
