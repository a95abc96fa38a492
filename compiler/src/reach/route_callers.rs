//! Who a route admits, read from its admission steps: no `auth` admits anyone (no caller is
//! identified, so consumer lists can only refuse everyone); `auth` admits the gateway's consumers
//! holding a credential of that kind; `allow`/`deny` by consumer or group narrow the set in
//! order. Address rules, CEL conditions and limits do not name callers: they are kept as
//! [`Qualifier`]s on the answer.

use std::collections::BTreeSet;

use meshwork_bundle::{
    AccessSubject, AdmissionStep, AuthMethod, Consumer, Credential, Effect, Gateway, RateLimitKey,
    Route, SourceLocation, StoreFailure,
};

/// The callers a route lets through its identity checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callers {
    /// Any client, identified or not.
    Anyone,
    /// Only these consumers of the gateway (sorted; empty: nobody).
    Consumers(BTreeSet<String>),
}

impl Callers {
    /// Whether a client without credentials gets through.
    pub fn admits_anonymous(&self) -> bool {
        matches!(self, Callers::Anyone)
    }

    /// Whether the consumer `name` gets through.
    pub fn admits(&self, name: &str) -> bool {
        match self {
            Callers::Anyone => true,
            Callers::Consumers(names) => names.contains(name),
        }
    }

    /// `anyone`, `nobody` or the names joined with `, `.
    pub fn describe(&self) -> String {
        match self {
            Callers::Anyone => "anyone".to_string(),
            Callers::Consumers(names) if names.is_empty() => "nobody".to_string(),
            Callers::Consumers(names) => names.iter().cloned().collect::<Vec<_>>().join(", "),
        }
    }
}

/// A limit on admitted callers that does not name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Qualifier {
    /// Only clients from (`Allow`) or not from (`Deny`) these addresses or blocks.
    Addresses {
        effect: Effect,
        values: Vec<String>,
        source: SourceLocation,
    },
    /// Only when the CEL condition holds.
    Condition { cel: String, source: SourceLocation },
    /// At most `count` per `period_ms` (bucket `burst`) per `per`.
    RateLimit {
        count: u64,
        period_ms: u64,
        per: RateLimitKey,
        burst: Option<u64>,
        shared: bool,
        /// What a shared limit does when Redis cannot answer.
        on_store_failure: StoreFailure,
        source: SourceLocation,
    },
    /// Bodies up to `max_bytes`.
    BodyLimit {
        max_bytes: u64,
        source: SourceLocation,
    },
}

impl Qualifier {
    /// A short description (`only from 10.0.0.0/8`, `when …`, `at most 5/min per consumer`).
    pub fn describe(&self) -> String {
        match self {
            Qualifier::Addresses { effect, values, .. } => format!(
                "{} [{}]",
                match effect {
                    Effect::Allow => "only from",
                    Effect::Deny => "not from",
                },
                values.join(", ")
            ),
            Qualifier::Condition { cel, .. } => format!("when {cel}"),
            Qualifier::RateLimit {
                count,
                period_ms,
                per,
                burst,
                shared,
                ..
            } => format!(
                "at most {}{}{}",
                describe_rate(*count, *period_ms, *per),
                burst.map(|b| format!(" (burst {b})")).unwrap_or_default(),
                if *shared { " across instances" } else { "" }
            ),
            Qualifier::BodyLimit { max_bytes, .. } => format!("bodies up to {max_bytes} bytes"),
        }
    }

    /// Where the rule was written.
    pub fn source(&self) -> &SourceLocation {
        match self {
            Qualifier::Addresses { source, .. }
            | Qualifier::Condition { source, .. }
            | Qualifier::RateLimit { source, .. }
            | Qualifier::BodyLimit { source, .. } => source,
        }
    }
}

/// `5/min per consumer`, `100/s per client address`, `10/250ms for the route`.
pub fn describe_rate(count: u64, period_ms: u64, per: RateLimitKey) -> String {
    let period = match period_ms {
        1_000 => "s".to_string(),
        60_000 => "min".to_string(),
        3_600_000 => "h".to_string(),
        86_400_000 => "day".to_string(),
        ms if ms % 1_000 == 0 => format!("{}s", ms / 1_000),
        ms => format!("{ms}ms"),
    };
    let per = match per {
        RateLimitKey::Consumer => "per consumer",
        RateLimitKey::Ip => "per client address",
        RateLimitKey::Route => "for the route",
    };
    format!("{count}/{period} {per}")
}

/// What a route's admission says about its callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteCallers {
    /// Who gets through auth and the consumer and group lists.
    pub callers: Callers,
    /// The route's authentication, if any.
    pub auth: Option<AuthMethod>,
    /// The other limits, in admission order.
    pub qualifiers: Vec<Qualifier>,
}

impl RouteCallers {
    /// `key auth`, `JWT auth`, `basic auth` or `no auth`.
    pub fn auth_name(&self) -> &'static str {
        auth_name(self.auth.as_ref())
    }
}

