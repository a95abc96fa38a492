//! Any bytes as a bundle: refused with a reason and exit code 1, never a panic. And the two ways
//! meshd reads a sealed bundle agree on every document: whole (`meshd validate`, tools), and to
//! serve, where the program graph is checked by shape without being built. The documents are
//! the sample bundle with one value replaced, removed or repeated anywhere (half of the time
//! inside the graph), sealed again as meshc seals, so each reaches the typed readers rather than
//! stopping at the digest: every refusal must then come from the schema, the bundle's published
//! contract, and never call the JSON malformed.

use meshd::load::{check_bundle_bytes, check_bundle_bytes_to_serve, BundleError};
use meshwork_bundle::bundle_file::{encode, BundleEncoding};
use meshwork_bundle::digest::text_digest;
use meshwork_bundle::sample::starfleet_bundle;
use meshwork_bundle::Bundle;
use proptest::prelude::*;
use serde_json::Value;

/// A refusal in terms that can be compared: its message, and each violation or source below it.
fn describe(error: &BundleError) -> String {
    let mut text = error.to_string();
    match error {
        BundleError::Schema(violations) => {
            for violation in violations {
                text.push_str(&format!("\n{}: {}", violation.pointer, violation.message));
            }
        }
        other => {
            let mut source = std::error::Error::source(other);
            while let Some(cause) = source {
                text.push_str(&format!("\n{cause}"));
                source = cause.source();
            }
        }
    }
    text
}

fn refused_with_exit_1(result: Result<Bundle, BundleError>) -> Result<(), TestCaseError> {
    match result {
        Ok(_) => Err(TestCaseError::fail("noise was accepted as a bundle")),
        Err(error) => {
            prop_assert_eq!(error.exit_code(), 1, "{}", describe(&error));
            Ok(())
        }
    }
}

/// How a document is changed at one place.
#[derive(Debug, Clone)]
enum Change {
    Replace(Value),
    Remove,
    Repeat,
}

fn replacement() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        Value::Null,
        Value::from(true),
        Value::from(0),
        Value::from(-1),
        Value::from(1u64 << 32),
        Value::from(u64::MAX),
        Value::from(1.5),
        Value::from(""),
        Value::from("planet"),
        Value::from("spiffe://starfleet/picard"),
        Value::from("/"),
        Value::Array(vec![]),
        Value::Array(vec![Value::Null]),
        serde_json::json!({}),
        serde_json::json!({"kind": "route"}),
    ])
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        3 => replacement().prop_map(Change::Replace),
        1 => Just(Change::Remove),
        1 => Just(Change::Repeat),
    ]
}

/// Every place in `value`, as JSON pointer tokens.
fn places(value: &Value, at: &mut Vec<String>, all: &mut Vec<Vec<String>>) {
    all.push(at.clone());
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                at.push(key.clone());
                places(child, at, all);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                at.push(i.to_string());
                places(child, at, all);
                at.pop();
            }
        }
        _ => {}
    }
}

