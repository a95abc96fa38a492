//! The `sources` list of the bundle: each compiled file's path and the SHA-256 of its text.

use meshwork_bundle::SourceDigest;
use sha2::{Digest, Sha256};

use crate::source::{FileId, SourceMap};
use crate::syntax::ast;

/// One entry per compiled file, sorted by path, without duplicates.
pub fn source_digests(sources: &SourceMap, files: &[(FileId, ast::File)]) -> Vec<SourceDigest> {
    let mut digests: Vec<SourceDigest> = files
        .iter()
        .map(|(id, _)| {
            let file = sources.file(*id);
            SourceDigest {
                path: file.path.clone(),
                sha256: hex::encode(Sha256::digest(file.text.as_bytes())),
            }
        })
        .collect();
    digests.sort_by(|a, b| a.path.cmp(&b.path));
    digests.dedup_by(|a, b| a.path == b.path);
    digests
}
