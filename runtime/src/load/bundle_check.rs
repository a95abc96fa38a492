//! The checks a bundle must pass before anything runs it: decompression (a `*.json.zst` file),
//! UTF-8, JSON, the committed JSON Schema (embedded in `meshwork_bundle`), and the digest.
//!
//! The schema is checked by the typed parse: the bundle types refuse exactly what the schema
//! refuses (`meshwork_bundle`'s tests hold them to it), so an accepted bundle never becomes a
//! JSON tree, which for 100 000 routes would be over a gigabyte. Only a refused bundle is
//! validated again against the schema itself, to list every violation with its JSON pointer.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use meshwork_bundle::bundle_file::{self, BundleFileError};
use meshwork_bundle::digest;
use meshwork_bundle::signature::SignedBundle;
use meshwork_bundle::types::graph_check::without_graphs;
use meshwork_bundle::{Bundle, DigestError, BUNDLE_SCHEMA};
use serde_json::Value;

/// One place where a bundle breaks the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    /// The JSON pointer of the offending value (`""` for the whole document).
    pub pointer: String,
    /// What is wrong with it.
    pub message: String,
}

/// Why a bundle cannot be used. The underlying cause, when any, is the error's `source()`.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The path given.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A compressed bundle that does not decompress.
    #[error("the bundle cannot be decompressed")]
    Compressed(#[from] BundleFileError),
    /// The bytes are not UTF-8.
    #[error("the bundle is not UTF-8")]
    NotUtf8(#[from] std::str::Utf8Error),
    /// The text is not JSON.
    #[error("the bundle is not valid JSON")]
    MalformedJson(#[source] serde_json::Error),
    /// The document does not match `bundle.schema.json`.
    #[error("the bundle does not match the schema ({} violation(s))", .0.len())]
    Schema(Vec<SchemaViolation>),
    /// The document matches the schema but not the Rust types (a schema/type drift).
    #[error("the bundle does not match the bundle types")]
    Shape(#[source] serde_json::Error),
    /// The recorded digest does not match the content.
    #[error(transparent)]
    Digest(#[from] DigestError),
    /// The bundle holds, but its signature vouches for another one.
    #[error("the signature is for bundle {signed}, not for this one ({digest})")]
    NotTheSigned {
        /// The digest the signature vouches for.
        signed: String,
        /// The bundle's.
        digest: String,
    },
}

impl BundleError {
    /// The process exit code for this failure: 2 when the file could not be read, 1 for a bad bundle.
    pub fn exit_code(&self) -> u8 {
        match self {
            BundleError::Read { .. } => 2,
            _ => 1,
        }
    }
}

fn schema_validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: Value = serde_json::from_str(BUNDLE_SCHEMA)
            .expect("the embedded bundle.schema.json is valid JSON (checked by meshwork-bundle's tests)");
        jsonschema::validator_for(&schema)
            .expect("the embedded bundle.schema.json is a valid schema (checked by meshwork-bundle's tests)")
    })
}

/// Lists every schema violation of `document`, in the validator's order.
pub fn schema_violations(document: &Value) -> Vec<SchemaViolation> {
    schema_validator()
        .iter_errors(document)
        .map(|error| SchemaViolation {
            pointer: error.instance_path().to_string(),
            message: error.to_string(),
        })
        .collect()
}

/// The largest refused bundle whose violations are listed from a JSON tree (about ten times
/// the text); a larger one is reported by the parser's first error, with its line and column.
const MAX_TEXT_FOR_VIOLATIONS: usize = 32 << 20;

/// Whether a checked bundle keeps its program graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Graphs {
    /// Read whole.
    Keep,
    /// Checked, not kept: meshd never reads the graph (it is for tools that draw or query the
    /// program), and it is about a quarter of a large bundle's text.
    Drop,
}

/// Checks bundle bytes (JSON, or JSON compressed with zstd) and returns the bundle when every
/// check holds.
pub fn check_bundle_bytes(bytes: &[u8]) -> Result<Bundle, BundleError> {
    check(bytes, Graphs::Keep, None)
}

/// [`check_bundle_bytes`] for a bundle to serve: its program graph is checked like the rest but
/// not kept (the bundle comes back with an empty graph).
pub fn check_bundle_bytes_to_serve(bytes: &[u8]) -> Result<Bundle, BundleError> {
    check(bytes, Graphs::Drop, None)
}

