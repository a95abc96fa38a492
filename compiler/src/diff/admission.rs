//! How one route's admission changed: who gets in (consumers gained or lost, clients without
//! credentials), the auth method, conditions, address rules, rate and body limits, CORS and
//! header rules. Callers are compared as sets ([`crate::reach::route_callers`]), so a consumer
//! who gains access through a new group, a widened list or a removed deny is reported by name.

use std::collections::BTreeSet;

use meshwork_bundle::{AdmissionStep, AuthMethod, Effect, Gateway, Route, StoreFailure};

use crate::reach::route_callers::describe_rate;
use crate::reach::{route_callers, Callers, Qualifier, RouteCallers};

use super::change::{Change, ChangeKind};
use super::describe::{at, describe_auth, describe_header_rule, route_auth};

/// The old and new versions of one route, with their gateways.
pub struct RoutePair<'b> {
    pub subject: String,
    pub old_gateway: &'b Gateway,
    pub old: &'b Route,
    pub new_gateway: &'b Gateway,
    pub new: &'b Route,
}

impl RoutePair<'_> {
    fn change(&self, kind: ChangeKind, message: String) -> Change {
        Change::new(
            kind,
            self.subject.clone(),
            message,
            Some(at(&self.new.source)),
        )
    }
}

/// Every admission change of `pair`.
pub fn admission_changes(pair: &RoutePair<'_>, out: &mut Vec<Change>) {
    let old = route_callers(pair.old_gateway, pair.old);
    let new = route_callers(pair.new_gateway, pair.new);
    caller_changes(pair, &old, &new, out);
    auth_changes(pair, out);
    condition_changes(pair, &old, &new, out);
    address_changes(pair, &old, &new, out);
    limit_changes(pair, &old, &new, out);
    cors_changes(pair, out);
    header_changes(pair, out);
}

fn names(callers: &Callers) -> BTreeSet<String> {
    match callers {
        Callers::Anyone => BTreeSet::new(),
        Callers::Consumers(names) => names.clone(),
    }
}

fn list(names: &BTreeSet<String>) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn caller_changes(
    pair: &RoutePair<'_>,
    old: &RouteCallers,
    new: &RouteCallers,
    out: &mut Vec<Change>,
) {
    match (
        old.callers.admits_anonymous(),
        new.callers.admits_anonymous(),
    ) {
        (false, true) => out.push(pair.change(
            ChangeKind::NewExposure,
            format!(
                "now admits clients without credentials (before: {} with {})",
                old.callers.describe(),
                describe_auth(old.auth.as_ref())
            ),
        )),
        (true, false) => out.push(pair.change(
            ChangeKind::StrongerAuth,
            format!(
                "no longer admits clients without credentials: now only {} with {}",
                new.callers.describe(),
                describe_auth(new.auth.as_ref())
            ),
        )),
        (true, true) => {}
        (false, false) => {
            let (before, after) = (names(&old.callers), names(&new.callers));
            let gained: BTreeSet<String> = after.difference(&before).cloned().collect();
            let lost: BTreeSet<String> = before.difference(&after).cloned().collect();
            if !gained.is_empty() {
                out.push(pair.change(
                    ChangeKind::WeakerAuth,
                    format!(
                        "consumer{} {} gain{} access",
                        if gained.len() == 1 { "" } else { "s" },
                        list(&gained),
                        if gained.len() == 1 { "s" } else { "" }
                    ),
                ));
            }
            if !lost.is_empty() {
                out.push(pair.change(
                    ChangeKind::StrongerAuth,
                    format!(
                        "consumer{} {} lose{} access",
                        if lost.len() == 1 { "" } else { "s" },
                        list(&lost),
                        if lost.len() == 1 { "s" } else { "" }
                    ),
                ));
            }
        }
    }
}

