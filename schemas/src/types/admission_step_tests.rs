//! The one-pass admission step reader against serde's derived reader (kept as
//! `AdmissionStep::deserialize` by `remote = "Self"`): both accept the same objects, read the same
//! step from them, and refuse the same edits.

use serde_json::{json, Value};

use super::route::AdmissionStep;
use super::tagged::StringTag;
use crate::sample::starfleet_bundle;

fn derived(text: &str) -> Result<AdmissionStep, String> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    AdmissionStep::deserialize(StringTag(&mut deserializer)).map_err(|e| e.to_string())
}

fn one_pass(text: &str) -> Result<AdmissionStep, String> {
    serde_json::from_str::<AdmissionStep>(text).map_err(|e| e.to_string())
}

/// Every step of the sample bundle, and a fault of each kind.
fn steps() -> Vec<Value> {
    let mut steps: Vec<Value> = starfleet_bundle()
        .gateways
        .iter()
        .flat_map(|g| &g.routes)
        .flat_map(|r| &r.admission)
        .map(|step| serde_json::to_value(step).unwrap())
        .collect();
    let source = json!({"file": "a.mesh", "line": 3, "column": 5});
    steps.push(
        json!({"step": "fault", "action": {"kind": "abort", "status": 503},
        "percent": 10, "when": null, "source": source}),
    );
    steps.push(
        json!({"step": "fault", "action": {"kind": "delay", "delay_ms": 20},
        "percent": 100, "when": "request.method == \"GET\"", "source": source}),
    );
    steps.push(
        json!({"step": "rate_limit", "count": 5, "period_ms": 1000, "per": "ip",
        "burst": 9, "shared": true, "on_store_failure": "closed", "source": source}),
    );
    steps
}

/// The object's text with its keys in the given order.
fn text_in_order(object: &serde_json::Map<String, Value>, keys: &[&String]) -> String {
    let fields: Vec<String> = keys
        .iter()
        .map(|k| format!("{}:{}", Value::from(k.as_str()), object[k.as_str()]))
        .collect();
    format!("{{{}}}", fields.join(","))
}

#[test]
fn every_step_reads_the_same_in_any_key_order() {
    let steps = steps();
    let kinds: std::collections::BTreeSet<&str> =
        steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(kinds.len(), 8, "not every kind of step is tried: {kinds:?}");
    for step in &steps {
        let object = step.as_object().unwrap();
        let mut keys: Vec<&String> = object.keys().collect();
        keys.sort();
        let sorted = text_in_order(object, &keys);
        let expected = derived(&sorted).unwrap();
        assert_eq!(one_pass(&sorted).unwrap(), expected, "{sorted}");
        keys.reverse();
        let reversed = text_in_order(object, &keys);
        assert_eq!(one_pass(&reversed).unwrap(), expected, "{reversed}");
        keys.rotate_left(1);
        let rotated = text_in_order(object, &keys);
        assert_eq!(one_pass(&rotated).unwrap(), expected, "{rotated}");
    }
}

#[test]
fn both_readers_refuse_the_same_edits() {
    let foreign = [
        ("method", json!({"kind": "basic", "realm": null})),
        ("values", json!(["a"])),
        ("count", json!(1)),
        ("burst", json!(null)),
        ("cel", json!("true")),
        ("max_bytes", json!(10)),
        ("percent", json!(5)),
        ("name", json!("x-a")),
        ("value", json!(null)),
        ("unheard_of", json!(1)),
    ];
    let mut edits: Vec<String> = Vec::new();
    for step in steps() {
        let object = step.as_object().unwrap();
        for key in object.keys() {
            let mut without = object.clone();
            without.remove(key);
            edits.push(Value::Object(without).to_string());
            for bad in [json!(null), json!("?"), json!(-1), json!(101), json!([0])] {
                let mut edited = object.clone();
                edited.insert(key.clone(), bad);
                edits.push(Value::Object(edited).to_string());
            }
        }
        for (key, value) in &foreign {
            if !object.contains_key(*key) {
                let mut edited = object.clone();
                edited.insert((*key).to_string(), value.clone());
                edits.push(Value::Object(edited).to_string());
            }
        }
        for tag in ["auth", "fault", "header", "nothing", ""] {
            let mut edited = object.clone();
            edited.insert("step".into(), json!(tag));
            edits.push(Value::Object(edited).to_string());
        }
        let text = step.to_string();
        let (first, rest) = text.split_at(1);
        edits.push(format!("{first}\"step\":\"auth\",{rest}"));
        edits.push(format!("{first}\"source\":{},{rest}", step["source"]));
    }
    edits.extend(["[]", "[\"auth\"]", "7", "null", "\"auth\"", "{}"].map(String::from));
    let mut checked = 0;
    for edit in &edits {
        let (derived, one_pass) = (derived(edit), one_pass(edit));
        match (&derived, &one_pass) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{edit}"),
            (Err(_), Err(_)) => checked += 1,
            _ => {
                panic!("the readers disagree on {edit}: derived {derived:?}, one pass {one_pass:?}")
            }
        }
    }
    assert!(checked > 200, "only {checked} refusals were compared");
}

#[test]
fn the_refusals_name_the_field_as_serde_does() {
    let source = r#"{"column":5,"file":"a.mesh","line":3}"#;
    let cases = [
        format!(r#"{{"cel":"true","source":{source}}}"#),
        format!(r#"{{"cel":"true","source":{source},"step":"auth"}}"#),
        format!(r#"{{"cel":"true","source":{source},"step":"condition","count":1}}"#),
        format!(r#"{{"cel":"true","source":{source},"step":"condition","zz":1}}"#),
        format!(r#"{{"step":"condition","source":{source}}}"#),
        format!(r#"{{"step":"nope","source":{source}}}"#),
        format!(r#"{{"step":0,"source":{source}}}"#),
    ];
    for case in &cases {
        let (derived, one_pass) = (derived(case).unwrap_err(), one_pass(case).unwrap_err());
        // serde's buffered reader reports some errors at the end of the object; the message
        // before the position is the same.
        let head = |e: &str| e.split(" at line ").next().unwrap().to_string();
        assert_eq!(head(&one_pass), head(&derived), "{case}");
    }
}