/// `document` with `change` made at `place` (not the root), when it can be made there.
fn changed(mut document: Value, place: &[String], change: &Change) -> Option<Value> {
    let (last, parent_at) = place.split_last()?;
    let mut parent = &mut document;
    for token in parent_at {
        parent = match parent {
            Value::Object(map) => map.get_mut(token)?,
            Value::Array(items) => items.get_mut(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    match (parent, change) {
        (Value::Object(map), Change::Replace(value)) => {
            map.insert(last.clone(), value.clone());
        }
        (Value::Object(map), Change::Remove) => {
            map.remove(last);
        }
        (Value::Array(items), Change::Replace(value)) => {
            items[last.parse::<usize>().ok()?] = value.clone()
        }
        (Value::Array(items), Change::Remove) => {
            items.remove(last.parse::<usize>().ok()?);
        }
        (Value::Array(items), Change::Repeat) => {
            let i = last.parse::<usize>().ok()?;
            items.insert(i, items[i].clone());
        }
        _ => return None,
    }
    Some(document)
}

/// `document` sealed as meshc seals it: compact canonical text whose digest is of that text
/// with the digest empty.
fn sealed(mut document: Value) -> String {
    if let Value::Object(map) = &mut document {
        map.insert("digest".to_string(), Value::from(""));
        let unsealed = serde_json::to_string(&document).unwrap();
        let digest = text_digest(unsealed.as_bytes()).map(|d| d.computed);
        if let (Value::Object(map), Some(digest)) = (&mut document, digest) {
            map.insert("digest".to_string(), Value::from(digest));
        }
    }
    serde_json::to_string(&document).unwrap()
}

fn sample_document() -> Value {
    meshwork_bundle::canonical_json::sorted_value(&starfleet_bundle()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_are_refused_with_exit_1(
        bytes in prop::collection::vec(any::<u8>(), 0..2000),
        zstd in any::<bool>(),
    ) {
        // Behind zstd's magic number, the bytes reach the decompressor as a compressed bundle.
        let bytes = match zstd {
            true => [&[0x28, 0xb5, 0x2f, 0xfd][..], &bytes].concat(),
            false => bytes,
        };
        refused_with_exit_1(check_bundle_bytes(&bytes))?;
        refused_with_exit_1(check_bundle_bytes_to_serve(&bytes))?;
    }

    #[test]
    fn bytes_edited_in_a_sealed_bundle_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        compressed in any::<bool>(),
    ) {
        let bundle = starfleet_bundle();
        let mut bytes = encode(&bundle, if compressed { BundleEncoding::Zstd } else { BundleEncoding::Json });
        for (at, byte) in &edits {
            let i = at.index(bytes.len());
            bytes[i] = *byte;
        }
        for result in [check_bundle_bytes(&bytes), check_bundle_bytes_to_serve(&bytes)] {
            if let Err(error) = result {
                prop_assert_eq!(error.exit_code(), 1);
            }
        }
    }

    #[test]
    fn a_resealed_document_is_judged_alike_whole_and_to_serve(
        in_graph in any::<bool>(),
        at in any::<prop::sample::Index>(),
        change in change(),
    ) {
        let document = sample_document();
        let mut all = Vec::new();
        places(&document, &mut Vec::new(), &mut all);
        let candidates: Vec<&Vec<String>> = all
            .iter()
            .filter(|place| !place.is_empty() && (place[0] == "graph") == in_graph)
            .collect();
        let place = candidates[at.index(candidates.len())];
        let Some(document) = changed(document, place, &change) else {
            return Ok(());
        };
        let text = sealed(document);
        let whole = check_bundle_bytes(text.as_bytes());
        let served = check_bundle_bytes_to_serve(text.as_bytes());
        match (whole, served) {
            (Ok(whole), Ok(served)) => {
                prop_assert_eq!(served, Bundle { graph: Default::default(), ..whole });
            }
            (Err(whole), Err(served)) => {
                prop_assert_eq!(describe(&served), describe(&whole));
                // The text is JSON, and the schema is the whole contract: what the types refuse,
                // the schema names (or the digest, when the change was to the digest itself).
                prop_assert!(
                    matches!(whole, BundleError::Schema(_) | BundleError::Digest(_)),
                    "at /{}: {}", place.join("/"), describe(&whole)
                );
            }
            (whole, served) => {
                return Err(TestCaseError::fail(format!(
                    "at /{}: read whole {:?}, to serve {:?}",
                    place.join("/"),
                    whole.map(|_| "accepted").map_err(|e| describe(&e)),
                    served.map(|_| "accepted").map_err(|e| describe(&e)),
                )));
            }
        }
    }
}

/// The generator reaches both verdicts: a reseal of the sample as it is passes both readers, and
/// a node kind the schema does not know fails both.
#[test]
fn a_resealed_sample_passes_and_a_foreign_node_kind_fails_both_ways() {
    let text = sealed(sample_document());
    assert!(check_bundle_bytes(text.as_bytes()).is_ok());
    assert!(check_bundle_bytes_to_serve(text.as_bytes()).is_ok());
    let place: Vec<String> = ["graph", "nodes", "0", "kind"].map(String::from).to_vec();
    let foreign = changed(
        sample_document(),
        &place,
        &Change::Replace(Value::from("planet")),
    );
    let text = sealed(foreign.unwrap());
    assert!(check_bundle_bytes(text.as_bytes()).is_err());
    assert!(check_bundle_bytes_to_serve(text.as_bytes()).is_err());
}
