//! Allow / deny by consumer, group or client address (403 when refused).
//!
//! Consumer and group rules are decided at load into one flag per consumer of the gateway, so a
//! request costs one index. Address rules match the TCP peer's address against CIDR blocks;
//! `X-Forwarded-For` is not trusted, since any client can write it (put meshd behind a proxy
//! that terminates the connection only if the rule is meant for that proxy's address).

use ipnet::IpNet;
use meshwork_bundle::{AccessSubject, Effect, SourceLocation};

use super::consumers::{ConsumerDirectory, ConsumerEntry};
use super::error::{at, AdmitBuildError};
use super::facts::RequestFacts;

/// One access rule, ready to run.
#[derive(Debug)]
pub struct AccessRule {
    effect: Effect,
    listed: Listed,
    description: String,
}

#[derive(Debug)]
enum Listed {
    /// `listed[consumer index]`: the consumer is named, or in a named group.
    Consumers(Vec<bool>),
    /// Client networks.
    Networks(Vec<IpNet>),
}

impl AccessRule {
    /// Prepares a rule listing `values` (consumers, groups or addresses).
    pub fn build(
        effect: Effect,
        subject: AccessSubject,
        values: &[String],
        route: &str,
        source: &SourceLocation,
        directory: &ConsumerDirectory,
    ) -> Result<Self, AdmitBuildError> {
        let listed = match subject {
            AccessSubject::Consumers => {
                let mut listed = vec![false; directory.consumers().len()];
                for name in values {
                    let consumer = directory.by_name(name).ok_or_else(|| {
                        AdmitBuildError::UnknownConsumer {
                            at: at(source),
                            route: route.to_string(),
                            gateway: directory.gateway().to_string(),
                            name: name.clone(),
                        }
                    })?;
                    listed[consumer.id().index()] = true;
                }
                Listed::Consumers(listed)
            }
            AccessSubject::Groups => Listed::Consumers(
                directory
                    .consumers()
                    .iter()
                    .map(|c| values.iter().any(|g| c.in_group(g)))
                    .collect(),
            ),
            AccessSubject::Ips => {
                let nets = values
                    .iter()
                    .map(|value| parse_network(value))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|message| AdmitBuildError::invalid(route, source, message))?;
                Listed::Networks(IpNet::aggregate(&nets))
            }
        };
        let noun = match subject {
            AccessSubject::Consumers => "consumers",
            AccessSubject::Groups => "groups",
            AccessSubject::Ips => "ips",
        };
        Ok(AccessRule {
            effect,
            listed,
            description: format!("{noun} [{}]", values.join(", ")),
        })
    }

    /// `Ok(())` when the caller may pass, else the reason it may not.
    pub fn check(
        &self,
        facts: &RequestFacts<'_>,
        consumer: Option<&ConsumerEntry>,
    ) -> Result<(), String> {
        let is_listed = match &self.listed {
            Listed::Consumers(listed) => consumer.is_some_and(|c| listed[c.id().index()]),
            Listed::Networks(nets) => {
                let ip = facts.client_ip();
                nets.iter().any(|net| net.contains(&ip))
            }
        };
        let who = || match (&self.listed, consumer) {
            (Listed::Networks(_), _) => format!("client {}", facts.client_ip()),
            (Listed::Consumers(_), Some(c)) => format!("consumer {}", c.name()),
            (Listed::Consumers(_), None) => "an anonymous caller".to_string(),
        };
        match (self.effect, is_listed) {
            (Effect::Allow, true) | (Effect::Deny, false) => Ok(()),
            (Effect::Allow, false) => Err(format!(
                "{} is not allowed: the route allows only {}",
                who(),
                self.description
            )),
            (Effect::Deny, true) => Err(format!("{} is denied by {}", who(), self.description)),
        }
    }
}

