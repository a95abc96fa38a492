//! SPIFFE IDs (`spiffe://<trust-domain>/<path>`), validated by the rules of the SPIFFE ID
//! specification so that two spellings of one identity cannot both pass: a lowercase trust domain
//! of `[a-z0-9._-]`, path segments of `[A-Za-z0-9._-]`, no empty, `.` or `..` segment, no port,
//! user, query or fragment, at most 2048 bytes.

use std::fmt;
use std::str::FromStr;

const SCHEME: &str = "spiffe://";
const MAX_LEN: usize = 2048;

/// Why a string is not a SPIFFE ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpiffeIdError {
    /// It does not start with `spiffe://`.
    #[error("`{0}` is not a SPIFFE ID: it must start with `spiffe://`")]
    Scheme(String),
    /// The trust domain is empty or holds a character outside `[a-z0-9._-]`.
    #[error("`{0}` has a bad trust domain: use lowercase letters, digits, `.`, `-` and `_` only")]
    TrustDomain(String),
    /// A path segment is empty, `.`, `..` or holds a character outside `[A-Za-z0-9._-]`.
    #[error("`{0}` has a bad path: segments are non-empty, not `.` or `..`, of letters, digits, `.`, `-` and `_`")]
    Path(String),
    /// Longer than the 2048 bytes the specification allows.
    #[error("a SPIFFE ID is at most 2048 bytes; this one has {0}")]
    TooLong(usize),
}

/// A trust domain name, such as `starfleet` in `spiffe://starfleet/picard`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TrustDomain(String);

impl TrustDomain {
    /// Validates a bare trust domain name (`starfleet`, not `spiffe://starfleet`).
    pub fn new(name: &str) -> Result<Self, SpiffeIdError> {
        if is_trust_domain(name) {
            Ok(TrustDomain(name.to_string()))
        } else {
            Err(SpiffeIdError::TrustDomain(name.to_string()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SPIFFE ID of a workload in this trust domain: `spiffe://<domain>/<name>`.
    pub fn workload(&self, name: &str) -> Result<SpiffeId, SpiffeIdError> {
        SpiffeId::parse(&format!("{SCHEME}{}/{name}", self.0))
    }

    /// The SPIFFE ID of the trust domain itself (`spiffe://<domain>`), as a CA certificate
    /// carries it.
    pub fn id(&self) -> SpiffeId {
        SpiffeId {
            text: format!("{SCHEME}{}", self.0),
            domain_end: SCHEME.len() + self.0.len(),
        }
    }
}

impl fmt::Display for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated SPIFFE ID.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpiffeId {
    text: String,
    domain_end: usize,
}

impl SpiffeId {
    /// Validates `text` as a SPIFFE ID.
    pub fn parse(text: &str) -> Result<Self, SpiffeIdError> {
        if text.len() > MAX_LEN {
            return Err(SpiffeIdError::TooLong(text.len()));
        }
        let rest = text
            .strip_prefix(SCHEME)
            .ok_or_else(|| SpiffeIdError::Scheme(text.to_string()))?;
        let (domain, path) = match rest.find('/') {
            Some(slash) => rest.split_at(slash),
            None => (rest, ""),
        };
        if !is_trust_domain(domain) {
            return Err(SpiffeIdError::TrustDomain(text.to_string()));
        }
        if !path.is_empty() && !path[1..].split('/').all(is_path_segment) {
            return Err(SpiffeIdError::Path(text.to_string()));
        }
        Ok(SpiffeId {
            text: text.to_string(),
            domain_end: SCHEME.len() + domain.len(),
        })
    }

    /// The whole ID, `spiffe://…`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The trust domain name.
    pub fn trust_domain(&self) -> TrustDomain {
        TrustDomain(self.text[SCHEME.len()..self.domain_end].to_string())
    }

    /// The path (`/picard`), empty for the ID of a trust domain itself.
    pub fn path(&self) -> &str {
        &self.text[self.domain_end..]
    }

    /// Whether this names a workload (has a path) rather than a trust domain.
    pub fn is_workload(&self) -> bool {
        !self.path().is_empty()
    }
}

impl FromStr for SpiffeId {
    type Err = SpiffeIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        SpiffeId::parse(text)
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn is_trust_domain(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

fn is_path_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment != "."
        && segment != ".."
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workload_id_splits_into_trust_domain_and_path() {
        let id = SpiffeId::parse("spiffe://starfleet/ns/bridge/picard").unwrap();
        assert_eq!(id.trust_domain().as_str(), "starfleet");
        assert_eq!(id.path(), "/ns/bridge/picard");
        assert!(id.is_workload());
        let domain = SpiffeId::parse("spiffe://starfleet").unwrap();
        assert!(!domain.is_workload());
        assert_eq!(domain, TrustDomain::new("starfleet").unwrap().id());
    }

    #[test]
    fn spellings_the_specification_forbids_are_refused() {
        for bad in [
            "https://starfleet/picard",
            "SPIFFE://starfleet/picard",
            "spiffe://",
            "spiffe://Starfleet/picard",
            "spiffe://starfleet:443/picard",
            "spiffe://user@starfleet/picard",
            "spiffe://starfleet/",
            "spiffe://starfleet//picard",
            "spiffe://starfleet/./picard",
            "spiffe://starfleet/../picard",
            "spiffe://starfleet/picard?x=1",
            "spiffe://starfleet/picard#x",
            "spiffe://starfleet/pi card",
            "spiffe://starfleet/picärd",
        ] {
            assert!(SpiffeId::parse(bad).is_err(), "{bad} was accepted");
        }
        let long = format!("spiffe://starfleet/{}", "a".repeat(2040));
        assert_eq!(SpiffeId::parse(&long), Err(SpiffeIdError::TooLong(2059)));
    }

    #[test]
    fn a_trust_domain_builds_workload_ids() {
        let domain = TrustDomain::new("starfleet").unwrap();
        assert_eq!(
            domain.workload("picard").unwrap().as_str(),
            "spiffe://starfleet/picard"
        );
        assert!(domain.workload("pi/../card").is_err());
        assert!(TrustDomain::new("star fleet").is_err());
        assert!(TrustDomain::new("").is_err());
    }
}
