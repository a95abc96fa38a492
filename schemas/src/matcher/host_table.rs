//! Route buckets by host: exact hosts, `*.` wildcard suffixes and routes for any host.

use std::collections::HashMap;

use foldhash::fast::FixedState;
use smallvec::SmallVec;

/// How a route's `host` condition is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostKey {
    /// Any host.
    Any,
    /// Exactly this (lower-case) host.
    Exact(Box<str>),
    /// One or more labels in front of this suffix (which starts with `.`).
    Wildcard(Box<str>),
}

impl HostKey {
    /// Parses a route's host; `None` when `*` appears anywhere but as the whole first label.
    pub fn parse(host: Option<&str>) -> Option<HostKey> {
        let Some(host) = host else {
            return Some(HostKey::Any);
        };
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        if host == "*" {
            return Some(HostKey::Any);
        }
        if let Some(suffix) = host.strip_prefix('*') {
            if suffix.len() > 1 && suffix.starts_with('.') && !suffix.contains('*') {
                return Some(HostKey::Wildcard(suffix.into()));
            }
            return None;
        }
        if host.is_empty() || host.contains('*') {
            return None;
        }
        Some(HostKey::Exact(host.into()))
    }
}

/// Values (path indexes) per host bucket.
#[derive(Debug, Clone, Default)]
pub(crate) struct HostTable<T> {
    exact: HashMap<Box<str>, T, FixedState>,
    wildcard: HashMap<Box<str>, T, FixedState>,
    any: T,
}

impl<T: Default> HostTable<T> {
    /// The bucket for `key`, created when missing.
    pub fn bucket_mut(&mut self, key: HostKey) -> &mut T {
        match key {
            HostKey::Any => &mut self.any,
            HostKey::Exact(host) => self.exact.entry(host).or_default(),
            HostKey::Wildcard(suffix) => self.wildcard.entry(suffix).or_default(),
        }
    }

    /// Every bucket, for finishing them after insertion.
    pub fn buckets_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.exact
            .values_mut()
            .chain(self.wildcard.values_mut())
            .chain(std::iter::once(&mut self.any))
    }

    /// Takes every bucket with its key.
    pub fn into_entries(self) -> Vec<(HostKey, T)> {
        let mut entries: Vec<(HostKey, T)> = Vec::new();
        entries.extend(self.exact.into_iter().map(|(k, v)| (HostKey::Exact(k), v)));
        entries.extend(
            self.wildcard
                .into_iter()
                .map(|(k, v)| (HostKey::Wildcard(k), v)),
        );
        entries.push((HostKey::Any, self.any));
        entries
    }

    /// The buckets whose routes can match `host` (already normalized): the exact one, the wildcard
    /// suffixes from longest to shortest, then the any-host bucket.
    pub fn buckets_for(&self, host: &str) -> SmallVec<[&T; 4]> {
        let mut found = SmallVec::new();
        if let Some(bucket) = self.exact.get(host) {
            found.push(bucket);
        }
        if !self.wildcard.is_empty() {
            for (i, _) in host.match_indices('.') {
                // Each suffix starting at a dot, with at least one label before it.
                if i > 0 {
                    if let Some(bucket) = self.wildcard.get(&host[i..]) {
                        found.push(bucket);
                    }
                }
            }
        }
        found.push(&self.any);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parse_into_their_bucket_kind() {
        assert_eq!(HostKey::parse(None), Some(HostKey::Any));
        assert_eq!(HostKey::parse(Some("*")), Some(HostKey::Any));
        assert_eq!(
            HostKey::parse(Some("API.example.com.")),
            Some(HostKey::Exact("api.example.com".into()))
        );
        assert_eq!(
            HostKey::parse(Some("*.example.com")),
            Some(HostKey::Wildcard(".example.com".into()))
        );
    }

    #[test]
    fn misplaced_wildcards_are_refused() {
        for bad in ["a.*.com", "*example.com", "**.a", "a*", "", "*.a.*"] {
            assert_eq!(HostKey::parse(Some(bad)), None, "{bad}");
        }
    }
}