/// `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a /32 or /128).
fn parse_network(value: &str) -> Result<IpNet, String> {
    value
        .parse::<IpNet>()
        .or_else(|_| value.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{value:?} is not an IP address or CIDR block"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::SecretStore;
    use http::{HeaderMap, Method};
    use meshwork_bundle::{Consumer, Credential, Gateway};

    fn loc() -> SourceLocation {
        SourceLocation {
            file: "edge.mesh".into(),
            line: 9,
            column: 5,
        }
    }

    fn directory() -> ConsumerDirectory {
        let consumer = |name: &str, group: &str| Consumer {
            name: name.into(),
            credentials: vec![Credential::Jwt {
                subject: name.into(),
            }],
            groups: vec![group.into()],
            source: loc(),
        };
        let gateway = Gateway {
            name: "edge".into(),
            listeners: Vec::new(),
            consumers: vec![
                consumer("picard", "captains"),
                consumer("wesley", "ensigns"),
            ],
            routes: Vec::new(),
            path_policy: Default::default(),
            method_mismatch: Default::default(),
            identity: None,
            tracing: None,
            source: loc(),
        };
        ConsumerDirectory::build(&gateway, &SecretStore::new()).unwrap()
    }

    fn check_from(
        rule: &AccessRule,
        addr: &str,
        consumer: Option<&ConsumerEntry>,
    ) -> Result<(), String> {
        let headers = HeaderMap::new();
        let facts = RequestFacts::new(&Method::GET, "/", &headers, addr.parse().unwrap());
        rule.check(&facts, consumer)
    }

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn allow_groups_lets_members_in_and_keeps_others_out() {
        let directory = directory();
        let rule = AccessRule::build(
            Effect::Allow,
            AccessSubject::Groups,
            &strings(&["captains"]),
            "r",
            &loc(),
            &directory,
        )
        .unwrap();
        let picard = directory.by_name("picard");
        let wesley = directory.by_name("wesley");
        assert_eq!(check_from(&rule, "127.0.0.1:1", picard), Ok(()));
        let refusal = check_from(&rule, "127.0.0.1:1", wesley).unwrap_err();
        assert_eq!(
            refusal,
            "consumer wesley is not allowed: the route allows only groups [captains]"
        );
        assert!(check_from(&rule, "127.0.0.1:1", None).is_err());
    }

    #[test]
    fn deny_consumers_refuses_the_listed_one() {
        let directory = directory();
        let rule = AccessRule::build(
            Effect::Deny,
            AccessSubject::Consumers,
            &strings(&["wesley"]),
            "r",
            &loc(),
            &directory,
        )
        .unwrap();
        assert_eq!(
            check_from(&rule, "127.0.0.1:1", directory.by_name("picard")),
            Ok(())
        );
        assert_eq!(
            check_from(&rule, "127.0.0.1:1", directory.by_name("wesley")).unwrap_err(),
            "consumer wesley is denied by consumers [wesley]"
        );
    }

    #[test]
    fn unknown_consumer_in_a_rule_is_a_build_error() {
        let error = AccessRule::build(
            Effect::Allow,
            AccessSubject::Consumers,
            &strings(&["q"]),
            "r",
            &loc(),
            &directory(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("consumer q"), "{error}");
    }

    #[test]
    fn ip_rules_match_cidr_blocks_and_bare_addresses() {
        let directory = directory();
        let allow = AccessRule::build(
            Effect::Allow,
            AccessSubject::Ips,
            &strings(&["10.0.0.0/8", "192.168.1.7", "2001:db8::/32"]),
            "r",
            &loc(),
            &directory,
        )
        .unwrap();
        assert_eq!(check_from(&allow, "10.20.30.40:5", None), Ok(()));
        assert_eq!(check_from(&allow, "192.168.1.7:5", None), Ok(()));
        assert_eq!(check_from(&allow, "[2001:db8::1]:5", None), Ok(()));
        assert_eq!(check_from(&allow, "[::ffff:10.1.1.1]:5", None), Ok(()));
        assert_eq!(
            check_from(&allow, "192.168.1.8:5", None).unwrap_err(),
            "client 192.168.1.8 is not allowed: the route allows only ips [10.0.0.0/8, 192.168.1.7, 2001:db8::/32]"
        );
        let deny = AccessRule::build(
            Effect::Deny,
            AccessSubject::Ips,
            &strings(&["127.0.0.0/8"]),
            "r",
            &loc(),
            &directory,
        )
        .unwrap();
        assert!(check_from(&deny, "127.0.0.1:5", None).is_err());
        assert_eq!(check_from(&deny, "10.0.0.1:5", None), Ok(()));
    }

    #[test]
    fn malformed_cidr_is_a_build_error() {
        let error = AccessRule::build(
            Effect::Allow,
            AccessSubject::Ips,
            &strings(&["10.0.0.0/33"]),
            "r",
            &loc(),
            &directory(),
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("\"10.0.0.0/33\" is not an IP address"),
            "{error}"
        );
    }
}
