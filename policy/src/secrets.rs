//! Secrets: the bundle names them (`env("…")`, `file("…")`), the runtime reads them once at load.
//!
//! A bundle never holds a secret's value. [`SecretStore::load`] walks every [`SecretRef`] of a
//! bundle (listener TLS, consumer keys and passwords, JWT secrets and key sets) and resolves each;
//! any that cannot be read makes the load fail with errors naming the reference
//! (`env("PICARD_KEY") is not set`), never the value. [`Secret`] prints as `Secret(<redacted>)`.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use meshwork_bundle::{AdmissionStep, AuthMethod, Bundle, Credential, SecretRef};

/// The bytes of one resolved secret. `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<[u8]>);

impl Secret {
    /// Wraps bytes read from somewhere trusted (tests, a programmatic store).
    pub fn new(bytes: impl Into<Arc<[u8]>>) -> Self {
        Secret(bytes.into())
    }

    /// The secret's bytes; callers must not log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A secret reference as written in the source: `env("NAME")` or `file("path")`.
pub fn describe_secret(reference: &SecretRef) -> String {
    match reference {
        SecretRef::Env(name) => format!("env({name:?})"),
        SecretRef::File(path) => format!("file({path:?})"),
    }
}

/// Why one secret could not be resolved. Messages name the reference, never a value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The environment variable is absent.
    #[error("env({name:?}) is not set")]
    EnvNotSet {
        /// The variable's name.
        name: String,
    },
    /// The environment variable is not valid Unicode.
    #[error("env({name:?}) is not valid UTF-8")]
    EnvNotUnicode {
        /// The variable's name.
        name: String,
    },
    /// The file could not be read.
    #[error("file({path:?}) cannot be read (looked at {})", resolved.display())]
    FileUnreadable {
        /// The path as written in the bundle.
        path: String,
        /// The path after joining the base directory.
        resolved: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The secret resolved to nothing; an empty key or password would admit an empty credential.
    #[error("{reference} is empty")]
    Empty {
        /// The reference as written (`env("X")`).
        reference: String,
    },
    /// Code asked the store for a reference the bundle did not declare (a bug in the caller).
    #[error("{reference} was not loaded with the bundle")]
    NotLoaded {
        /// The reference as written.
        reference: String,
    },
}

/// Every secret of a bundle that failed to resolve, in bundle order.
#[derive(Debug, thiserror::Error)]
#[error("{} secret(s) could not be resolved: {}", .0.len(), list(.0))]
pub struct SecretsError(pub Vec<SecretError>);

fn list(errors: &[SecretError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Where the environment is read from: the process (`std::env::var_os`) or, in tests, a table.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// Reads one secret. `file` paths are relative to `base_dir`; trailing `\r`/`\n` of a file are
/// dropped, since editors add them and no key or password ends with one.
pub fn resolve_secret(reference: &SecretRef, base_dir: &Path) -> Result<Secret, SecretError> {
    resolve_secret_with(reference, base_dir, &|name| std::env::var_os(name))
}

/// [`resolve_secret`] with the environment read through `env`.
pub fn resolve_secret_with(
    reference: &SecretRef,
    base_dir: &Path,
    env: EnvLookup<'_>,
) -> Result<Secret, SecretError> {
    let bytes = match reference {
        SecretRef::Env(name) => env(name)
            .ok_or_else(|| SecretError::EnvNotSet { name: name.clone() })?
            .into_string()
            .map_err(|_| SecretError::EnvNotUnicode { name: name.clone() })?
            .into_bytes(),
        SecretRef::File(path) => {
            let resolved = base_dir.join(path);
            let mut bytes =
                std::fs::read(&resolved).map_err(|source| SecretError::FileUnreadable {
                    path: path.clone(),
                    resolved,
                    source,
                })?;
            while matches!(bytes.last(), Some(b'\n' | b'\r')) {
                bytes.pop();
            }
            bytes
        }
    };
    if bytes.is_empty() {
        return Err(SecretError::Empty {
            reference: describe_secret(reference),
        });
    }
    Ok(Secret::new(bytes))
}

/// The identity of a reference, hashable (the bundle type is not).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum SecretKey {
    Env(String),
    File(String),
}

impl From<&SecretRef> for SecretKey {
    fn from(reference: &SecretRef) -> Self {
        match reference {
            SecretRef::Env(name) => SecretKey::Env(name.clone()),
            SecretRef::File(path) => SecretKey::File(path.clone()),
        }
    }
}

/// The resolved secrets of one bundle, looked up by their reference.
#[derive(Debug, Default, Clone)]
pub struct SecretStore {
    values: HashMap<SecretKey, Secret>,
}

impl SecretStore {
    /// A store with nothing in it.
    pub fn new() -> Self {
        SecretStore::default()
    }

    /// Resolves every secret `bundle` refers to, reading the process environment and files
    /// relative to `base_dir`. Fails listing every reference that could not be read.
    pub fn load(bundle: &Bundle, base_dir: &Path) -> Result<Self, SecretsError> {
        Self::load_with(bundle, base_dir, &|name| std::env::var_os(name))
    }

    /// [`SecretStore::load`] with the environment read through `env`.
    pub fn load_with(
        bundle: &Bundle,
        base_dir: &Path,
        env: EnvLookup<'_>,
    ) -> Result<Self, SecretsError> {
        let mut store = SecretStore::new();
        let mut errors = Vec::new();
        for reference in bundle_secret_refs(bundle) {
            let key = SecretKey::from(reference);
            if store.values.contains_key(&key) {
                continue;
            }
            match resolve_secret_with(reference, base_dir, env) {
                Ok(secret) => {
                    store.values.insert(key, secret);
                }
                Err(error) => errors.push(error),
            }
        }
        if errors.is_empty() {
            Ok(store)
        } else {
            Err(SecretsError(errors))
        }
    }

    /// Records `secret` as the value of `reference` (tests, or secrets from elsewhere).
    pub fn insert(&mut self, reference: &SecretRef, secret: Secret) {
        self.values.insert(SecretKey::from(reference), secret);
    }

    /// The value of `reference`, if it was loaded.
    pub fn get(&self, reference: &SecretRef) -> Option<&Secret> {
        self.values.get(&SecretKey::from(reference))
    }

    /// The value of `reference`, or an error naming it.
    pub fn require(&self, reference: &SecretRef) -> Result<&Secret, SecretError> {
        self.get(reference).ok_or_else(|| SecretError::NotLoaded {
            reference: describe_secret(reference),
        })
    }
}

/// Every secret reference of a bundle, in bundle order (duplicates included).
pub fn bundle_secret_refs(bundle: &Bundle) -> Vec<&SecretRef> {
    let mut refs = Vec::new();
    for gateway in &bundle.gateways {
        for tls in gateway.listeners.iter().filter_map(|l| l.tls.as_ref()) {
            refs.push(&tls.cert);
            refs.push(&tls.key);
        }
        for credential in gateway.consumers.iter().flat_map(|c| &c.credentials) {
            match credential {
                Credential::Key { secret } => refs.push(secret),
                Credential::Basic { password, .. } => refs.push(password),
                Credential::Jwt { .. } => {}
            }
        }
        for step in gateway.routes.iter().flat_map(|r| &r.admission) {
            if let AdmissionStep::Auth {
                method: AuthMethod::Jwt { keys, secret, .. },
                ..
            } = step
            {
                refs.extend(keys.iter().chain(secret.iter()));
            }
        }
    }
    refs
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshwork_bundle::sample::starfleet_bundle;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn env_secret_resolves_to_the_variable() {
        let env = env_of(&[("PICARD_KEY", "engage")]);
        let secret =
            resolve_secret_with(&SecretRef::Env("PICARD_KEY".into()), Path::new("."), &env)
                .unwrap();
        assert_eq!(secret.expose(), b"engage");
    }

    #[test]
    fn missing_env_secret_names_the_reference() {
        let env = env_of(&[]);
        let error = resolve_secret_with(&SecretRef::Env("PICARD_KEY".into()), Path::new("."), &env)
            .unwrap_err();
        assert_eq!(error.to_string(), r#"env("PICARD_KEY") is not set"#);
    }

    #[test]
    fn empty_secret_is_refused() {
        let env = env_of(&[("EMPTY", "")]);
        let error =
            resolve_secret_with(&SecretRef::Env("EMPTY".into()), Path::new("."), &env).unwrap_err();
        assert_eq!(error.to_string(), r#"env("EMPTY") is empty"#);
    }

    #[test]
    fn file_secret_is_read_relative_to_the_base_and_loses_its_newline() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().to_path_buf();
        std::fs::write(dir.join("key.txt"), "make-it-so\r\n").unwrap();
        let secret = resolve_secret(&SecretRef::File("key.txt".into()), &dir).unwrap();
        assert_eq!(secret.expose(), b"make-it-so");
        let missing = resolve_secret(&SecretRef::File("nope.txt".into()), &dir).unwrap_err();
        assert!(missing
            .to_string()
            .starts_with(r#"file("nope.txt") cannot be read"#));
    }

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new(b"top-secret".to_vec());
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn store_load_lists_every_missing_reference() {
        let bundle = starfleet_bundle();
        let refs = bundle_secret_refs(&bundle);
        assert!(!refs.is_empty(), "the sample bundle declares secrets");
        let error =
            SecretStore::load_with(&bundle, Path::new("/nonexistent"), &env_of(&[])).unwrap_err();
        let message = error.to_string();
        for reference in refs {
            assert!(
                message.contains(&describe_secret(reference)),
                "{message} should name {reference:?}"
            );
        }
    }

    #[test]
    fn store_returns_loaded_values_by_reference() {
        let mut store = SecretStore::new();
        let reference = SecretRef::Env("K".into());
        store.insert(&reference, Secret::new(b"v".to_vec()));
        assert_eq!(store.require(&reference).unwrap().expose(), b"v");
        let other = SecretRef::File("K".into());
        assert_eq!(
            store.require(&other).unwrap_err().to_string(),
            r#"file("K") was not loaded with the bundle"#
        );
    }
}
