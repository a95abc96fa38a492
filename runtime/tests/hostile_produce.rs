//! A produce route with a topic schema under hostile bodies, against a meshd process and its
//! embedded broker: log entries of every shape (wrong types, missing and extra fields, nesting,
//! long strings), edited into invalid JSON at times, and arbitrary bytes. Each is answered 200
//! when it is a JSON document the topic's schema accepts (the `jsonschema` crate, asked by the
//! test, is the judge) and 400 or 422 otherwise; never a 5xx with the broker up. Afterwards the
//! topic holds exactly the acknowledged records, each at the offset its answer named, with the
//! bytes that were sent: nothing refused was written, nothing acknowledged was lost.

#[allow(dead_code)] // shared with the fleet tests, which use all of it
#[path = "fleet_support/meshd_process.rs"]
mod meshd_process;
mod stream_harness;
mod wire_messages;

use std::net::SocketAddr;

use meshd_process::MeshdProcess;
use proptest::prelude::*;
use serde_json::{json, Value};
use wire_messages::*;

const SCHEMA: &str = include_str!("../../examples/starfleet/captains-log.schema.json");

const PROGRAM: &str = r#"
topic "captains-log" { partitions 1 schema "captains-log.schema.json" }
gateway edge {
  listen "127.0.0.1:0"
  route log { match POST "/log" public produce topic "captains-log" value raw acks all mode sync }
}
"#;

/// Values of every JSON type, including the ones the schema asks for and the edges of its bounds.
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        prop::sample::select(vec![0.0, -1.0, 47634.44, 1e308, -0.0]).prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "red",
            "green",
            "yellow",
            "",
            "plaid",
            "\u{0}",
            "\u{1F596}"
        ])
        .prop_map(Value::from),
        (0usize..5000).prop_map(|n| Value::from("e".repeat(n))),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..3)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A log entry: each field present or not, with a likely value or any value, sometimes more.
fn entry() -> impl Strategy<Value = Value> {
    let field = |likely: BoxedStrategy<Value>| prop_oneof![1 => Just(None), 4 => likely.prop_map(Some), 1 => value().prop_map(Some)];
    (
        field(prop_oneof![Just(json!(47634.44)), Just(json!(0))].boxed()),
        field(
            prop::sample::select(vec!["red", "green", "yellow"])
                .prop_map(Value::from)
                .boxed(),
        ),
        field(Just(json!("We are under attack.")).boxed()),
        prop::option::weighted(0.2, value()),
    )
        .prop_map(|(stardate, severity, text, extra)| {
            let mut map = serde_json::Map::new();
            for (name, value) in [
                ("stardate", stardate),
                ("severity", severity),
                ("entry", text),
                ("extra", extra),
            ] {
                if let Some(value) = value {
                    map.insert(name.to_string(), value);
                }
            }
            Value::Object(map)
        })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => entry().prop_map(|entry| serde_json::to_vec(&entry).unwrap()),
        2 => (entry(), prop::collection::vec(edit(), 1..3))
            .prop_map(|(entry, edits)| apply(serde_json::to_vec(&entry).unwrap(), &edits)),
        1 => value().prop_map(|value| serde_json::to_vec(&value).unwrap()),
        1 => prop::collection::vec(any::<u8>(), 0..200),
    ]
}

/// Posts `body` to `/log`: meshd's answer (status, and the offset of a 200).
fn post(edge: SocketAddr, body: &[u8]) -> Result<(u16, Option<i64>), String> {
    let mut request = format!(
        "POST /log HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    let answer = exchange(edge, &request)?;
    let answers = read_responses(&answer, false)?;
    let [only] = &answers[..] else {
        return Err(format!(
            "{} answers: {}",
            answers.len(),
            String::from_utf8_lossy(&answer)
        ));
    };
    let text = String::from_utf8_lossy(&answer);
    let json_at = text.find("\r\n\r\n").map_or(0, |at| at + 4);
    let offset = serde_json::from_str::<Value>(&text[json_at..])
        .ok()
        .and_then(|v| v["offset"].as_i64());
    Ok((only.status, offset))
}

#[test]
fn every_body_is_judged_by_the_schema_and_the_topic_holds_exactly_what_was_acknowledged() {
    let (meshd, _program) = MeshdProcess::run_program(
        "hostile-produce",
        &[("captains-log.schema.json", SCHEMA), ("edge.mesh", PROGRAM)],
    );
    let edge = meshd.gateway.expect("the gateway listens");
    let bootstrap = meshd
        .wait_for_line(|line| line.contains("bootstrap "))
        .split("bootstrap ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the embedded broker's address")
        .to_string();
    let judge = jsonschema::validator_for(&serde_json::from_str(SCHEMA).unwrap()).unwrap();

    let acknowledged = std::sync::Mutex::new(Vec::new());
    let mut runner = runner(400);
    let result = runner.run(&body(), |body| {
        let (status, offset) = post(edge, &body).map_err(TestCaseError::fail)?;
        let valid = serde_json::from_slice::<Value>(&body).is_ok_and(|v| judge.is_valid(&v));
        let shown = String::from_utf8_lossy(&body)
            .chars()
            .take(300)
            .collect::<String>();
        if valid {
            prop_assert_eq!(status, 200, "a valid entry: {}", shown);
            let offset = offset.ok_or_else(|| TestCaseError::fail("a 200 without its offset"))?;
            acknowledged.lock().unwrap().push((offset, body));
        } else {
            prop_assert!([400, 422].contains(&status), "{} for {}", status, shown);
        }
        Ok(())
    });
    meshd.assert_passed(result);
    let mut acknowledged = acknowledged.into_inner().unwrap();
    acknowledged.sort();
    assert!(
        acknowledged.len() > 50,
        "too few valid entries to say anything: {}",
        acknowledged.len()
    );
    // Everything up to the high watermark: records written beside the acknowledged ones show.
    let records = stream_harness::read_all(&bootstrap, "captains-log", 1);
    let held: Vec<(i64, Vec<u8>)> = records.into_iter().map(|r| (r.offset, r.value)).collect();
    assert_eq!(
        held.len(),
        acknowledged.len(),
        "the topic holds other than what was acknowledged"
    );
    assert!(
        held == acknowledged,
        "records differ from the acknowledged bodies"
    );
    meshd.assert_no_panic();
}
