//! An admitted request: who the caller is, what its token said, and the headers admission adds
//! to the upstream request and to the response.

use http::HeaderValue;

use super::cel::{CelInput, MeshCaller};
use super::claims::JwtClaims;
use super::consumers::ConsumerEntry;
use super::facts::RequestFacts;
use super::header_sink::HeaderSink;
use super::limit::{RateLimitStatus, RateLimitStep};
use super::route_admission::RouteAdmission;

/// The outcome of a successful [`RouteAdmission::admit`]; borrows the route's admission.
#[derive(Debug)]
pub struct Admitted<'r> {
    pub(crate) route: &'r RouteAdmission,
    pub(crate) consumer: Option<&'r ConsumerEntry>,
    pub(crate) claims: Option<JwtClaims>,
    pub(crate) rate_limit: Option<(RateLimitStatus, &'r RateLimitStep)>,
    pub(crate) cors_origin: Option<HeaderValue>,
}

impl<'r> Admitted<'r> {
    /// The authenticated consumer, if the route authenticates.
    pub fn consumer(&self) -> Option<&'r ConsumerEntry> {
        self.consumer
    }

    /// The consumer's name, for the access log.
    pub fn consumer_name(&self) -> Option<&'r str> {
        self.consumer.map(ConsumerEntry::name)
    }

    /// The verified JWT's claims, if the route uses JWT.
    pub fn claims(&self) -> Option<&JwtClaims> {
        self.claims.as_ref()
    }

    /// The most restrictive rate limit's bucket after this request, if the route limits.
    pub fn rate_limit(&self) -> Option<RateLimitStatus> {
        self.rate_limit.map(|(status, _)| status)
    }

    /// What request CEL evaluated after admission sees (`balance hash(…)`, produce keys).
    pub fn cel_input<'a>(&'a self, facts: &'a RequestFacts<'a>) -> CelInput<'a> {
        CelInput {
            facts,
            consumer: self.consumer,
            claims: self.claims.as_ref(),
            source: MeshCaller::default(),
        }
    }

    /// Whether the route's header rules change the request sent upstream.
    pub fn changes_request_headers(&self) -> bool {
        !self.route.request_header_rules().is_empty()
    }

    /// Applies the route's request header rules to the request sent upstream.
    pub fn apply_request_headers(&self, headers: &mut impl HeaderSink) {
        for rule in self.route.request_header_rules() {
            rule.apply(headers);
        }
    }

    /// Decorates the response: the route's response header rules, then CORS and `RateLimit-*`
    /// headers (which rules cannot remove, since clients depend on them).
    pub fn apply_response_headers(&self, headers: &mut impl HeaderSink) {
        for rule in self.route.response_header_rules() {
            rule.apply(headers);
        }
        if let Some(cors) = self.route.cors_policy() {
            cors.write_response_headers(self.cors_origin.as_ref(), headers);
        }
        if let Some((status, step)) = &self.rate_limit {
            step.write_headers(status, headers);
        }
    }
}