/// The name of an auth method for people (`no auth` for `None`).
pub fn auth_name(auth: Option<&AuthMethod>) -> &'static str {
    match auth {
        None => "no auth",
        Some(AuthMethod::Key { .. }) => "API key",
        Some(AuthMethod::Basic { .. }) => "basic auth",
        Some(AuthMethod::Jwt { .. }) => "JWT",
    }
}

fn can_authenticate(consumer: &Consumer, method: &AuthMethod) -> bool {
    consumer.credentials.iter().any(|credential| {
        matches!(
            (credential, method),
            (Credential::Key { .. }, AuthMethod::Key { .. })
                | (Credential::Basic { .. }, AuthMethod::Basic { .. })
                | (Credential::Jwt { .. }, AuthMethod::Jwt { .. })
        )
    })
}

/// The callers of `route` of `gateway`.
pub fn route_callers(gateway: &Gateway, route: &Route) -> RouteCallers {
    let mut auth = None;
    let mut callers = Callers::Anyone;
    let mut qualifiers = Vec::new();
    for step in &route.admission {
        match step {
            AdmissionStep::Auth { method, .. } => {
                callers = Callers::Consumers(
                    gateway
                        .consumers
                        .iter()
                        .filter(|c| can_authenticate(c, method))
                        .map(|c| c.name.clone())
                        .collect(),
                );
                auth = Some(method.clone());
            }
            AdmissionStep::Access {
                effect,
                subject: AccessSubject::Ips,
                values,
                source,
            } => qualifiers.push(Qualifier::Addresses {
                effect: *effect,
                values: values.clone(),
                source: source.clone(),
            }),
            AdmissionStep::Access {
                effect,
                subject,
                values,
                ..
            } => {
                let listed = |consumer: &Consumer| match subject {
                    AccessSubject::Consumers => values.contains(&consumer.name),
                    _ => consumer.groups.iter().any(|g| values.contains(g)),
                };
                callers = match (effect, callers) {
                    // Nobody is identified without auth: an allow list lets no one in, a deny
                    // list refuses no one.
                    (Effect::Allow, Callers::Anyone) => Callers::Consumers(BTreeSet::new()),
                    (Effect::Deny, Callers::Anyone) => Callers::Anyone,
                    (effect, Callers::Consumers(mut names)) => {
                        names.retain(|name| {
                            let consumer = gateway.consumers.iter().find(|c| &c.name == name);
                            let is_listed = consumer.is_some_and(listed);
                            is_listed == (*effect == Effect::Allow)
                        });
                        Callers::Consumers(names)
                    }
                };
            }
            AdmissionStep::RateLimit {
                count,
                period_ms,
                per,
                burst,
                shared,
                on_store_failure,
                source,
            } => qualifiers.push(Qualifier::RateLimit {
                count: *count,
                period_ms: *period_ms,
                per: *per,
                burst: *burst,
                shared: *shared,
                on_store_failure: *on_store_failure,
                source: source.clone(),
            }),
            AdmissionStep::Condition { cel, source } => qualifiers.push(Qualifier::Condition {
                cel: cel.clone(),
                source: source.clone(),
            }),
            AdmissionStep::BodyLimit { max_bytes, source } => {
                qualifiers.push(Qualifier::BodyLimit {
                    max_bytes: *max_bytes,
                    source: source.clone(),
                })
            }
            // A fault changes answers, not who may call.
            AdmissionStep::Cors { .. }
            | AdmissionStep::Header { .. }
            | AdmissionStep::Fault { .. } => {}
        }
    }
    RouteCallers {
        callers,
        auth,
        qualifiers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshwork_bundle::sample::starfleet_bundle;

    #[test]
    fn key_auth_and_a_group_list_admit_only_members_with_a_key() {
        let bundle = starfleet_bundle();
        let gateway = &bundle.gateways[0];
        let officers = &gateway.routes[0];
        let answer = route_callers(gateway, officers);
        // riker is an officer but signs in with a JWT, which this route does not read.
        assert_eq!(answer.callers.describe(), "picard");
        assert_eq!(answer.auth_name(), "API key");
        let described: Vec<String> = answer.qualifiers.iter().map(Qualifier::describe).collect();
        assert_eq!(
            described,
            [
                "at most 5/min per consumer",
                "when request.headers[\"x-stardate\"] != \"\"",
                "bodies up to 1048576 bytes"
            ]
        );
    }

    #[test]
    fn a_route_without_auth_admits_anyone_and_an_allow_list_then_admits_nobody() {
        let bundle = starfleet_bundle();
        let gateway = &bundle.gateways[0];
        let mut ping = gateway.routes[2].clone();
        assert!(route_callers(gateway, &ping).callers.admits_anonymous());
        ping.admission.push(AdmissionStep::Access {
            effect: Effect::Allow,
            subject: AccessSubject::Consumers,
            values: vec!["picard".to_string()],
            source: ping.source.clone(),
        });
        assert_eq!(route_callers(gateway, &ping).callers.describe(), "nobody");
    }
}
