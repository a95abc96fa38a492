//! One route's admission chain, built once at load: the checks in bundle order (auth → access →
//! rate limit → condition → body limit), the CORS policy and the header rules.

use std::borrow::Cow;
use std::sync::Arc;

use http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, StatusCode};
use meshwork_bundle::{AdmissionStep, Gateway, HeaderDirection, Route, SourceLocation};

use super::access::AccessRule;
use super::admitted::Admitted;
use super::auth::Authenticator;
use super::cel::{CelInput, MeshCaller, RequestCondition};
use super::clock::AdmitClock;
use super::consumers::{ConsumerDirectory, ConsumerEntry};
use super::cors::{CorsPolicy, CorsRule, Preflight};
use super::denial::{Denial, StepKind, StepSite};
use super::error::{at, AdmitBuildError};
use super::facts::RequestFacts;
use super::header_rules::HeaderRule;
use super::limit::{
    seconds_up, LimitDecision, LimitSlabBuilder, RateLimitRule, RateLimitStatus, RateLimitStep,
    SharedCounter, StepPlace, Verdict,
};
use crate::secrets::SecretStore;

/// The most of a body read for a condition on `request.body` when the route sets no
/// `body_limit` (larger bodies get 413).
pub const BODY_BUFFER_LIMIT: u64 = 1024 * 1024;

/// Settings of the process that admission needs at build.
#[derive(Debug, Clone, Default)]
pub struct AdmitOptions {
    /// Where `shared` rate limits are counted (meshd's `--redis URL`); without it they count
    /// locally.
    pub shared_store: Option<Arc<dyn SharedCounter>>,
    /// The time limits and tokens are judged at.
    pub clock: AdmitClock,
    /// Seeds the draws of routes' `fault` rules (meshd's `--fault-seed`), so a test's sequence
    /// of faulted requests is reproducible; without it each load draws from a random seed.
    pub fault_seed: Option<u64>,
}

/// The answer to a CORS preflight, sent by the gateway without calling upstream.
#[derive(Debug, Clone)]
pub struct PreflightResponse {
    /// 204.
    pub status: StatusCode,
    /// The `Access-Control-*` and `Vary` headers.
    pub headers: HeaderMap,
}

#[derive(Debug)]
enum Check {
    Auth(Authenticator),
    Access(AccessRule),
    RateLimit(RateLimitStep),
    Condition(RequestCondition),
    BodyLimit(u64),
}

#[derive(Debug)]
struct Step {
    check: Check,
    site: Arc<StepSite>,
}

/// One route's admission, ready to run per request.
#[derive(Debug)]
pub struct RouteAdmission {
    route: String,
    directory: Arc<ConsumerDirectory>,
    steps: Vec<Step>,
    request_headers: Vec<HeaderRule>,
    response_headers: Vec<HeaderRule>,
    cors: Option<(CorsPolicy, Arc<StepSite>)>,
    body_limit: Option<(u64, Arc<StepSite>)>,
    reads_body: bool,
    has_shared_limit: bool,
    warnings: Vec<String>,
}

impl RouteAdmission {
    /// Builds `route` of `gateway`, indexing the gateway's consumers for this route alone. A
    /// server building every route should use [`super::GatewayAdmission`], which indexes them
    /// once.
    pub fn build(
        gateway: &Gateway,
        route: &Route,
        secrets: &SecretStore,
        options: &AdmitOptions,
    ) -> Result<Self, AdmitBuildError> {
        let directory = Arc::new(ConsumerDirectory::build(gateway, secrets)?);
        Self::build_with(directory, route, secrets, options)
    }

    /// Builds `route` against an already indexed consumer directory of its gateway.
    pub fn build_with(
        directory: Arc<ConsumerDirectory>,
        route: &Route,
        secrets: &SecretStore,
        options: &AdmitOptions,
    ) -> Result<Self, AdmitBuildError> {
        Self::rebuild_with(directory, route, secrets, options, None)
    }

    /// [`RouteAdmission::build_with`] for a reload: `previous` is the same route in the bundle
    /// being replaced, whose unchanged rate limits keep their buckets.
    pub fn rebuild_with(
        directory: Arc<ConsumerDirectory>,
        route: &Route,
        secrets: &SecretStore,
        options: &AdmitOptions,
        previous: Option<&RouteAdmission>,
    ) -> Result<Self, AdmitBuildError> {
        let mut limits = LimitSlabBuilder::new(&directory);
        let admission = Self::build_into(directory, route, secrets, options, previous, &mut limits);
        limits.finish();
        admission
    }

