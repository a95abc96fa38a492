//! Detached ed25519 bundle signatures on disk: key and signature files, read and written here;
//! the format and the cryptography live in [`meshwork_bundle::signature`], shared with
//! `meshc build --sign`.
//!
//! A signature lives beside the bundle in `<bundle>.sig`; a bundle fetched over HTTP has its
//! signature fetched from `<url>.sig`. Either way the bundle is read under it
//! ([`VerifyKey::read_under`]).

use std::path::{Path, PathBuf};

use meshwork_bundle::bundle_file::{self, BundleFileError};
use meshwork_bundle::signature::{
    key_pair_texts, sign_bundle_text, PublicKey, SignatureCheckError, SignatureText, SignedBundle,
};
use meshwork_bundle::Bundle;

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
    /// A signature of the first format.
    #[error("{}: {}", path.display(), SignatureCheckError::Outdated)]
    Outdated {
        /// The signature file (or URL).
        path: PathBuf,
    },
    /// The bundle to sign cannot be read as a bundle file.
    #[error("cannot sign {}", path.display())]
    Unreadable {
        /// The bundle.
        path: PathBuf,
        /// Why.
        source: BundleFileError,
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
            SignatureCheckError::Outdated => SignatureError::Outdated {
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

/// Signs the bundle at `bundle`, whose digest (already checked) is `digest`, with the private
/// key at `key_file`, writing `<bundle>.sig`. The signature also vouches for the length of the
/// file's JSON text.
pub fn sign_bundle(
    bundle: &Path,
    digest: &str,
    key_file: &Path,
) -> Result<PathBuf, SignatureError> {
    let unreadable = |source| SignatureError::Unreadable {
        path: bundle.to_path_buf(),
        source,
    };
    let bytes = std::fs::read(bundle).map_err(|source| SignatureError::Io {
        path: bundle.to_path_buf(),
        source,
    })?;
    let signed = SignedBundle {
        digest: digest.to_string(),
        text_length: bundle_file::text_length(&bytes).map_err(unreadable)?,
    };
    let signature = sign_bundle_text(&read_text(key_file)?, &signed)
        .map_err(|error| SignatureError::from_check(key_file, error))?;
    let path = signature_path(bundle);
    write_file(&path, &signature, false)?;
    Ok(path)
}

/// A public key that bundles must be signed with.
#[derive(Debug, Clone)]
pub struct VerifyKey {
    key: PublicKey,
    /// Whether first-format signatures are accepted (`--accept-v1-signatures`).
    first_format: bool,
}

/// Why a bundle read under its signature was refused: the signature, or the bundle.
#[derive(Debug)]
pub enum SignedReadError<E> {
    /// The signature is missing, malformed, outdated or does not verify.
    Signature(SignatureError),
    /// The bundle (read no further than a current signature allows).
    Bundle(E),
}

impl VerifyKey {
    /// Reads an `ed25519-public` key file.
    pub fn read(path: &Path) -> Result<VerifyKey, SignatureError> {
        let key = PublicKey::parse(&read_text(path)?)
            .map_err(|error| SignatureError::from_check(path, error))?;
        Ok(VerifyKey {
            key,
            first_format: false,
        })
    }

    /// This key, accepting signatures of the first format too (over the digest alone, so
    /// checked only after the whole bundle was read): for a fleet moving from them.
    pub fn accepting_first_format(self, accept: bool) -> VerifyKey {
        VerifyKey {
            first_format: accept,
            ..self
        }
    }

    /// Reads the bundle file at `bundle` under `<bundle>.sig`, as [`VerifyKey::read_under`].
    pub fn read_file_under<E>(
        &self,
        bundle: &Path,
        read: impl FnOnce(Option<&SignedBundle>) -> Result<Bundle, E>,
    ) -> Result<Bundle, SignedReadError<E>> {
        let text = signature_text(bundle).map_err(SignedReadError::Signature)?;
        self.read_under(&signature_path(bundle), Some(&text), read)
    }

    /// Reads a bundle under `signature` (from `origin`; `None`: there was none). A current
    /// signature is verified first, and `read` gets what it vouches for, to read no further
    /// than that; a first-format one, when this key accepts them, is checked after
    /// `read(None)` read the whole bundle, against its digest (and logged, to be replaced).
    pub fn read_under<E>(
        &self,
        origin: &Path,
        signature: Option<&str>,
        read: impl FnOnce(Option<&SignedBundle>) -> Result<Bundle, E>,
    ) -> Result<Bundle, SignedReadError<E>> {
        let Some(text) = signature else {
            let path = origin.to_path_buf();
            return Err(SignedReadError::Signature(SignatureError::Unsigned {
                path,
            }));
        };
        match self.key.verify(text) {
            Ok(signed) => read(Some(&signed)).map_err(SignedReadError::Bundle),
            Err(SignatureCheckError::Outdated) if self.first_format => {
                let bundle = read(None).map_err(SignedReadError::Bundle)?;
                self.key
                    .verify_first_format(&bundle.digest, text)
                    .map_err(|error| {
                        SignedReadError::Signature(SignatureError::from_check(origin, error))
                    })?;
                tracing::warn!(
                    signature = %origin.display(),
                    "bundle accepted under a first-format signature (read whole before the \
                     signature was checked); sign it again with this version, then drop \
                     --accept-v1-signatures"
                );
                Ok(bundle)
            }
            Err(error) => Err(SignedReadError::Signature(SignatureError::from_check(
                origin, error,
            ))),
        }
    }
}

/// The text of `<bundle>.sig`; [`SignatureError::Unsigned`] when there is none.
fn signature_text(bundle: &Path) -> Result<String, SignatureError> {
    let path = signature_path(bundle);
    if !path.exists() {
        return Err(SignatureError::Unsigned { path });
    }
    read_text(&path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshwork_bundle::bundle_file::{encode, BundleEncoding};
    use meshwork_bundle::sample::starfleet_bundle;

    /// The sample bundle written to `dir/b.json`; returns its path and digest.
    fn bundle_file(dir: &Path) -> (PathBuf, String) {
        let bundle = starfleet_bundle();
        let path = dir.join("b.json");
        std::fs::write(&path, encode(&bundle, BundleEncoding::Json)).unwrap();
        (path, bundle.digest)
    }

    /// What `<bundle>.sig` vouches for, as a read under it is told (the read itself gives the
    /// sample bundle).
    fn signed_for(key: &VerifyKey, bundle: &Path) -> Result<SignedBundle, SignatureError> {
        let mut vouched = None;
        let read = |signed: Option<&SignedBundle>| {
            vouched = signed.cloned();
            Ok::<_, ()>(starfleet_bundle())
        };
        match key.read_file_under(bundle, read) {
            Ok(_) => Ok(vouched.expect("a current signature tells the read what it vouches for")),
            Err(SignedReadError::Signature(error)) => Err(error),
            Err(SignedReadError::Bundle(())) => unreachable!("the read gives a bundle"),
        }
    }

    #[test]
    fn a_signature_vouches_for_the_digest_and_the_files_text_length() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let (private, public) = generate_key_pair(&dir.join("ops")).unwrap();
        let (bundle, digest) = bundle_file(dir);
        sign_bundle(&bundle, &digest, &private).unwrap();
        let key = VerifyKey::read(&public).unwrap();
        let signed = signed_for(&key, &bundle).unwrap();
        assert_eq!(signed.digest, digest);
        assert_eq!(
            signed.text_length,
            std::fs::metadata(&bundle).unwrap().len()
        );
    }

    #[test]
    fn another_key_does_not_verify() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let (private, _) = generate_key_pair(&dir.join("a")).unwrap();
        let (_, other_public) = generate_key_pair(&dir.join("b")).unwrap();
        let (bundle, digest) = bundle_file(dir);
        sign_bundle(&bundle, &digest, &private).unwrap();
        let key = VerifyKey::read(&other_public).unwrap();
        assert!(matches!(
            signed_for(&key, &bundle),
            Err(SignatureError::BadSignature { .. })
        ));
    }

    #[test]
    fn a_missing_signature_says_the_bundle_is_unsigned() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let (_, public) = generate_key_pair(&dir.join("k")).unwrap();
        let key = VerifyKey::read(&public).unwrap();
        let error = signed_for(&key, &dir.join("none.json")).unwrap_err();
        assert!(error.to_string().contains("not signed"), "{error}");
    }

    #[test]
    fn a_signature_of_the_first_format_says_to_sign_again() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let (_, public) = generate_key_pair(&dir.join("k")).unwrap();
        let (bundle, _) = bundle_file(dir);
        let first_format = format!("ed25519-signature {}\n", "0f".repeat(64));
        std::fs::write(signature_path(&bundle), first_format).unwrap();
        let error = signed_for(&VerifyKey::read(&public).unwrap(), &bundle).unwrap_err();
        assert!(matches!(error, SignatureError::Outdated { .. }), "{error}");
        assert!(error.to_string().contains("meshd sign"), "{error}");
    }

    #[test]
    fn a_bundle_is_read_under_its_signature_and_the_first_format_only_when_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let (private, public) = generate_key_pair(&dir.join("k")).unwrap();
        let private_text = std::fs::read_to_string(&private).unwrap();
        let bundle = starfleet_bundle();
        let origin = dir.join("b.json.sig");
        let key = VerifyKey::read(&public).unwrap();
        let moving = key.clone().accepting_first_format(true);
        let limits = std::cell::RefCell::new(Vec::new());
        let read = |signed: Option<&SignedBundle>| {
            limits.borrow_mut().push(signed.map(|s| s.text_length));
            Ok::<_, ()>(bundle.clone())
        };
        // Current: verified first, and the read is told how far it may go.
        let current = sign_bundle_text(
            &private_text,
            &SignedBundle {
                digest: bundle.digest.clone(),
                text_length: 77,
            },
        )
        .unwrap();
        assert!(key.read_under(&origin, Some(&current), read).is_ok());
        assert_eq!(limits.borrow_mut().split_off(0), [Some(77)]);
        // None at all.
        assert!(matches!(
            key.read_under(&origin, None, read),
            Err(SignedReadError::Signature(SignatureError::Unsigned { .. }))
        ));
        // The first format: refused before any read, unless accepted; then checked on the
        // digest of the bundle read whole.
        let first =
            meshwork_bundle::signature::sign_first_format(&private_text, &bundle.digest).unwrap();
        assert!(matches!(
            key.read_under(&origin, Some(&first), read),
            Err(SignedReadError::Signature(SignatureError::Outdated { .. }))
        ));
        assert!(limits.borrow().is_empty());
        assert!(moving.read_under(&origin, Some(&first), read).is_ok());
        assert_eq!(limits.borrow_mut().split_off(0), [None]);
        let other = meshwork_bundle::signature::sign_first_format(
            &private_text,
            &format!("sha256:{}", "0".repeat(64)),
        )
        .unwrap();
        assert!(matches!(
            moving.read_under(&origin, Some(&other), read),
            Err(SignedReadError::Signature(
                SignatureError::BadSignature { .. }
            ))
        ));
    }

    #[test]
    fn a_file_that_is_no_bundle_file_is_not_signed() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let (private, _) = generate_key_pair(&dir.join("k")).unwrap();
        let (bundle, digest) = bundle_file(dir);
        std::fs::write(&bundle, [0x28, 0xB5, 0x2F, 0xFD, 1, 2, 3]).unwrap();
        assert!(matches!(
            sign_bundle(&bundle, &digest, &private),
            Err(SignatureError::Unreadable { .. })
        ));
        assert!(!signature_path(&bundle).exists());
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
