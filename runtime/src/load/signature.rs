//! Detached ed25519 bundle signatures.
//!
//! A signature lives beside the bundle in `<bundle>.sig` (so the bundle's bytes, schema and digest
//! stay exactly as the compiler wrote them). It signs the message
//! `"meshwork bundle signature v1\n" + digest`; the digest already covers every byte of content, so
//! a bundle whose digest holds and whose signature verifies is the bundle that was signed.
//!
//! Key and signature files are one line of text: `ed25519-private <hex seed>`,
//! `ed25519-public <hex key>` and `ed25519-signature <hex signature>`.

use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

/// The domain-separation prefix of the signed message.
const MESSAGE_PREFIX: &str = "meshwork bundle signature v1\n";
const PRIVATE_TAG: &str = "ed25519-private";
const PUBLIC_TAG: &str = "ed25519-public";
const SIGNATURE_TAG: &str = "ed25519-signature";

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
        expected: &'static str,
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
        /// The signature file.
        path: PathBuf,
    },
    /// The operating system could not provide randomness for a new key.
    #[error("cannot generate a key: {0}")]
    Random(String),
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

fn message(digest: &str) -> Vec<u8> {
    format!("{MESSAGE_PREFIX}{digest}").into_bytes()
}

fn read_tagged<const N: usize>(
    path: &Path,
    tag: &str,
    expected: &'static str,
) -> Result<[u8; N], SignatureError> {
    let text = std::fs::read_to_string(path).map_err(|source| SignatureError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let malformed = || SignatureError::Malformed {
        path: path.to_path_buf(),
        expected,
    };
    let hex_text = text
        .trim()
        .strip_prefix(tag)
        .map(str::trim)
        .ok_or_else(malformed)?;
    let bytes = hex::decode(hex_text).map_err(|_| malformed())?;
    bytes.try_into().map_err(|_| malformed())
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
    let key = SigningKey::from_bytes(&seed);
    let private = with_suffix(prefix, ".key");
    let public = with_suffix(prefix, ".pub");
    write_file(
        &private,
        &format!("{PRIVATE_TAG} {}\n", hex::encode(seed)),
        true,
    )?;
    write_file(
        &public,
        &format!(
            "{PUBLIC_TAG} {}\n",
            hex::encode(key.verifying_key().to_bytes())
        ),
        false,
    )?;
    Ok((private, public))
}

/// Signs a bundle's digest with the private key at `key_file`, writing `<bundle>.sig`.
pub fn sign_bundle(
    bundle: &Path,
    digest: &str,
    key_file: &Path,
) -> Result<PathBuf, SignatureError> {
    let seed: [u8; 32] = read_tagged(key_file, PRIVATE_TAG, "private key")?;
    let signature = SigningKey::from_bytes(&seed).sign(&message(digest));
    let path = signature_path(bundle);
    write_file(
        &path,
        &format!("{SIGNATURE_TAG} {}\n", hex::encode(signature.to_bytes())),
        false,
    )?;
    Ok(path)
}

/// A public key that bundles must be signed with.
#[derive(Debug, Clone)]
pub struct VerifyKey {
    key: VerifyingKey,
}

impl VerifyKey {
    /// Reads an `ed25519-public` key file.
    pub fn read(path: &Path) -> Result<VerifyKey, SignatureError> {
        let bytes: [u8; 32] = read_tagged(path, PUBLIC_TAG, "public key")?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| SignatureError::Malformed {
            path: path.to_path_buf(),
            expected: "public key",
        })?;
        Ok(VerifyKey { key })
    }

    /// Checks `<bundle>.sig` against the bundle's (already verified) digest.
    pub fn verify_bundle(&self, bundle: &Path, digest: &str) -> Result<(), SignatureError> {
        let path = signature_path(bundle);
        if !path.exists() {
            return Err(SignatureError::Unsigned { path });
        }
        let bytes: [u8; 64] = read_tagged(&path, SIGNATURE_TAG, "signature")?;
        let signature = Signature::from_bytes(&bytes);
        self.key
            .verify_strict(&message(digest), &signature)
            .map_err(|_| SignatureError::BadSignature { path })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("meshd-sig-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_signed_digest_verifies_and_another_digest_does_not() {
        let dir = temp_dir("roundtrip");
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
        let dir = temp_dir("other");
        let (private, _) = generate_key_pair(&dir.join("a")).unwrap();
        let (_, other_public) = generate_key_pair(&dir.join("b")).unwrap();
        let bundle = dir.join("b.json");
        sign_bundle(&bundle, "sha256:aa", &private).unwrap();
        let key = VerifyKey::read(&other_public).unwrap();
        assert!(key.verify_bundle(&bundle, "sha256:aa").is_err());
    }

    #[test]
    fn a_missing_signature_says_the_bundle_is_unsigned() {
        let dir = temp_dir("unsigned");
        let (_, public) = generate_key_pair(&dir.join("k")).unwrap();
        let key = VerifyKey::read(&public).unwrap();
        let error = key
            .verify_bundle(&dir.join("none.json"), "sha256:aa")
            .unwrap_err();
        assert!(error.to_string().contains("not signed"), "{error}");
    }

    #[test]
    fn a_private_key_is_not_accepted_as_a_public_key() {
        let dir = temp_dir("swap");
        let (private, _) = generate_key_pair(&dir.join("k")).unwrap();
        assert!(matches!(
            VerifyKey::read(&private),
            Err(SignatureError::Malformed { .. })
        ));
    }
}
