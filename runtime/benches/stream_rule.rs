//! The per-record cost of a stream's decision: JSON into CEL values, then the condition, on a
//! 100-byte record. `cargo bench -p meshd --bench stream_rule`.

use criterion::{criterion_group, criterion_main, Criterion};
use meshd::stream::event_cel::{EventEvaluator, RecordView};
use meshd::stream::json_cel::parse_json;
use meshd::stream::rule::{StreamRule, Verdict};
use meshwork_bundle::{SourceLocation, Stream, StreamSink, StreamSource};

const RED: &[u8] =
    br#"{"id":"00000042","severity":"red","ship":"enterprise","note":"captain log, stardate 41153.7 ##"}"#;

fn rule(when: &str) -> StreamRule {
    StreamRule::compile(
        &Stream {
            name: "red_alerts".into(),
            from: StreamSource {
                topic: "log".into(),
                group: "bench".into(),
            },
            when: Some(when.into()),
            to: Some(StreamSink {
                topic: "red".into(),
                key: None,
                value: None,
                exactly_once: false,
            }),
            deliver: None,
            dead_letter: None,
            source: SourceLocation {
                file: "bench.mesh".into(),
                line: 1,
                column: 1,
            },
        },
        &[],
    )
    .expect("compiles")
}

fn view(value: &[u8]) -> RecordView<'_> {
    RecordView {
        topic: "log",
        partition: 0,
        offset: 42,
        key: Some(b"key"),
        value: Some(value),
        headers: None,
        timestamp_ms: Some(1_700_000_000_000),
    }
}

fn benches(c: &mut Criterion) {
    let evaluator = EventEvaluator::default();
    c.bench_function("parse_json_100_bytes", |b| {
        b.iter(|| parse_json(std::hint::black_box(RED)).expect("json"))
    });
    let on_value = rule(r#"event.value.severity == "red""#);
    c.bench_function("judge_condition_on_json_value", |b| {
        b.iter(|| {
            let verdict = on_value.judge(&evaluator, &view(std::hint::black_box(RED)));
            assert!(matches!(verdict, Verdict::Pass { .. }));
        })
    });
    let on_key = rule(r#"event.key == "key""#);
    c.bench_function("judge_condition_on_key", |b| {
        b.iter(|| on_key.judge(&evaluator, &view(std::hint::black_box(RED))))
    });
}

criterion_group!(stream_rule, benches);
criterion_main!(stream_rule);
