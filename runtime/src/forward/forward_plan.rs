//! A route's `forward` action, compiled: the services with their traffic split, the path
//! rewriting and the route's own timeout.

use std::sync::Arc;
use std::time::Duration;

use super::mirror::Mirror;
use super::path_rewrite::RewriteTemplate;
use super::service_state::ServiceState;
use super::time_budget::TimeBudget;
use super::upgrade::UpgradePolicy;

/// Where a route forwards to and how.
#[derive(Debug)]
pub struct ForwardPlan {
    /// Services with cumulative weights (the last is 100), in bundle order.
    targets: Vec<(Arc<ServiceState>, u32)>,
    /// A prefix removed from the path.
    pub strip_prefix: Option<Box<str>>,
    /// A template replacing the path.
    pub rewrite: Option<RewriteTemplate>,
    /// The route's timeout: the whole request's deadline, across every try.
    pub timeout: Option<Duration>,
    /// The route says its requests may be repeated whatever their method (`idempotent`).
    pub idempotent: bool,
    /// Fire-and-forget copies to another service, if the route mirrors.
    pub mirror: Option<Mirror>,
    /// What the route allows of upgraded connections (`websocket`).
    pub upgrades: UpgradePolicy,
}

impl ForwardPlan {
    /// A plan over `(service, weight)` targets; weights are relative shares (the compiler makes
    /// them sum to 100). Targets with weight 0 never receive traffic unless all are 0.
    pub fn new(
        targets: Vec<(Arc<ServiceState>, u8)>,
        strip_prefix: Option<&str>,
        rewrite: Option<&str>,
        timeout_ms: Option<u64>,
    ) -> ForwardPlan {
        let all_zero = targets.iter().all(|(_, w)| *w == 0);
        let mut total = 0u32;
        let targets = targets
            .into_iter()
            .map(|(service, weight)| {
                total += if all_zero { 1 } else { u32::from(weight) };
                (service, total)
            })
            .collect();
        ForwardPlan {
            targets,
            strip_prefix: strip_prefix.map(Box::from),
            rewrite: rewrite.map(RewriteTemplate::compile),
            timeout: timeout_ms.map(Duration::from_millis),
            idempotent: false,
            mirror: None,
            upgrades: UpgradePolicy::default(),
        }
    }

    /// Whether a request with `method` may be sent again after it reached the upstream: its
    /// method is idempotent (RFC 9110 §9.2.2) or the route says its requests are.
    pub fn repeatable(&self, method: &http::Method) -> bool {
        self.idempotent || super::retry_policy::is_idempotent(method)
    }

    /// The service for this request: the only one, or one drawn by weight.
    pub fn choose_service(&self) -> Option<&Arc<ServiceState>> {
        match self.targets.as_slice() {
            [] => None,
            [(only, _)] => Some(only),
            many => {
                let total = many.last().map_or(0, |(_, cumulative)| *cumulative);
                let draw = fastrand::u32(..total.max(1));
                many.iter()
                    .find(|(_, cumulative)| draw < *cumulative)
                    .map(|(service, _)| service)
            }
        }
    }

    /// The time limits of a request to `service`: the service's timeout per try, the route's
    /// over all of them.
    pub fn budget(&self, service: &ServiceState) -> TimeBudget {
        TimeBudget {
            per_try: service.timeout,
            overall: self.timeout,
        }
    }
}
