//! SPIFFE IDs (`spiffe://<trust-domain>/<path>`), the form of every mesh identity, checked by the
//! rules of the SPIFFE ID specification (spiffe/spiffe, `standards/SPIFFE-ID.md`) so that an
//! identity the compiler accepts is one a certificate can carry and a peer can be matched
//! against: a lowercase trust domain of `[a-z0-9._-]` without port or user, path segments of
//! `[A-Za-z0-9._-]` (none empty, `.` or `..`, no trailing `/`), no query or fragment, at most 2048
//! bytes. Shared by `meshc` (which refuses a bad identity with its location) and anything in the
//! runtime that reads identities from a bundle.

/// The parts of a valid SPIFFE ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpiffeIdParts<'a> {
    /// `starfleet` in `spiffe://starfleet/picard`.
    pub trust_domain: &'a str,
    /// `/picard`; empty for the ID of a trust domain itself.
    pub path: &'a str,
}

/// Why a string is not a SPIFFE ID, with the byte offset where the problem starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpiffeIdProblem {
    /// It does not start with `spiffe://` (lowercase).
    #[error("a SPIFFE ID starts with `spiffe://`")]
    Scheme,
    /// The trust domain is empty.
    #[error("the trust domain is empty")]
    EmptyTrustDomain,
    /// A character of the trust domain is not `[a-z0-9._-]` (upper case, `:` of a port, `@`…).
    #[error("a trust domain is lowercase letters, digits, `.`, `-` and `_` (no port, user or upper case)")]
    TrustDomainCharacter { at: usize },
    /// A path segment is empty (`//` or a trailing `/`), `.` or `..`.
    #[error("a path segment may not be empty, `.` or `..` (nor may the path end with `/`)")]
    PathSegment { at: usize },
    /// A character of the path is not `[A-Za-z0-9._-]` (`%`, `?`, `#`, spaces…).
    #[error("a path is letters, digits, `.`, `-` and `_` between `/` (no percent-encoding, query or fragment)")]
    PathCharacter { at: usize },
    /// Longer than the specification allows.
    #[error("a SPIFFE ID is at most 2048 bytes")]
    TooLong,
}

impl SpiffeIdProblem {
    /// Where in the ID the problem starts.
    pub fn offset(&self) -> usize {
        match self {
            SpiffeIdProblem::Scheme | SpiffeIdProblem::TooLong => 0,
            SpiffeIdProblem::EmptyTrustDomain => SCHEME.len(),
            SpiffeIdProblem::TrustDomainCharacter { at }
            | SpiffeIdProblem::PathSegment { at }
            | SpiffeIdProblem::PathCharacter { at } => *at,
        }
    }
}

/// `spiffe://`.
pub const SCHEME: &str = "spiffe://";
/// The longest SPIFFE ID the specification allows, in bytes.
pub const MAX_LEN: usize = 2048;

/// Checks `text` as a SPIFFE ID and splits it.
pub fn parse_spiffe_id(text: &str) -> Result<SpiffeIdParts<'_>, SpiffeIdProblem> {
    if text.len() > MAX_LEN {
        return Err(SpiffeIdProblem::TooLong);
    }
    let rest = text.strip_prefix(SCHEME).ok_or(SpiffeIdProblem::Scheme)?;
    let (trust_domain, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    check_trust_domain(trust_domain).map_err(|problem| match problem {
        SpiffeIdProblem::TrustDomainCharacter { at } => SpiffeIdProblem::TrustDomainCharacter {
            at: at + SCHEME.len(),
        },
        other => other,
    })?;
    let mut at = SCHEME.len() + trust_domain.len();
    if !path.is_empty() {
        for segment in path[1..].split('/') {
            at += 1;
            if segment.is_empty() || segment == "." || segment == ".." {
                return Err(SpiffeIdProblem::PathSegment { at });
            }
            if let Some(bad) = segment
                .bytes()
                .position(|b| !(b.is_ascii_alphanumeric() || b"._-".contains(&b)))
            {
                return Err(SpiffeIdProblem::PathCharacter { at: at + bad });
            }
            at += segment.len();
        }
    }
    Ok(SpiffeIdParts { trust_domain, path })
}

/// Checks a bare trust domain name (`starfleet`, not `spiffe://starfleet`); offsets are in `name`.
pub fn check_trust_domain(name: &str) -> Result<(), SpiffeIdProblem> {
    if name.is_empty() {
        return Err(SpiffeIdProblem::EmptyTrustDomain);
    }
    match name
        .bytes()
        .position(|b| !(b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)))
    {
        Some(at) => Err(SpiffeIdProblem::TrustDomainCharacter { at }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_and_trust_domain_ids_parse() {
        assert_eq!(
            parse_spiffe_id("spiffe://starfleet/picard"),
            Ok(SpiffeIdParts {
                trust_domain: "starfleet",
                path: "/picard"
            })
        );
        assert_eq!(
            parse_spiffe_id("spiffe://fleet.example-1_a/ns/bridge/sa/Data.v2")
                .unwrap()
                .path,
            "/ns/bridge/sa/Data.v2"
        );
        assert_eq!(parse_spiffe_id("spiffe://starfleet").unwrap().path, "");
    }

    #[test]
    fn what_the_specification_forbids_is_refused_where_it_is() {
        use SpiffeIdProblem::*;
        let cases = [
            ("https://starfleet/picard", Scheme),
            ("SPIFFE://starfleet/picard", Scheme),
            ("spiffe:///picard", EmptyTrustDomain),
            ("spiffe://Starfleet/picard", TrustDomainCharacter { at: 9 }),
            (
                "spiffe://starfleet:443/picard",
                TrustDomainCharacter { at: 18 },
            ),
            ("spiffe://user@starfleet/x", TrustDomainCharacter { at: 13 }),
            ("spiffe://starfleet/", PathSegment { at: 19 }),
            ("spiffe://starfleet//picard", PathSegment { at: 19 }),
            ("spiffe://starfleet/a/../picard", PathSegment { at: 21 }),
            ("spiffe://starfleet/pic%41rd", PathCharacter { at: 22 }),
            ("spiffe://starfleet/picard?x=1", PathCharacter { at: 25 }),
            ("spiffe://starfleet/picard#x", PathCharacter { at: 25 }),
        ];
        for (text, problem) in cases {
            assert_eq!(parse_spiffe_id(text), Err(problem), "{text}");
        }
        assert_eq!(PathCharacter { at: 22 }.offset(), 22);
        assert_eq!(EmptyTrustDomain.offset(), SCHEME.len());
        let long = format!("spiffe://starfleet/{}", "a".repeat(MAX_LEN));
        assert_eq!(parse_spiffe_id(&long), Err(TooLong));
    }
}