/// [`check_bundle_bytes_to_serve`] for bytes read under a signature
/// ([`super::VerifyKey::read_under`]): with what a verified one vouches for, they are
/// decompressed no further than its text length and must be the bundle it names; `None` (a
/// first-format signature, checked after) reads them as [`check_bundle_bytes_to_serve`] does.
pub fn check_signed_bytes_to_serve(
    bytes: &[u8],
    signed: Option<&SignedBundle>,
) -> Result<Bundle, BundleError> {
    check(bytes, Graphs::Drop, signed)
}

fn check(
    bytes: &[u8],
    graphs: Graphs,
    signed: Option<&SignedBundle>,
) -> Result<Bundle, BundleError> {
    let limit = signed.map_or(bundle_file::MAX_BUNDLE_TEXT, |s| s.text_length);
    let text = bundle_file::decode_within(bytes, limit)?;
    let text = std::str::from_utf8(&text)?;
    // A graph can be left unbuilt only where the digest is checked on the text itself: compact
    // canonical text, as `meshc build` writes `*.json.zst` bundles (a pretty `*.json` one is
    // checked on what it holds, graph included, and its graph dropped after).
    let skip_graph = graphs == Graphs::Drop && digest::laid_out_compact(text.as_bytes());
    let parse = |skip_graph: bool| match skip_graph {
        false => serde_json::from_str::<Bundle>(text),
        true => without_graphs(|| serde_json::from_str::<Bundle>(text)),
    };
    // The digest of a compact text needs only its bytes: hashed on another core while this
    // one parses (a tenth of a large load), allocating nothing that outlives the load.
    let (parsed, text_digest) = std::thread::scope(|scope| {
        let hasher = std::thread::Builder::new()
            .name("bundle-digest".to_string())
            .spawn_scoped(scope, || digest::text_digest(text.as_bytes()));
        let parsed = parse(skip_graph);
        let text_digest = match hasher {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => digest::text_digest(text.as_bytes()),
        };
        (parsed, text_digest)
    });
    let mut bundle = match parsed {
        Ok(bundle) => bundle,
        Err(error) if (error.is_syntax() || error.is_eof()) && !is_json(text) => {
            return Err(BundleError::MalformedJson(error))
        }
        Err(error) => return Err(refusal(text, error)),
    };
    match bundle.verify_digest_with(text_digest.as_ref()) {
        Ok(()) => {}
        // Compact text that does not hash to its digest (printed by another tool, keys in
        // another order): read again whole, its digest checked on what it holds.
        Err(_) if skip_graph => {
            bundle = parse(false).map_err(|error| refusal(text, error))?;
            bundle.verify_digest()?;
        }
        Err(error) => return Err(error.into()),
    }
    if let Some(signed) = signed.filter(|signed| signed.digest != bundle.digest) {
        return Err(BundleError::NotTheSigned {
            signed: signed.digest.clone(),
            digest: bundle.digest,
        });
    }
    if graphs == Graphs::Drop && !bundle.graph.nodes.is_empty() {
        // Given back before the state is built beside the bundle: a lower peak.
        drop(std::mem::take(&mut bundle.graph));
        super::memory_trim::trim_heap();
    }
    Ok(bundle)
}