/// Settings of the same auth method that weaken or strengthen it.
fn auth_changes(pair: &RoutePair<'_>, out: &mut Vec<Change>) {
    let (old, new) = (route_auth(pair.old), route_auth(pair.new));
    if old == new {
        return;
    }
    let message = format!(
        "auth changed from {} to {}",
        describe_auth(old),
        describe_auth(new)
    );
    let kind = match (old, new) {
        (None, _) | (_, None) => return, // told by the caller change
        (
            Some(AuthMethod::Jwt {
                issuer: old_issuer,
                audience: old_audience,
                alg: old_alg,
                ..
            }),
            Some(AuthMethod::Jwt {
                issuer,
                audience,
                alg,
                ..
            }),
        ) => {
            let dropped = |before: &Option<String>, after: &Option<String>| {
                before.is_some() && after.is_none()
            };
            let added = |before: &Option<String>, after: &Option<String>| {
                before.is_none() && after.is_some()
            };
            if dropped(old_issuer, issuer)
                || dropped(old_audience, audience)
                || dropped(old_alg, alg)
            {
                ChangeKind::WeakerAuth
            } else if added(old_issuer, issuer)
                || added(old_audience, audience)
                || added(old_alg, alg)
            {
                ChangeKind::StrongerAuth
            } else {
                ChangeKind::AuthSettings
            }
        }
        (
            Some(AuthMethod::Key {
                location: before, ..
            }),
            Some(AuthMethod::Key {
                location: after, ..
            }),
        ) if before != after => {
            // A key in the query string ends up in logs (W0605): moving it there weakens it.
            if *after == meshwork_bundle::KeyLocation::Query {
                ChangeKind::WeakerAuth
            } else {
                ChangeKind::StrongerAuth
            }
        }
        _ => ChangeKind::AuthSettings,
    };
    out.push(pair.change(kind, message));
}

fn conditions(callers: &RouteCallers) -> BTreeSet<&str> {
    callers
        .qualifiers
        .iter()
        .filter_map(|q| match q {
            Qualifier::Condition { cel, .. } => Some(cel.as_str()),
            _ => None,
        })
        .collect()
}

fn condition_changes(
    pair: &RoutePair<'_>,
    old: &RouteCallers,
    new: &RouteCallers,
    out: &mut Vec<Change>,
) {
    let (before, after) = (conditions(old), conditions(new));
    for removed in before.difference(&after) {
        out.push(pair.change(
            ChangeKind::WeakerAuth,
            format!("condition `{removed}` removed"),
        ));
    }
    for added in after.difference(&before) {
        out.push(pair.change(
            ChangeKind::StrongerAuth,
            format!("condition `{added}` added"),
        ));
    }
}

/// The address values of the rules with `effect`, and whether there is such a rule.
fn addresses(callers: &RouteCallers, effect: Effect) -> Option<BTreeSet<&str>> {
    let mut rules = callers.qualifiers.iter().filter_map(|q| match q {
        Qualifier::Addresses {
            effect: e, values, ..
        } if *e == effect => Some(values),
        _ => None,
    });
    let first = rules.next()?;
    let mut values: BTreeSet<&str> = first.iter().map(String::as_str).collect();
    // Several allow lists must all pass: only addresses in every list get through.
    for more in rules {
        let more: BTreeSet<&str> = more.iter().map(String::as_str).collect();
        values = match effect {
            Effect::Allow => values.intersection(&more).copied().collect(),
            Effect::Deny => values.union(&more).copied().collect(),
        };
    }
    Some(values)
}

fn joined(values: &BTreeSet<&str>) -> String {
    values.iter().copied().collect::<Vec<_>>().join(", ")
}

fn address_changes(
    pair: &RoutePair<'_>,
    old: &RouteCallers,
    new: &RouteCallers,
    out: &mut Vec<Change>,
) {
    match (addresses(old, Effect::Allow), addresses(new, Effect::Allow)) {
        (Some(before), None) => out.push(pair.change(
            ChangeKind::WeakerAuth,
            format!(
                "clients are no longer limited to addresses [{}]",
                joined(&before)
            ),
        )),
        (None, Some(after)) => out.push(pair.change(
            ChangeKind::StrongerAuth,
            format!("clients are now limited to addresses [{}]", joined(&after)),
        )),
        (Some(before), Some(after)) => {
            let added: BTreeSet<&str> = after.difference(&before).copied().collect();
            let removed: BTreeSet<&str> = before.difference(&after).copied().collect();
            if !added.is_empty() {
                out.push(pair.change(
                    ChangeKind::WeakerAuth,
                    format!("clients from [{}] are now admitted", joined(&added)),
                ));
            }
            if !removed.is_empty() {
                out.push(pair.change(
                    ChangeKind::StrongerAuth,
                    format!("clients from [{}] are no longer admitted", joined(&removed)),
                ));
            }
        }
        (None, None) => {}
    }
    let before = addresses(old, Effect::Deny).unwrap_or_default();
    let after = addresses(new, Effect::Deny).unwrap_or_default();
    let unblocked: BTreeSet<&str> = before.difference(&after).copied().collect();
    let blocked: BTreeSet<&str> = after.difference(&before).copied().collect();
    if !unblocked.is_empty() {
        out.push(pair.change(
            ChangeKind::WeakerAuth,
            format!(
                "clients from [{}] are no longer refused",
                joined(&unblocked)
            ),
        ));
    }
    if !blocked.is_empty() {
        out.push(pair.change(
            ChangeKind::StrongerAuth,
            format!("clients from [{}] are now refused", joined(&blocked)),
        ));
    }
}

