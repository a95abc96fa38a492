//! Mesh identities: SPIFFE IDs (`spiffe://<trust domain>/<path>`), the identity a service or
//! gateway gets from the trust domain when it states none, and the directory that maps a
//! verified peer's identity back to the gateway or service it belongs to.

use std::collections::HashMap;

use crate::types::bundle::Bundle;

/// The URI scheme of SPIFFE IDs.
pub const SPIFFE_SCHEME: &str = "spiffe://";

/// The identity of `name` in `trust_domain`: `spiffe://<trust_domain>/<name>`.
pub fn derived_identity(trust_domain: &str, name: &str) -> String {
    format!("{SPIFFE_SCHEME}{trust_domain}/{name}")
}

/// The trust domain of a SPIFFE ID (`starfleet` of `spiffe://starfleet/picard`), or `None` when
/// `identity` is not a SPIFFE ID with a trust domain and a path.
pub fn trust_domain_of(identity: &str) -> Option<&str> {
    let rest = identity.strip_prefix(SPIFFE_SCHEME)?;
    let (domain, path) = rest.split_once('/')?;
    (!domain.is_empty() && !path.is_empty()).then_some(domain)
}

/// Whether `domain` is a valid SPIFFE trust domain name: lower-case letters, digits, `.`, `-`
/// and `_`, not empty (the SPIFFE ID standard, §2.1).
pub fn is_trust_domain_name(domain: &str) -> bool {
    !domain.is_empty()
        && domain.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
        })
}

/// What kind of program member an identity belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    /// A service.
    Service,
    /// A gateway.
    Gateway,
}

/// A program member found by its identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The service's or gateway's name.
    pub name: String,
    /// Which it is.
    pub kind: MemberKind,
}

/// The bundle's identities, looked up by a verified peer's identity. Built once per bundle.
#[derive(Debug, Clone, Default)]
pub struct IdentityDirectory {
    members: HashMap<String, Member>,
}

impl IdentityDirectory {
    /// Every service and gateway of `bundle` that has an identity. Should two share one (the
    /// compiler refuses that), the service wins, then the first by name.
    pub fn build(bundle: &Bundle) -> Self {
        let mut members = HashMap::new();
        let gateways = bundle
            .gateways
            .iter()
            .map(|g| (g.identity.as_ref(), &g.name, MemberKind::Gateway));
        let services = bundle
            .services
            .iter()
            .map(|s| (s.identity.as_ref(), &s.name, MemberKind::Service));
        for (identity, name, kind) in services.chain(gateways) {
            if let Some(identity) = identity {
                members.entry(identity.clone()).or_insert_with(|| Member {
                    name: name.clone(),
                    kind,
                });
            }
        }
        IdentityDirectory { members }
    }

    /// The member presenting `identity`, if any.
    pub fn member(&self, identity: &str) -> Option<&Member> {
        self.members.get(identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::starfleet_bundle;

    #[test]
    fn an_identity_is_derived_from_the_trust_domain_and_parsed_back() {
        let id = derived_identity("starfleet", "picard");
        assert_eq!(id, "spiffe://starfleet/picard");
        assert_eq!(trust_domain_of(&id), Some("starfleet"));
        assert_eq!(trust_domain_of("spiffe://starfleet"), None);
        assert_eq!(trust_domain_of("spiffe:///picard"), None);
        assert_eq!(trust_domain_of("https://starfleet/picard"), None);
    }

    #[test]
    fn trust_domain_names_are_lower_case_dns_like() {
        assert!(is_trust_domain_name("starfleet.test"));
        assert!(is_trust_domain_name("prod_1-eu"));
        assert!(!is_trust_domain_name("Starfleet"));
        assert!(!is_trust_domain_name("a/b"));
        assert!(!is_trust_domain_name(""));
    }

    #[test]
    fn the_directory_finds_services_and_gateways_by_identity() {
        let directory = IdentityDirectory::build(&starfleet_bundle());
        let picard = directory.member("spiffe://starfleet/picard").unwrap();
        assert_eq!(
            (picard.name.as_str(), picard.kind),
            ("picard", MemberKind::Service)
        );
        let edge = directory.member("spiffe://starfleet/edge").unwrap();
        assert_eq!(
            (edge.name.as_str(), edge.kind),
            ("edge", MemberKind::Gateway)
        );
        assert!(directory.member("spiffe://romulus/picard").is_none());
    }
}
