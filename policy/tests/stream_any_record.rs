//! Any record through a stream rule: `when event.value.severity == "red"`, the key reshaped to
//! `event.value.ship`, and the source topic's schema in front. Values are log entries of every
//! shape (fields missing, of other types, nested, extra), edited into invalid JSON at times, and
//! arbitrary bytes. Nothing panics, and the verdict is the one the rule's words say:
//! - a value the schema refuses (the `jsonschema` crate, asked by the test, judges) is refused
//!   before the condition runs, invalid JSON with reason `invalid_json`;
//! - a red entry passes with its ship as the key (a string's bytes, no key for null, any other
//!   value as JSON; an entry without a ship is a `cel_error`);
//! - an entry of another severity is filtered.

use std::sync::Arc;

use meshwork_bundle::topic_schema::CompiledTopicSchema;
use meshwork_bundle::{SourceLocation, Stream, StreamSink, StreamSource};
use meshwork_policy::stream::event_cel::{EventEvaluator, RecordView};
use meshwork_policy::stream::rule::{Reshaped, StreamRule, Verdict};
use proptest::prelude::*;
use serde_json::{json, Value};

fn schema() -> Value {
    json!({
        "type": "object",
        "required": ["severity"],
        "properties": {
            "severity": {"enum": ["green", "yellow", "red"]},
            "stardate": {"type": "number"}
        }
    })
}

fn rule() -> StreamRule {
    let stream = Stream {
        name: "red_alerts".into(),
        from: StreamSource {
            topic: "captains-log".into(),
            group: "alerts".into(),
        },
        when: Some(r#"event.value.severity == "red""#.into()),
        to: Some(StreamSink {
            topic: "red-alerts".into(),
            key: Some("event.value.ship".into()),
            value: None,
            exactly_once: false,
        }),
        deliver: None,
        dead_letter: Some("captains-log-dlq".into()),
        source: SourceLocation {
            file: "streams.mesh".into(),
            line: 1,
            column: 1,
        },
    };
    let compiled = CompiledTopicSchema::compile(&schema()).unwrap();
    StreamRule::compile(&stream, &[])
        .unwrap()
        .with_input_schema(Some(Arc::new(compiled)))
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop::sample::select(vec![0.5, -0.0, 1e308, 47634.44]).prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "red", "green", "yellow", "", "RED", "defiant", "\u{0}"
        ])
        .prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,8}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn entry() -> impl Strategy<Value = Value> {
    let severity = prop_oneof![
        4 => prop::sample::select(vec!["red", "green", "yellow"]).prop_map(|s| Some(Value::from(s))),
        1 => Just(None),
        1 => value().prop_map(Some),
    ];
    let ship = prop_oneof![
        4 => prop::sample::select(vec!["enterprise", "defiant", ""]).prop_map(|s| Some(Value::from(s))),
        1 => Just(None),
        1 => value().prop_map(Some),
    ];
    (severity, ship, prop::option::weighted(0.3, value())).prop_map(|(severity, ship, extra)| {
        let mut map = serde_json::Map::new();
        for (name, value) in [("severity", severity), ("ship", ship), ("extra", extra)] {
            if let Some(value) = value {
                map.insert(name.to_string(), value);
            }
        }
        Value::Object(map)
    })
}

fn record_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => entry().prop_map(|e| serde_json::to_vec(&e).unwrap()),
        2 => (entry(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(e, at, byte)| {
            let mut bytes = serde_json::to_vec(&e).unwrap();
            let i = at.index(bytes.len());
            bytes[i] = byte;
            bytes
        }),
        1 => value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => prop::collection::vec(any::<u8>(), 0..100),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn a_record_gets_the_verdict_the_rule_says(bytes in record_value()) {
        let rule = rule();
        let judge = jsonschema::validator_for(&schema()).unwrap();
        let view = RecordView {
            topic: "captains-log",
            partition: 0,
            offset: 7,
            key: Some(b"k"),
            value: Some(&bytes),
            headers: None,
            timestamp_ms: None,
        };
        let verdict = rule.judge(&EventEvaluator::default(), &view);
        let parsed = serde_json::from_slice::<Value>(&bytes);
        let Ok(document) = parsed else {
            let Verdict::Refused(rejection) = &verdict else {
                return Err(TestCaseError::fail(format!("invalid JSON got {verdict:?}")));
            };
            prop_assert_eq!(rejection.reason(), "invalid_json");
            return Ok(());
        };
        if !judge.is_valid(&document) {
            prop_assert!(matches!(verdict, Verdict::Refused(_)), "{:?} for {}", verdict, document);
            return Ok(());
        }
        if document["severity"] != "red" {
            prop_assert_eq!(verdict, Verdict::Filtered, "{}", document);
            return Ok(());
        }
        match document.get("ship") {
            // No ship: the key cannot be made.
            None => {
                let Verdict::Failed(error) = &verdict else {
                    return Err(TestCaseError::fail(format!("{verdict:?} for {document}")));
                };
                prop_assert_eq!(error.reason(), "cel_error");
            }
            Some(ship) => {
                // A string's bytes, no key for null, else the value as JSON.
                let Verdict::Pass { key: Reshaped::Replace(key), value: Reshaped::Keep } = &verdict
                else {
                    return Err(TestCaseError::fail(format!("{verdict:?} for {document}")));
                };
                match (ship, key) {
                    (Value::String(text), Some(key)) => prop_assert_eq!(key, text.as_bytes()),
                    (Value::Null, None) => {}
                    (other, Some(key)) => {
                        let written: Value = serde_json::from_slice(key).unwrap();
                        prop_assert_eq!(&written, other, "{}", document);
                    }
                    (other, None) => {
                        return Err(TestCaseError::fail(format!("no key for ship {other}")));
                    }
                }
            }
        }
    }
}
