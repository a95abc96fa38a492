//! Detached ed25519 bundle signatures on disk: key and signature files, read and written here;
//! the format and the cryptography live in [`meshwork_bundle::signature`], shared with
//! `meshc build --sign`.
//!
//! A signature lives beside the bundle in `<bundle>.sig`; a bundle fetched over HTTP has its
//! signature fetched from `<url>.sig` and checked with [`VerifyKey::verify_text`].

use std::path::{Path, PathBuf};

use meshwork_bundle::signature::{
    key_pair_texts, sign_digest, PublicKey, SignatureCheckError, SignatureText,
};

/// Why a key or signature cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// A file could not be read or written.
    #[error("cannot access {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not in the expected one-line format.
    #[error("{} is not a {expected} file", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What it should have been.
        expected: SignatureText,
    },
    /// The signature file is missing.
    #[error("the bundle is not signed: {} does not exist", path.display())]
    Unsigned {
        /// Where the signature was looked for.
        path: PathBuf,
    },
    /// The signature does not verify with the given key.
    #[error("the signature in {} does not verify with the given key", path.display())]
    BadSignature {
        /// The signature file (or URL).
        path: PathBuf,
    },
    /// The operating system could not provide randomness for a new key.
    #[error("cannot generate a key: {0}")]
    Random(String),
}

impl SignatureError {
    fn from_check(path: &Path, error: SignatureCheckError) -> Self {
        match error {
            SignatureCheckError::Malformed(expected) => SignatureError::Malformed {
                path: path.to_path_buf(),
                expected,
            },
            SignatureCheckError::BadSignature => SignatureError::BadSignature {
                path: path.to_path_buf(),
            },
        }
    }
}

/// The signature file of a bundle: `<bundle>.sig`.
pub fn signature_path(bundle: &Path) -> PathBuf {
    with_suffix(bundle, ".sig")
}

/// `path` with `suffix` appended to its file name (`a.json` + `.sig` = `a.json.sig`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn read_text(path: &Path) -> Result<String, SignatureError> {
    std::fs::read_to_string(path).map_err(|source| SignatureError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn write_file(path: &Path, text: &str, private: bool) -> Result<(), SignatureError> {
    let io = |source| SignatureError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).map_err(io)?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(io)
}

/// Creates a key pair: `<prefix>.key` (private, mode 0600) and `<prefix>.pub`. Returns both paths.
pub fn generate_key_pair(prefix: &Path) -> Result<(PathBuf, PathBuf), SignatureError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| SignatureError::Random(e.to_string()))?;
    let (private_text, public_text) = key_pair_texts(seed);
    let private = with_suffix(prefix, ".key");
    let public = with_suffix(prefix, ".pub");
    write_file(&private, &private_text, true)?;
    write_file(&public, &public_text, false)?;
    Ok((private, public))
}

/// Signs a bundle's digest with the private key at `key_file`, writing `<bundle>.sig`.
pub fn sign_bundle(
    bundle: &Path,
    digest: &str,
    key_file: &Path,
) -> Result<PathBuf, SignatureError> {
    let signature = sign_digest(&read_text(key_file)?, digest)
        .map_err(|error| SignatureError::from_check(key_file, error))?;
    let path = signature_path(bundle);
    write_file(&path, &signature, false)?;
    Ok(path)
}

/// A public key that bundles must be signed with.
#[derive(Debug, Clone)]
pub struct VerifyKey {
    key: PublicKey,
}

impl VerifyKey {
    /// Reads an `ed25519-public` key file.
    pub fn read(path: &Path) -> Result<VerifyKey, SignatureError> {
        let key = PublicKey::parse(&read_text(path)?)
            .map_err(|error| SignatureError::from_check(path, error))?;
        Ok(VerifyKey { key })
    }

    /// Checks `<bundle>.sig` against the bundle's (already verified) digest.
    pub fn verify_bundle(&self, bundle: &Path, digest: &str) -> Result<(), SignatureError> {
        let path = signature_path(bundle);
        if !path.exists() {
            return Err(SignatureError::Unsigned { path });
        }
        self.verify_text(&path, digest, &read_text(&path)?)
    }

    /// Checks a signature's text, read from `origin` (a file or a URL, for messages).
    pub fn verify_text(
        &self,
        origin: &Path,
        digest: &str,
        signature: &str,
    ) -> Result<(), SignatureError> {
        self.key
            .verify(digest, signature)
            .map_err(|error| SignatureError::from_check(origin, error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_digest_verifies_and_another_digest_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let (private, public) = generate_key_pair(&dir.join("ops")).unwrap();
        let bundle = dir.join("b.json");
        sign_bundle(&bundle, "sha256:aa", &private).unwrap();
        let key = VerifyKey::read(&public).unwrap();
        key.verify_bundle(&bundle, "sha256:aa").unwrap();
        assert!(matches!(
            key.verify_bundle(&bundle, "sha256:ab"),
            Err(SignatureError::BadSignature { .. })
        ));
    }

    #[test]
    fn another_key_does_not_verify() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let (private, _) = generate_key_pair(&dir.join("a")).unwrap();
        let (_, other_public) = generate_key_pair(&dir.join("b")).unwrap();
        let bundle = dir.join("b.json");
        sign_bundle(&bundle, "sha256:aa", &private).unwrap();
        let key = VerifyKey::read(&other_public).unwrap();
        assert!(key.verify_bundle(&bundle, "sha256:aa").is_err());
    }

    #[test]
    fn a_missing_signature_says_the_bundle_is_unsigned() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let (_, public) = generate_key_pair(&dir.join("k")).unwrap();
        let key = VerifyKey::read(&public).unwrap();
        let error = key
            .verify_bundle(&dir.join("none.json"), "sha256:aa")
            .unwrap_err();
        assert!(error.to_string().contains("not signed"), "{error}");
    }

    #[test]
    fn a_private_key_is_not_accepted_as_a_public_key() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let (private, _) = generate_key_pair(&dir.join("k")).unwrap();
        assert!(matches!(
            VerifyKey::read(&private),
            Err(SignatureError::Malformed { .. })
        ));
    }
}
