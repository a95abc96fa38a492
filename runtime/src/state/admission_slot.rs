//! Where a route's admission (auth, access, rate limits, conditions, header rules, CORS, body
//! limit) plugs into the request path.
//!
//! TEMPORARY: the admission engine (`crate::admit`, helper "admit") has not landed. Until it
//! does, a route without admission steps is open, and a route with any step fails closed: it
//! answers 503 rather than let a request skip a check. When `admit` lands, this enum gains a
//! `Checked(RouteAdmission)` variant built by `RouteAdmission::build` at load.

use meshwork_bundle::Route;

/// A route's compiled admission.
#[derive(Debug)]
pub enum AdmissionSlot {
    /// No admission steps: every matched request is admitted.
    Open,
    /// Admission steps this build cannot run yet: every request gets 503.
    Unavailable {
        /// The first step's kind, for the error message.
        first_step: &'static str,
    },
}

impl AdmissionSlot {
    /// Builds the admission of `route`.
    pub fn build(route: &Route) -> AdmissionSlot {
        match route.admission.first() {
            None => AdmissionSlot::Open,
            Some(step) => AdmissionSlot::Unavailable {
                first_step: step_name(step),
            },
        }
    }
}

fn step_name(step: &meshwork_bundle::AdmissionStep) -> &'static str {
    use meshwork_bundle::AdmissionStep as S;
    match step {
        S::Auth { .. } => "auth",
        S::Access { .. } => "access",
        S::RateLimit { .. } => "rate_limit",
        S::Condition { .. } => "condition",
        S::Cors { .. } => "cors",
        S::BodyLimit { .. } => "body_limit",
        S::Header { .. } => "header",
    }
}
