//! Every bundle the golden tests committed (`golden-tests/*.expected`, the JSON after the
//! diagnostics) prints back byte for byte, by the streaming serializer and by the `Value`-tree
//! reference path alike, and its recorded digest still holds.

use std::path::{Path, PathBuf};

use meshwork_bundle::canonical_json::{sorted_value, to_pretty_text};
use meshwork_bundle::Bundle;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("schemas/ has a parent")
        .join("golden-tests")
}

/// The pretty bundle JSON at the end of an expected output: from the line that is exactly `{`.
fn bundle_text(expected: &str) -> Option<&str> {
    if expected.starts_with("{\n") {
        return Some(expected);
    }
    expected.find("\n{\n").map(|at| &expected[at + 1..])
}

/// (case name, bundle JSON as committed) for every golden case that compiles.
fn golden_bundles() -> Vec<(String, String)> {
    let mut bundles = Vec::new();
    for entry in std::fs::read_dir(golden_dir()).expect("golden-tests/ exists") {
        let path = entry.expect("readable entry").path();
        if path.extension().is_none_or(|e| e != "expected") {
            continue;
        }
        let expected = std::fs::read_to_string(&path).expect("readable expected output");
        if let Some(text) = bundle_text(&expected) {
            let name = path
                .file_stem()
                .expect("a file name")
                .to_string_lossy()
                .into_owned();
            bundles.push((name, text.to_string()));
        }
    }
    bundles.sort();
    bundles
}

#[test]
fn every_golden_bundle_prints_back_byte_for_byte_both_ways() {
    let bundles = golden_bundles();
    assert!(
        bundles.len() >= 40,
        "only {} golden bundles found",
        bundles.len()
    );
    for (name, committed) in &bundles {
        let bundle = Bundle::from_json(committed).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            &bundle.to_pretty_json(),
            committed,
            "{name}: streaming pretty text"
        );
        let tree = sorted_value(&bundle).expect("a bundle serializes");
        assert_eq!(
            &to_pretty_text(&tree),
            committed,
            "{name}: reference pretty text"
        );
        assert_eq!(
            bundle.to_canonical_json(),
            serde_json::to_string(&tree).expect("a Value prints"),
            "{name}: canonical text"
        );
        assert_eq!(bundle.verify_digest(), Ok(()), "{name}: recorded digest");
    }
}