    /// [`RouteAdmission::rebuild_with`] with the route's new rate-limit buckets put into
    /// `limits`, shared by the routes of one build; the caller finishes it before serving.
    pub(crate) fn build_into(
        directory: Arc<ConsumerDirectory>,
        route: &Route,
        secrets: &SecretStore,
        options: &AdmitOptions,
        previous: Option<&RouteAdmission>,
        limits: &mut LimitSlabBuilder,
    ) -> Result<Self, AdmitBuildError> {
        let name = route.name.as_str();
        let previous_limits: Vec<&RateLimitStep> = previous
            .into_iter()
            .flat_map(|p| &p.steps)
            .filter_map(|step| match &step.check {
                Check::RateLimit(limit) => Some(limit),
                _ => None,
            })
            .collect();
        let mut limits_seen = 0;
        let route_name: Arc<str> = Arc::from(name);
        let mut admission = RouteAdmission {
            route: route.name.clone(),
            directory: Arc::clone(&directory),
            steps: Vec::new(),
            request_headers: Vec::new(),
            response_headers: Vec::new(),
            cors: None,
            body_limit: None,
            reads_body: false,
            has_shared_limit: false,
            warnings: Vec::new(),
        };
        for (index, step) in route.admission.iter().enumerate() {
            let site = |kind, source: &SourceLocation| {
                StepSite::new(Arc::clone(&route_name), kind, source)
            };
            let check = match step {
                AdmissionStep::Auth { method, source } => Step {
                    check: Check::Auth(Authenticator::build(
                        method,
                        name,
                        directory.gateway(),
                        source,
                        secrets,
                    )?),
                    site: site(StepKind::Auth, source),
                },
                AdmissionStep::Access {
                    effect,
                    subject,
                    values,
                    source,
                } => Step {
                    check: Check::Access(AccessRule::build(
                        *effect, *subject, values, name, source, &directory,
                    )?),
                    site: site(StepKind::Access, source),
                },
                AdmissionStep::RateLimit {
                    count,
                    period_ms,
                    per,
                    burst,
                    shared,
                    on_store_failure,
                    source,
                } => {
                    let step = RateLimitStep::build(
                        RateLimitRule {
                            count: *count,
                            period_ms: *period_ms,
                            per: *per,
                            burst: *burst,
                            shared: *shared,
                            on_store_failure: *on_store_failure,
                        },
                        StepPlace {
                            gateway: directory.gateway(),
                            route: name,
                            index,
                            source,
                        },
                        limits,
                        options.shared_store.as_ref(),
                        previous_limits.get(limits_seen).copied(),
                        &options.clock.limit_clock(),
                    )?;
                    limits_seen += 1;
                    if *shared && !step.is_shared() {
                        admission.warnings.push(format!(
                            "{}: route {name}: shared rate limit counted in this process (no --redis given)",
                            at(source)
                        ));
                    }
                    admission.has_shared_limit |= step.is_shared();
                    Step {
                        check: Check::RateLimit(step),
                        site: site(StepKind::RateLimit, source),
                    }
                }
                AdmissionStep::Condition { cel, source } => {
                    let condition =
                        RequestCondition::compile(cel).map_err(|e| AdmitBuildError::Cel {
                            at: at(source),
                            route: name.to_string(),
                            message: e.message,
                        })?;
                    admission.reads_body |= condition.reads_body();
                    Step {
                        check: Check::Condition(condition),
                        site: site(StepKind::Condition, source),
                    }
                }
                AdmissionStep::BodyLimit { max_bytes, source } => {
                    let site = site(StepKind::BodyLimit, source);
                    admission.body_limit = Some((*max_bytes, Arc::clone(&site)));
                    Step {
                        check: Check::BodyLimit(*max_bytes),
                        site,
                    }
                }
                AdmissionStep::Cors {
                    origins,
                    methods,
                    headers,
                    expose,
                    credentials,
                    max_age_ms,
                    source,
                } => {
                    let rule = CorsRule {
                        origins,
                        methods,
                        headers,
                        expose,
                        credentials: *credentials,
                        max_age_ms: *max_age_ms,
                    };
                    admission.cors = Some((
                        CorsPolicy::build(rule, name, source)?,
                        site(StepKind::Cors, source),
                    ));
                    continue;
                }
                // Faults are not checks: the route's `FaultInjection` runs them after admission.
                AdmissionStep::Fault { .. } => continue,
                AdmissionStep::Header {
                    direction,
                    name: header,
                    value,
                    source,
                } => {
                    let rule = HeaderRule::build(header, value.as_deref(), name, source)?;
                    match direction {
                        HeaderDirection::Request => admission.request_headers.push(rule),
                        HeaderDirection::Response => admission.response_headers.push(rule),
                    }
                    continue;
                }
            };
            admission.steps.push(check);
        }
        Ok(admission)
    }