/// One rate limit: requests per period, bucket, counted where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rate {
    count: u64,
    period_ms: u64,
    burst: u64,
    shared: bool,
    /// What a shared limit does when Redis cannot answer.
    on_store_failure: StoreFailure,
}

/// How strictly a fail mode limits while Redis is down (open lets everything through).
fn failure_strictness(mode: StoreFailure) -> u8 {
    match mode {
        StoreFailure::Open => 0,
        StoreFailure::Local => 1,
        StoreFailure::Closed => 2,
    }
}

impl Rate {
    fn describe(&self, per: meshwork_bundle::RateLimitKey) -> String {
        format!(
            "{}{}{}{}",
            describe_rate(self.count, self.period_ms, per),
            if self.burst != self.count {
                format!(" (burst {})", self.burst)
            } else {
                String::new()
            },
            if self.shared { " across instances" } else { "" },
            if self.shared && !self.on_store_failure.is_local() {
                format!(" (fails {} without Redis)", self.on_store_failure.as_str())
            } else {
                String::new()
            }
        )
    }

    /// Whether this rate lets more requests through than `other` in some respect.
    fn looser_than(&self, other: &Rate) -> bool {
        let faster = u128::from(self.count) * u128::from(other.period_ms)
            > u128::from(other.count) * u128::from(self.period_ms);
        // A limit counted per instance lets each of N instances admit the whole rate.
        // A shared limit that fails more openly admits more while Redis is down.
        let opener = self.shared
            && other.shared
            && failure_strictness(self.on_store_failure)
                < failure_strictness(other.on_store_failure);
        faster || self.burst > other.burst || (other.shared && !self.shared) || opener
    }
}

fn rates(callers: &RouteCallers) -> Vec<(meshwork_bundle::RateLimitKey, Rate)> {
    callers
        .qualifiers
        .iter()
        .filter_map(|q| match q {
            Qualifier::RateLimit {
                count,
                period_ms,
                per,
                burst,
                shared,
                on_store_failure,
                ..
            } => Some((
                *per,
                Rate {
                    count: *count,
                    period_ms: *period_ms,
                    burst: burst.unwrap_or(*count),
                    shared: *shared,
                    on_store_failure: *on_store_failure,
                },
            )),
            _ => None,
        })
        .collect()
}

fn body_limit(callers: &RouteCallers) -> Option<u64> {
    callers
        .qualifiers
        .iter()
        .filter_map(|q| match q {
            Qualifier::BodyLimit { max_bytes, .. } => Some(*max_bytes),
            _ => None,
        })
        .min()
}