/// Whether `text` is JSON at all. The typed readers report some values of the wrong type (an
/// array where a tag belongs) as syntax errors, "expected value"; a document that is JSON is
/// then refused for what it holds, not called malformed.
fn is_json(text: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// Why the typed parse refused `text`: every schema violation when the text is small enough to
/// hold as a tree, else the parser's own error.
fn refusal(text: &str, error: serde_json::Error) -> BundleError {
    if text.len() <= MAX_TEXT_FOR_VIOLATIONS {
        if let Ok(document) = serde_json::from_str::<Value>(text) {
            let violations = schema_violations(&document);
            if !violations.is_empty() {
                return BundleError::Schema(violations);
            }
        }
    }
    BundleError::Shape(error)
}

/// Reads and checks the bundle at `path` to serve it: as [`read_bundle_file`], but the program
/// graph (for tools that draw or query the program; meshd never reads it) is checked and not
/// kept ([`check_bundle_bytes_to_serve`]).
pub fn read_bundle_file_to_serve(path: &Path) -> Result<Bundle, BundleError> {
    read_and_check(path, Graphs::Drop, None)
}

/// [`read_bundle_file_to_serve`] for a bundle read under a signature, as
/// [`check_signed_bytes_to_serve`] checks it.
pub fn read_signed_bundle_file_to_serve(
    path: &Path,
    signed: Option<&SignedBundle>,
) -> Result<Bundle, BundleError> {
    read_and_check(path, Graphs::Drop, signed)
}

/// Reads and checks the bundle at `path`.
pub fn read_bundle_file(path: &Path) -> Result<Bundle, BundleError> {
    read_and_check(path, Graphs::Keep, None)
}

/// [`read_bundle_file`] for a bundle read under a signature, as
/// [`check_signed_bytes_to_serve`] checks it, graph kept.
pub fn read_signed_bundle_file(
    path: &Path,
    signed: Option<&SignedBundle>,
) -> Result<Bundle, BundleError> {
    read_and_check(path, Graphs::Keep, signed)
}

/// Reads `path` and checks it on a thread of its own.
fn read_and_check(
    path: &Path,
    graphs: Graphs,
    signed: Option<&SignedBundle>,
) -> Result<Bundle, BundleError> {
    let bytes = std::fs::read(path).map_err(|source| BundleError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    // The check runs on a thread of its own so that its temporaries (the text, then the bundle
    // itself) come from another glibc arena than the long-lived state built from the bundle:
    // once the bundle is dropped that arena is wholly free and the heap trim after the load
    // gives it all back, instead of keeping pages pinned by state allocated among them.
    std::thread::scope(|scope| {
        scope
            .spawn(|| check(&bytes, graphs, signed))
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshwork_bundle::sample::starfleet_bundle;

    #[test]
    fn a_sealed_sample_bundle_passes_every_check() {
        let bundle = starfleet_bundle();
        let checked = check_bundle_bytes(bundle.to_pretty_json().as_bytes()).unwrap();
        assert_eq!(checked, bundle);
    }

    #[test]
    fn a_compressed_bundle_passes_every_check() {
        let bundle = starfleet_bundle();
        let bytes = bundle_file::encode(&bundle, bundle_file::BundleEncoding::Zstd);
        assert_eq!(check_bundle_bytes(&bytes).unwrap(), bundle);
    }

    #[test]
    fn a_corrupt_compressed_bundle_is_refused() {
        let bytes = bundle_file::encode(&starfleet_bundle(), bundle_file::BundleEncoding::Zstd);
        assert!(matches!(
            check_bundle_bytes(&bytes[..bytes.len() - 9]),
            Err(BundleError::Compressed(_))
        ));
    }

    #[test]
    fn a_bundle_read_to_serve_is_checked_whole_and_kept_without_its_graph() {
        let bundle = starfleet_bundle();
        assert!(!bundle.graph.nodes.is_empty(), "the sample has no graph");
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().to_path_buf();
        let path = dir.join("bundle.json.zst");
        std::fs::write(
            &path,
            bundle_file::encode(&bundle, bundle_file::BundleEncoding::Zstd),
        )
        .unwrap();
        let served = read_bundle_file_to_serve(&path).unwrap();
        assert_eq!(read_bundle_file(&path).unwrap(), bundle);
        let mut tampered = bundle.clone();
        tampered.graph.nodes[0].name.push('x');
        std::fs::write(&path, tampered.to_canonical_json()).unwrap();
        let refused = read_bundle_file_to_serve(&path);
        assert!(served.graph.nodes.is_empty());
        assert_eq!(
            served,
            Bundle {
                graph: Default::default(),
                ..bundle
            }
        );
        // The graph is still covered by the digest before it is dropped.
        assert!(
            matches!(refused, Err(BundleError::Digest(_))),
            "{refused:?}"
        );
    }

    #[test]
    fn a_tampered_compressed_bundle_fails_the_digest() {
        let mut bundle = starfleet_bundle();
        bundle.services[0].timeout_ms += 1;
        let bytes = bundle_file::compress(bundle.to_canonical_json().as_bytes());
        assert!(matches!(
            check_bundle_bytes(&bytes),
            Err(BundleError::Digest(DigestError::Mismatch { .. }))
        ));
    }

    #[test]
    fn a_missing_null_is_a_schema_violation() {
        let text = starfleet_bundle()
            .to_canonical_json()
            .replacen("\"host\":null,", "", 1);
        let Err(BundleError::Schema(violations)) = check_bundle_bytes(text.as_bytes()) else {
            panic!("expected a schema error");
        };
        assert!(
            violations.iter().any(|v| v.message.contains("host")),
            "{violations:?}"
        );
    }

    #[test]
    fn non_utf8_bytes_are_refused() {
        assert!(matches!(
            check_bundle_bytes(b"{\xff}"),
            Err(BundleError::NotUtf8(_))
        ));
    }

    #[test]
    fn malformed_json_is_refused() {
        assert!(matches!(
            check_bundle_bytes(b"{\"format_version\":"),
            Err(BundleError::MalformedJson(_))
        ));
    }

    #[test]
    fn a_schema_violation_reports_its_pointer() {
        let mut document: Value =
            serde_json::from_str(&starfleet_bundle().to_canonical_json()).unwrap();
        document["services"][1]["timeout_ms"] = Value::from("soon");
        let bytes = serde_json::to_vec(&document).unwrap();
        let Err(BundleError::Schema(violations)) = check_bundle_bytes(&bytes) else {
            panic!("expected a schema error");
        };
        assert!(
            violations
                .iter()
                .any(|v| v.pointer == "/services/1/timeout_ms"),
            "{violations:?}"
        );
    }

    #[test]
    fn a_tampered_bundle_fails_the_digest() {
        let mut bundle = starfleet_bundle();
        bundle.services[0].timeout_ms += 1;
        let result = check_bundle_bytes(bundle.to_canonical_json().as_bytes());
        assert!(matches!(
            result,
            Err(BundleError::Digest(DigestError::Mismatch { .. }))
        ));
    }

    #[test]
    fn an_unreadable_file_exits_with_2_and_a_bad_bundle_with_1() {
        let missing = read_bundle_file(Path::new("/nonexistent/bundle.json")).unwrap_err();
        assert_eq!(missing.exit_code(), 2);
        assert_eq!(check_bundle_bytes(b"[").unwrap_err().exit_code(), 1);
    }

    /// `bundle` with its graph dropped, as a bundle to serve comes back.
    fn without_graph(bundle: &Bundle) -> Bundle {
        Bundle {
            graph: Default::default(),
            ..bundle.clone()
        }
    }

    #[test]
    fn a_bundle_to_serve_comes_without_its_graph_in_every_layout() {
        let bundle = starfleet_bundle();
        let compact = bundle.to_canonical_json();
        let pretty = bundle.to_pretty_json();
        assert!(digest::laid_out_compact(compact.as_bytes()));
        assert!(!digest::laid_out_compact(pretty.as_bytes()));
        for text in [&compact, &pretty] {
            assert_eq!(check_bundle_bytes(text.as_bytes()).unwrap(), bundle);
            assert_eq!(
                check_bundle_bytes_to_serve(text.as_bytes()).unwrap(),
                without_graph(&bundle)
            );
        }
        // Compact, but not canonical (a key moved to the end): its text does not hash to the
        // digest, so it is read again whole and checked on what it holds.
        let field = format!(",\"format_version\":{}", bundle.format_version);
        let moved = compact.replacen(&field, "", 1);
        let moved = format!("{}{field}}}", &moved[..moved.len() - 1]);
        assert_ne!(moved, compact);
        assert!(digest::laid_out_compact(moved.as_bytes()));
        assert_eq!(
            check_bundle_bytes_to_serve(moved.as_bytes()).unwrap(),
            without_graph(&bundle)
        );
    }

    #[test]
    fn a_malformed_graph_is_refused_though_not_kept() {
        let bundle = starfleet_bundle();
        // A node kind the schema does not know, in text sealed over it as meshc seals.
        let mut document = meshwork_bundle::canonical_json::sorted_value(&bundle).unwrap();
        document["graph"]["nodes"][0]["kind"] = Value::from("planet");
        document["digest"] = Value::from("");
        let unsealed = serde_json::to_string(&document).unwrap();
        let digest = meshwork_bundle::digest::text_digest(unsealed.as_bytes());
        document["digest"] = Value::from(digest.unwrap().computed);
        let sealed = serde_json::to_string(&document).unwrap();
        assert!(matches!(
            check_bundle_bytes(sealed.as_bytes()),
            Err(BundleError::Schema(_))
        ));
        let served = check_bundle_bytes_to_serve(sealed.as_bytes());
        match served {
            Err(BundleError::Schema(violations)) => assert!(
                violations
                    .iter()
                    .any(|v| v.pointer.starts_with("/graph/nodes/0")),
                "{violations:?}"
            ),
            other => panic!("not refused for its graph: {other:?}"),
        }
    }
}