    /// The route's name.
    pub fn route(&self) -> &str {
        &self.route
    }

    /// Things the operator should know about this route's admission (logged at load).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether a condition may read `request.body`: the server must then buffer the body (up to
    /// [`RouteAdmission::body_limit`]) and pass it in [`RequestFacts::body`] before `admit`.
    pub fn needs_body(&self) -> bool {
        self.reads_body
    }

    /// Whether some limit is counted in Redis (then `admit` may wait on the network).
    pub fn has_shared_limit(&self) -> bool {
        self.has_shared_limit
    }

    /// The largest body accepted, for the server to enforce while streaming.
    pub fn body_limit(&self) -> Option<u64> {
        self.body_limit.as_ref().map(|(max, _)| *max)
    }

    /// The 413 to send when a streamed body grows past [`RouteAdmission::body_limit`].
    pub fn body_too_large(&self) -> Option<Denial> {
        let (max, site) = self.body_limit.as_ref()?;
        Some(Denial::new(
            site,
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than the limit of {max} bytes"),
        ))
    }

    /// Answers a CORS preflight for a route with a CORS policy: `Some(Ok)` to send 204 with the
    /// headers, `Some(Err)` to refuse; `None` when the request is not a preflight (admit it).
    /// The server calls this before [`RouteAdmission::admit`]: preflights carry no credentials.
    pub fn preflight(&self, facts: &RequestFacts<'_>) -> Option<Result<PreflightResponse, Denial>> {
        let (cors, site) = self.cors.as_ref()?;
        match cors.preflight(facts) {
            Preflight::NotPreflight => None,
            Preflight::Allowed(headers) => Some(Ok(PreflightResponse {
                status: StatusCode::NO_CONTENT,
                headers,
            })),
            Preflight::Refused(reason) => {
                Some(Err(Denial::new(site, StatusCode::FORBIDDEN, reason)))
            }
        }
    }

    /// Whether the route has nothing to check (no auth, access rule, rate limit, condition, body
    /// limit or CORS policy). The server then admits with [`RouteAdmission::admit_open`] and
    /// builds no [`RequestFacts`] at all; header rules still apply.
    pub fn is_open(&self) -> bool {
        self.steps.is_empty() && self.cors.is_none()
    }

