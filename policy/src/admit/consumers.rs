//! The consumers of one gateway and their credentials, indexed once at load and shared by the
//! gateway's routes: API key → consumer, basic user → consumer, JWT subject → consumer.
//!
//! Keys are found without scanning consumers and without comparing secret bytes in variable
//! time: the index is keyed by a hash of each key under a per-process random seed (so neither
//! bucket nor timing tells an attacker anything about a key), and every comparison of key bytes
//! is constant-time ([`subtle`]).

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::Arc;

use cel::common::types::{CelList, CelString};
use cel::common::value::Val;
use meshwork_bundle::{Credential, Gateway, SourceLocation};
use subtle::ConstantTimeEq;

use super::error::{at, AdmitBuildError};
use crate::secrets::{describe_secret, Secret, SecretStore};

/// The index of a consumer in its gateway's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConsumerId(pub(crate) usize);

impl ConsumerId {
    /// The position of the consumer in [`ConsumerDirectory::consumers`] (bundle order).
    pub fn index(self) -> usize {
        self.0
    }
}

/// One known client of a gateway, as admission and CEL see it.
#[derive(Debug)]
pub struct ConsumerEntry {
    id: ConsumerId,
    name: Arc<str>,
    groups: Vec<String>,
    source: SourceLocation,
    cel_name: CelString<'static>,
    cel_groups: CelList<'static>,
}

impl ConsumerEntry {
    /// The consumer's index.
    pub fn id(&self) -> ConsumerId {
        self.id
    }

    /// The consumer's name (`consumer.name`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The consumer's name, shared (for records that outlive the request).
    pub fn shared_name(&self) -> &Arc<str> {
        &self.name
    }

    /// The consumer's groups, sorted (`consumer.groups`).
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// Whether the consumer belongs to `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups
            .binary_search_by(|g| g.as_str().cmp(group))
            .is_ok()
    }

    /// Where the consumer was declared.
    pub fn source(&self) -> &SourceLocation {
        &self.source
    }

    pub(crate) fn cel_name(&self) -> &CelString<'static> {
        &self.cel_name
    }

    pub(crate) fn cel_groups(&self) -> &CelList<'static> {
        &self.cel_groups
    }
}

/// A credential's owner and the secret to confirm it with.
#[derive(Debug)]
struct Owned {
    consumer: ConsumerId,
    secret: Secret,
}

/// Hashes the index's keys, which are already hashes of API keys under the process's random
/// seed: hashing them again would add nothing but work on every request.
#[derive(Debug, Default)]
struct SeededHash(u64);

