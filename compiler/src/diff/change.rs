//! One behaviour change between two programs, and the kinds CI can gate on.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// What a change does, for grouping in reports and for `--fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// A request without credentials now gets through where it did not (a new route without
    /// auth, a route that lost its auth).
    NewExposure,
    /// A route lets more callers in: auth removed, consumers gained, a condition or address
    /// rule dropped or widened, CORS opened, mTLS made optional.
    WeakerAuth,
    /// A route lets fewer callers in.
    StrongerAuth,
    /// A route's auth settings changed in a way that is neither clearly weaker nor stronger
    /// (another header name, another realm).
    AuthSettings,
    /// A rate or body limit raised or removed.
    WeakerLimits,
    /// A rate or body limit lowered or added.
    StrongerLimits,
    /// Requests another route answered are now answered by an existing route that moved ahead
    /// of it in precedence.
    RouteOrder,
    /// A route matches other requests than before (its match changed).
    RouteMatch,
    /// A route was added.
    NewRoute,
    /// A route was removed.
    RemovedRoute,
    /// Where an admitted request goes (services and weights, topic, fixed answer, path rewrite).
    Destination,
    /// Request or response header rules changed.
    Headers,
    /// A mesh caller may now call a service it could not (or with fewer conditions).
    MeshAllowed,
    /// A mesh caller may no longer call a service (or only under more conditions).
    MeshDenied,
    /// Topics or streams changed.
    Events,
    /// A service's timeouts, retries, circuit breaker or health checks changed.
    Resilience,
    /// An injected fault (on a route or a mesh pair) added, removed or changed: a chaos rule
    /// about to ship is what `--fail-on faults` stops.
    Faults,
    /// A service or gateway was added or removed, or its endpoints, balancing, identity or
    /// listeners changed.
    Topology,
}

impl ChangeKind {
    /// Every kind, in report order.
    pub const ALL: [ChangeKind; 18] = [
        ChangeKind::NewExposure,
        ChangeKind::WeakerAuth,
        ChangeKind::StrongerAuth,
        ChangeKind::AuthSettings,
        ChangeKind::WeakerLimits,
        ChangeKind::StrongerLimits,
        ChangeKind::RouteOrder,
        ChangeKind::RouteMatch,
        ChangeKind::NewRoute,
        ChangeKind::RemovedRoute,
        ChangeKind::Destination,
        ChangeKind::Headers,
        ChangeKind::MeshAllowed,
        ChangeKind::MeshDenied,
        ChangeKind::Events,
        ChangeKind::Resilience,
        ChangeKind::Faults,
        ChangeKind::Topology,
    ];

    /// The name used on the command line and in JSON (`weaker-auth`).
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::NewExposure => "new-exposure",
            ChangeKind::WeakerAuth => "weaker-auth",
            ChangeKind::StrongerAuth => "stronger-auth",
            ChangeKind::AuthSettings => "auth-settings",
            ChangeKind::WeakerLimits => "weaker-limits",
            ChangeKind::StrongerLimits => "stronger-limits",
            ChangeKind::RouteOrder => "route-order",
            ChangeKind::RouteMatch => "route-match",
            ChangeKind::NewRoute => "new-route",
            ChangeKind::RemovedRoute => "removed-route",
            ChangeKind::Destination => "destination",
            ChangeKind::Headers => "headers",
            ChangeKind::MeshAllowed => "mesh-allowed",
            ChangeKind::MeshDenied => "mesh-denied",
            ChangeKind::Events => "events",
            ChangeKind::Resilience => "resilience",
            ChangeKind::Faults => "faults",
            ChangeKind::Topology => "topology",
        }
    }

    /// Whether the change opens something up (reports flag these).
    pub fn is_loosening(self) -> bool {
        matches!(
            self,
            ChangeKind::NewExposure
                | ChangeKind::WeakerAuth
                | ChangeKind::WeakerLimits
                | ChangeKind::MeshAllowed
        )
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `--fail-on` value that names no kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a kind of change (kinds: any, {kinds})", kinds = ChangeKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", "))]
pub struct UnknownKind(pub String);

impl FromStr for ChangeKind {
    type Err = UnknownKind;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ChangeKind::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
            .ok_or_else(|| UnknownKind(text.to_string()))
    }
}

/// A request that shows a change: what it is, and how each program answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SampleAnswer {
    /// The request (`GET http://api.starfleet.test/officers/1` plus headers).
    pub request: String,
    /// The old program's answer.
    pub before: String,
    /// The new program's answer.
    pub after: String,
}

/// One change in behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub kind: ChangeKind,
    /// What changed: `route edge/officers`, `mesh picard -> riker`, `service picard`.
    pub subject: String,
    /// What the change does, in a sentence.
    pub message: String,
    /// Where, in the new program (the old one for removals).
    pub source: Option<String>,
    /// A request whose answer changes, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample: Option<SampleAnswer>,
}

impl Change {
    /// A change without a sample request.
    pub fn new(
        kind: ChangeKind,
        subject: impl Into<String>,
        message: impl Into<String>,
        source: Option<String>,
    ) -> Self {
        Change {
            kind,
            subject: subject.into(),
            message: message.into(),
            source,
            sample: None,
        }
    }
}