    /// Admits a request on a route that [`RouteAdmission::is_open`]: anonymous, with the route's
    /// header rules. Only for such routes: on a route with checks they would be skipped.
    pub fn admit_open(&self) -> Admitted<'_> {
        debug_assert!(self.is_open(), "admit_open on a route with checks");
        Admitted {
            route: self,
            consumer: None,
            claims: None,
            rate_limit: None,
            cors_origin: None,
        }
    }

    /// Runs the checks in bundle order. A shared rate limit awaits Redis; everything else is
    /// synchronous, so the future is ready at once for routes without one.
    pub async fn admit<'r>(&'r self, facts: &RequestFacts<'_>) -> Result<Admitted<'r>, Denial> {
        let mut consumer: Option<&'r ConsumerEntry> = None;
        let mut claims = None;
        let mut limited: Option<(RateLimitStatus, &'r RateLimitStep)> = None;
        for step in &self.steps {
            let refusal = match &step.check {
                Check::Auth(auth) => match auth.authenticate(facts, &self.directory) {
                    Ok(found) => {
                        consumer = Some(found.consumer);
                        claims = found.claims;
                        None
                    }
                    Err(failure) => {
                        let mut denial =
                            Denial::new(&step.site, StatusCode::UNAUTHORIZED, failure.reason);
                        if let Some(challenge) = failure.challenge {
                            denial.headers.insert(WWW_AUTHENTICATE, challenge);
                        }
                        Some(denial)
                    }
                },
                Check::Access(rule) => rule
                    .check(facts, consumer)
                    .err()
                    .map(|reason| Denial::new(&step.site, StatusCode::FORBIDDEN, reason)),
                Check::RateLimit(limit) => {
                    let decision = if limit.is_shared() {
                        // Boxed: the Redis round trip's future is kilobytes, and held inline it
                        // would be copied with every request's futures, shared limit or not.
                        Box::pin(limit.decide(facts, consumer)).await
                    } else {
                        LimitDecision::Counted(limit.decide_local(facts, consumer))
                    };
                    let verdict = match decision {
                        LimitDecision::Counted(verdict) => Ok(verdict),
                        LimitDecision::StoreDown => {
                            let mut denial = Denial::new(
                                &step.site,
                                StatusCode::SERVICE_UNAVAILABLE,
                                "the shared rate limit cannot be counted (Redis is unavailable) \
                                 and fails closed"
                                    .to_string(),
                            );
                            denial.headers.insert(RETRY_AFTER, HeaderValue::from(1u64));
                            Err(denial)
                        }
                    };
                    match verdict {
                        Err(denial) => Some(denial),
                        Ok(verdict) => match verdict {
                            Verdict::Allow(status) => {
                                if limited.is_none_or(|(kept, _)| status.remaining < kept.remaining)
                                {
                                    limited = Some((status, limit));
                                }
                                None
                            }
                            Verdict::Deny {
                                retry_after_ns,
                                status,
                            } => {
                                let mut denial = Denial::new(
                                    &step.site,
                                    StatusCode::TOO_MANY_REQUESTS,
                                    limit.reason().to_string(),
                                );
                                denial.headers.insert(
                                    RETRY_AFTER,
                                    HeaderValue::from(seconds_up(retry_after_ns).max(1)),
                                );
                                limit.write_headers(&status, &mut denial.headers);
                                Some(denial)
                            }
                        },
                    }
                }
                Check::Condition(condition) => {
                    let input = CelInput {
                        facts,
                        consumer,
                        claims: claims.as_ref(),
                        source: MeshCaller::default(),
                    };
                    let reason: Option<Cow<'static, str>> = match condition.evaluate(input) {
                        Ok(true) => None,
                        Ok(false) => {
                            Some(format!("condition `{}` is false", condition.source()).into())
                        }
                        Err(error) => Some(
                            format!("condition `{}` failed: {error}", condition.source()).into(),
                        ),
                    };
                    reason.map(|reason| Denial::new(&step.site, StatusCode::FORBIDDEN, reason))
                }
                Check::BodyLimit(max) => match facts.content_length {
                    Some(length) if length > *max => Some(Denial::new(
                        &step.site,
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!(
                            "the body of {length} bytes is larger than the limit of {max} bytes"
                        ),
                    )),
                    _ => None,
                },
            };
            if let Some(mut denial) = refusal {
                self.decorate_denial(facts, &mut denial.headers);
                return Err(denial.by_consumer(consumer.map(ConsumerEntry::shared_name)));
            }
        }
        Ok(Admitted {
            route: self,
            consumer,
            claims,
            rate_limit: limited,
            cors_origin: self
                .cors
                .as_ref()
                .and_then(|(cors, _)| cors.allowed_origin(facts)),
        })
    }

    /// CORS headers on a refusal too, so a page can read why it was refused.
    fn decorate_denial(&self, facts: &RequestFacts<'_>, headers: &mut HeaderMap) {
        if let Some((cors, _)) = &self.cors {
            cors.write_response_headers(cors.allowed_origin(facts).as_ref(), headers);
        }
    }

    /// The route's rate limits, in bundle order.
    pub fn rate_limits(&self) -> impl Iterator<Item = &RateLimitStep> {
        self.steps.iter().filter_map(|step| match &step.check {
            Check::RateLimit(limit) => Some(limit),
            _ => None,
        })
    }

    pub(crate) fn request_header_rules(&self) -> &[HeaderRule] {
        &self.request_headers
    }

    pub(crate) fn response_header_rules(&self) -> &[HeaderRule] {
        &self.response_headers
    }

    pub(crate) fn cors_policy(&self) -> Option<&CorsPolicy> {
        self.cors.as_ref().map(|(cors, _)| cors)
    }
}

#[cfg(test)]
mod tests;
