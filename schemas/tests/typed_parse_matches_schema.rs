//! The typed parse is the reader's schema check: on random edits of real bundles (a key removed,
//! an unknown key added, a value replaced by one of another type or range), a document the
//! typed parse accepts is one `bundle.schema.json` accepts. `meshd` relies on this to check
//! bundles without building a JSON tree.

use meshwork_bundle::sample::starfleet_bundle;
use meshwork_bundle::{Bundle, BUNDLE_SCHEMA};
use proptest::prelude::*;
use serde_json::Value;
use std::sync::LazyLock;

static VALIDATOR: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(BUNDLE_SCHEMA).unwrap();
    jsonschema::validator_for(&schema).unwrap()
});

static SAMPLE: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(&starfleet_bundle().to_canonical_json()).unwrap());

/// Every location in `value` as a path of keys and indices (the root excluded).
fn locations(value: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    let children: Vec<(Value, &Value)> = match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (Value::from(k.as_str()), v))
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (Value::from(i), v))
            .collect(),
        _ => return,
    };
    for (step, child) in children {
        path.push(step);
        out.push(path.clone());
        locations(child, path, out);
        path.pop();
    }
}

fn parent_of<'v>(document: &'v mut Value, path: &[Value]) -> &'v mut Value {
    let mut here = document;
    for step in path {
        here = match step {
            Value::String(key) => &mut here[key.as_str()],
            _ => &mut here[step.as_u64().unwrap() as usize],
        };
    }
    here
}

/// Values of other types and ranges that an edit puts in place of an existing one.
fn replacements() -> Vec<Value> {
    serde_json::from_str(
        r#"[null, true, 0, 1, 42, 100, 101, 599, 600, -1, 1.5, 4294967296, "", "x",
            "sha256:0000", [], [1], {}, {"kind": "x"}]"#,
    )
    .unwrap()
}

#[derive(Debug, Clone)]
enum Edit {
    Remove(usize),
    AddUnknown(usize),
    Replace(usize, usize),
}

fn apply(document: &mut Value, targets: &[Vec<Value>], edit: &Edit) {
    match edit {
        Edit::Remove(at) => {
            let path = &targets[at % targets.len()];
            let (last, parents) = path.split_last().unwrap();
            match (parent_of(document, parents), last) {
                (Value::Object(map), Value::String(key)) => {
                    map.remove(key);
                }
                (Value::Array(items), index) => {
                    items.remove(index.as_u64().unwrap() as usize);
                }
                _ => {}
            }
        }
        Edit::AddUnknown(at) => {
            let path = &targets[at % targets.len()];
            if let Value::Object(map) = parent_of(document, path) {
                map.insert("surprise".to_string(), Value::Bool(true));
            }
        }
        Edit::Replace(at, with) => {
            let path = &targets[at % targets.len()];
            let values = replacements();
            *parent_of(document, path) = values[with % values.len()].clone();
        }
    }
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::Remove),
        any::<usize>().prop_map(Edit::AddUnknown),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Replace(a, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn what_the_typed_parse_accepts_the_schema_accepts(edits in prop::collection::vec(edit_strategy(), 1..3)) {
        let mut document = SAMPLE.clone();
        for edit in &edits {
            let mut targets = Vec::new();
            locations(&document, &mut Vec::new(), &mut targets);
            apply(&mut document, &targets, edit);
        }
        let typed = serde_json::from_value::<Bundle>(document.clone());
        if typed.is_ok() {
            let errors: Vec<String> = VALIDATOR
                .iter_errors(&document)
                .map(|e| format!("{}: {e}", e.instance_path()))
                .collect();
            prop_assert!(errors.is_empty(), "typed parse accepted what the schema refuses after {edits:?}: {errors:?}");
        }
    }
}