fn limit_changes(
    pair: &RoutePair<'_>,
    old: &RouteCallers,
    new: &RouteCallers,
    out: &mut Vec<Change>,
) {
    let (before, after) = (rates(old), rates(new));
    for (per, old_rate) in &before {
        match after.iter().find(|(p, _)| p == per) {
            None => out.push(pair.change(
                ChangeKind::WeakerLimits,
                format!("rate limit {} removed", old_rate.describe(*per)),
            )),
            Some((_, new_rate)) if new_rate != old_rate => {
                let kind = if new_rate.looser_than(old_rate) {
                    ChangeKind::WeakerLimits
                } else {
                    ChangeKind::StrongerLimits
                };
                out.push(pair.change(
                    kind,
                    format!(
                        "rate limit {} → {}",
                        old_rate.describe(*per),
                        new_rate.describe(*per)
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    for (per, new_rate) in &after {
        if !before.iter().any(|(p, _)| p == per) {
            out.push(pair.change(
                ChangeKind::StrongerLimits,
                format!("rate limit {} added", new_rate.describe(*per)),
            ));
        }
    }
    match (body_limit(old), body_limit(new)) {
        (Some(before), None) => out.push(pair.change(
            ChangeKind::WeakerLimits,
            format!("body limit of {before} bytes removed"),
        )),
        (None, Some(after)) => out.push(pair.change(
            ChangeKind::StrongerLimits,
            format!("body limit of {after} bytes added"),
        )),
        (Some(before), Some(after)) if before != after => out.push(pair.change(
            if after > before {
                ChangeKind::WeakerLimits
            } else {
                ChangeKind::StrongerLimits
            },
            format!("body limit {before} → {after} bytes"),
        )),
        _ => {}
    }
}

/// The CORS settings of a route that decide what browsers may do.
#[derive(Debug, PartialEq, Eq)]
struct CorsSettings<'b> {
    origins: BTreeSet<&'b str>,
    methods: BTreeSet<&'b str>,
    headers: BTreeSet<&'b str>,
    credentials: bool,
}

fn cors(route: &Route) -> Option<CorsSettings<'_>> {
    route.admission.iter().find_map(|step| match step {
        AdmissionStep::Cors {
            origins,
            methods,
            headers,
            credentials,
            ..
        } => Some(CorsSettings {
            origins: origins.iter().map(String::as_str).collect(),
            methods: methods.iter().map(String::as_str).collect(),
            headers: headers.iter().map(String::as_str).collect(),
            credentials: *credentials,
        }),
        _ => None,
    })
}

/// Whether `after` allows something `before` does not (`*` allows everything; an empty method
/// list allows whatever is asked).
fn widens(before: &BTreeSet<&str>, after: &BTreeSet<&str>, empty_is_any: bool) -> bool {
    let any = |set: &BTreeSet<&str>| set.contains("*") || (empty_is_any && set.is_empty());
    if any(before) {
        return false;
    }
    any(after) || !after.is_subset(before)
}

fn cors_changes(pair: &RoutePair<'_>, out: &mut Vec<Change>) {
    match (cors(pair.old), cors(pair.new)) {
        (None, Some(after)) => out.push(pair.change(
            ChangeKind::WeakerAuth,
            format!(
                "browsers may now call it cross-origin from [{}]",
                joined(&after.origins)
            ),
        )),
        (Some(_), None) => out.push(pair.change(
            ChangeKind::StrongerAuth,
            "cross-origin calls from browsers are no longer allowed".to_string(),
        )),
        (Some(before), Some(after)) if before != after => {
            let wider = widens(&before.origins, &after.origins, false)
                || widens(&before.methods, &after.methods, true)
                || widens(&before.headers, &after.headers, false)
                || (!before.credentials && after.credentials);
            out.push(pair.change(
                if wider {
                    ChangeKind::WeakerAuth
                } else {
                    ChangeKind::StrongerAuth
                },
                format!(
                    "CORS origins [{}]{} → [{}]{}",
                    joined(&before.origins),
                    if before.credentials {
                        " with credentials"
                    } else {
                        ""
                    },
                    joined(&after.origins),
                    if after.credentials {
                        " with credentials"
                    } else {
                        ""
                    }
                ),
            ));
        }
        _ => {}
    }
}

fn header_rules(route: &Route) -> Vec<String> {
    route
        .admission
        .iter()
        .filter_map(|step| match step {
            AdmissionStep::Header {
                direction,
                name,
                value,
                ..
            } => Some(describe_header_rule(*direction, name, value.as_deref())),
            _ => None,
        })
        .collect()
}

fn header_changes(pair: &RoutePair<'_>, out: &mut Vec<Change>) {
    let (before, after) = (header_rules(pair.old), header_rules(pair.new));
    if before != after {
        let show = |rules: &[String]| {
            if rules.is_empty() {
                "none".to_string()
            } else {
                rules.join("; ")
            }
        };
        out.push(pair.change(
            ChangeKind::Headers,
            format!("header rules: {} → {}", show(&before), show(&after)),
        ));
    }
}