impl Hasher for SeededHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64`s are hashed here; other input is folded in all the same.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Every consumer of one gateway with its credentials indexed.
#[derive(Debug)]
pub struct ConsumerDirectory {
    gateway: String,
    consumers: Vec<ConsumerEntry>,
    by_name: HashMap<String, ConsumerId>,
    key_seed: RandomState,
    keys: HashMap<u64, Vec<Owned>, BuildHasherDefault<SeededHash>>,
    basic: HashMap<String, Owned>,
    jwt_subjects: HashMap<String, ConsumerId>,
}

impl ConsumerDirectory {
    /// Indexes `gateway`'s consumers with their secrets from `secrets`. Two consumers sharing a
    /// key, a basic user or a JWT subject make the load fail (a caller would be ambiguous).
    pub fn build(gateway: &Gateway, secrets: &SecretStore) -> Result<Self, AdmitBuildError> {
        let mut directory = ConsumerDirectory {
            gateway: gateway.name.clone(),
            consumers: Vec::with_capacity(gateway.consumers.len()),
            by_name: HashMap::new(),
            key_seed: RandomState::new(),
            keys: HashMap::default(),
            basic: HashMap::new(),
            jwt_subjects: HashMap::new(),
        };
        for consumer in &gateway.consumers {
            let id = ConsumerId(directory.consumers.len());
            let mut groups = consumer.groups.clone();
            groups.sort();
            groups.dedup();
            let cel_groups: Vec<Box<dyn Val>> = groups
                .iter()
                .map(|g| Box::new(CelString::from(g.clone())) as Box<dyn Val>)
                .collect();
            directory.consumers.push(ConsumerEntry {
                id,
                name: consumer.name.as_str().into(),
                groups,
                source: consumer.source.clone(),
                cel_name: CelString::from(consumer.name.clone()),
                cel_groups: CelList::from(cel_groups),
            });
            directory.by_name.insert(consumer.name.clone(), id);
            for credential in &consumer.credentials {
                directory.index_credential(id, credential, secrets, &consumer.source)?;
            }
        }
        Ok(directory)
    }

    fn index_credential(
        &mut self,
        id: ConsumerId,
        credential: &Credential,
        secrets: &SecretStore,
        source: &SourceLocation,
    ) -> Result<(), AdmitBuildError> {
        let secret_of = |reference| {
            secrets
                .require(reference)
                .cloned()
                .map_err(|error| AdmitBuildError::Secret {
                    at: at(source),
                    reference: describe_secret(reference),
                    source: error,
                })
        };
        let (kind, previous) = match credential {
            Credential::Key { secret } => {
                let secret = secret_of(secret)?;
                let bucket = self
                    .keys
                    .entry(self.key_seed.hash_one(secret.expose()))
                    .or_default();
                let previous = bucket
                    .iter()
                    .find(|o| o.secret.expose() == secret.expose())
                    .map(|o| o.consumer);
                if previous.is_none() {
                    bucket.push(Owned {
                        consumer: id,
                        secret,
                    });
                }
                ("API key", previous)
            }
            Credential::Basic { user, password } => {
                let secret = secret_of(password)?;
                let previous = self.basic.insert(
                    user.clone(),
                    Owned {
                        consumer: id,
                        secret,
                    },
                );
                ("basic user", previous.map(|p| p.consumer))
            }
            Credential::Jwt { subject } => {
                let previous = self.jwt_subjects.insert(subject.clone(), id);
                ("JWT subject", previous)
            }
        };
        match previous {
            Some(first) if first != id => Err(AdmitBuildError::SharedCredential {
                at: at(source),
                gateway: self.gateway.clone(),
                kind,
                first: self.consumers[first.0].name.to_string(),
                second: self.consumers[id.0].name.to_string(),
            }),
            _ => Ok(()),
        }
    }

    /// The gateway's name.
    pub fn gateway(&self) -> &str {
        &self.gateway
    }

    /// Every consumer, in bundle order (the index is the [`ConsumerId`]).
    pub fn consumers(&self) -> &[ConsumerEntry] {
        &self.consumers
    }

    /// The consumer with this id.
    pub fn get(&self, id: ConsumerId) -> &ConsumerEntry {
        &self.consumers[id.0]
    }

    /// The consumer named `name`.
    pub fn by_name(&self, name: &str) -> Option<&ConsumerEntry> {
        self.by_name.get(name).map(|id| self.get(*id))
    }

    /// The consumer whose API key is `presented`.
    pub fn by_key(&self, presented: &[u8]) -> Option<&ConsumerEntry> {
        let bucket = self.keys.get(&self.key_seed.hash_one(presented))?;
        let mut found = None;
        for owned in bucket {
            if bool::from(owned.secret.expose().ct_eq(presented)) {
                found = Some(owned.consumer);
            }
        }
        found.map(|id| self.get(id))
    }

    /// The consumer whose basic credentials are `user` and `password`. An unknown user costs the
    /// same comparison as a known one, so timing does not tell which users exist.
    pub fn by_basic(&self, user: &str, password: &[u8]) -> Option<&ConsumerEntry> {
        match self.basic.get(user) {
            Some(owned) => {
                bool::from(owned.secret.expose().ct_eq(password)).then(|| self.get(owned.consumer))
            }
            None => {
                let _ = password.ct_eq(password);
                None
            }
        }
    }

    /// The consumer a JWT's `sub` claim names.
    pub fn by_jwt_subject(&self, subject: &str) -> Option<&ConsumerEntry> {
        self.jwt_subjects.get(subject).map(|id| self.get(*id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshwork_bundle::{Consumer, SecretRef};

    fn loc() -> SourceLocation {
        SourceLocation {
            file: "edge.mesh".into(),
            line: 3,
            column: 3,
        }
    }

    fn consumer(name: &str, credentials: Vec<Credential>, groups: &[&str]) -> Consumer {
        Consumer {
            name: name.into(),
            credentials,
            groups: groups.iter().map(|g| g.to_string()).collect(),
            source: loc(),
        }
    }

    fn gateway(consumers: Vec<Consumer>) -> Gateway {
        Gateway {
            name: "edge".into(),
            listeners: Vec::new(),
            consumers,
            routes: Vec::new(),
            path_policy: Default::default(),
            method_mismatch: Default::default(),
            identity: None,
            tracing: None,
            source: loc(),
        }
    }

    fn key(name: &str) -> Credential {
        Credential::Key {
            secret: SecretRef::Env(name.into()),
        }
    }

    fn store(pairs: &[(&str, &str)]) -> SecretStore {
        let mut store = SecretStore::new();
        for (name, value) in pairs {
            store.insert(
                &SecretRef::Env(name.to_string()),
                Secret::new(value.as_bytes().to_vec()),
            );
        }
        store
    }

    #[test]
    fn key_finds_its_consumer_and_a_wrong_key_finds_none() {
        let gateway = gateway(vec![
            consumer("picard", vec![key("PICARD")], &["captains"]),
            consumer("riker", vec![key("RIKER")], &["officers"]),
        ]);
        let directory =
            ConsumerDirectory::build(&gateway, &store(&[("PICARD", "p-key"), ("RIKER", "r-key")]))
                .unwrap();
        assert_eq!(directory.by_key(b"r-key").unwrap().name(), "riker");
        assert_eq!(directory.by_key(b"p-key").unwrap().name(), "picard");
        assert!(directory.by_key(b"p-ke").is_none());
        assert!(directory.by_key(b"").is_none());
    }

    #[test]
    fn two_consumers_with_one_key_are_refused() {
        let gateway = gateway(vec![
            consumer("picard", vec![key("A")], &[]),
            consumer("riker", vec![key("B")], &[]),
        ]);
        let error = ConsumerDirectory::build(&gateway, &store(&[("A", "same"), ("B", "same")]))
            .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("picard") && message.contains("riker"),
            "{message}"
        );
        assert!(!message.contains("same"), "never print a secret: {message}");
    }

    #[test]
    fn basic_needs_the_right_password() {
        let gateway = gateway(vec![consumer(
            "picard",
            vec![Credential::Basic {
                user: "jl".into(),
                password: SecretRef::Env("PW".into()),
            }],
            &[],
        )]);
        let directory = ConsumerDirectory::build(&gateway, &store(&[("PW", "tea")])).unwrap();
        assert_eq!(directory.by_basic("jl", b"tea").unwrap().name(), "picard");
        assert!(directory.by_basic("jl", b"coffee").is_none());
        assert!(directory.by_basic("q", b"tea").is_none());
    }

    #[test]
    fn groups_are_sorted_and_searchable() {
        let gateway = gateway(vec![consumer(
            "data",
            vec![Credential::Jwt {
                subject: "soong".into(),
            }],
            &["officers", "androids", "officers"],
        )]);
        let directory = ConsumerDirectory::build(&gateway, &SecretStore::new()).unwrap();
        let data = directory.by_jwt_subject("soong").unwrap();
        assert_eq!(data.groups(), ["androids", "officers"]);
        assert!(data.in_group("androids"));
        assert!(!data.in_group("captains"));
    }

    #[test]
    fn missing_secret_names_the_reference() {
        let gateway = gateway(vec![consumer("picard", vec![key("PICARD_KEY")], &[])]);
        let error = ConsumerDirectory::build(&gateway, &SecretStore::new()).unwrap_err();
        assert!(
            error.to_string().contains(r#"env("PICARD_KEY")"#),
            "{error}"
        );
    }
}
