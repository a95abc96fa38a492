//! Reads the PEM certificate chain and key a TLS listener names.
//!
//! TEMPORARY: secrets (`env()` / `file()`) are resolved by `load::secrets`, which helper "admit"
//! is writing; until it lands this tiny reader does the same for listener TLS material only, and
//! is replaced by the secrets module when it does.

use meshwork_bundle::SecretRef;

/// A secret that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretReadError {
    /// The environment variable is not set (or not UTF-8).
    #[error("env(\"{0}\") is not set")]
    MissingEnv(String),
    /// The file cannot be read.
    #[error("file(\"{path}\") cannot be read")]
    File {
        /// The path as written.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The bytes of a secret.
pub fn read_secret(reference: &SecretRef) -> Result<Vec<u8>, SecretReadError> {
    match reference {
        SecretRef::Env(name) => std::env::var(name)
            .map(String::into_bytes)
            .map_err(|_| SecretReadError::MissingEnv(name.clone())),
        SecretRef::File(path) => std::fs::read(path).map_err(|source| SecretReadError::File {
            path: path.clone(),
            source,
        }),
    }
}
