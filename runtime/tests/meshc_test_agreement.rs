//! `meshc test` and a live meshd decide the same. The same test cases (a `*.test.mesh` file) are
//! decided by `meshc test`'s runner (the shared decision code, no network) and sent, request
//! for request, to a separate meshd process in front of two real upstreams; the status, the
//! refusing step and route, the service forwarded to, the headers sent upstream and the
//! answer's headers and the topic a produce route writes to (meshd's embedded broker) must
//! agree. A route with a `fault abort 100%` scoped by a header checks that `faults forced`
//! decides (and answers, body included) as meshd's fault stage does. The secrets are the values `meshc test` gives them (`env("NAME")` holds
//! `meshc-test-env-NAME`), handed to meshd in its environment; the JWT key set is the one
//! `meshc test` signed its tokens with, written where the route reads it.

mod agreement_support;
mod fleet_support;
mod scratch;
mod stream_harness;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use agreement_support::stream_output::{expected_stream_output, stream_disagreements};
use agreement_support::{send, upstream, Answer, Received};
use fleet_support::meshd_process::MeshdProcess;
use fleet_support::Scratch;
use meshc::input::test_files::load_tests;
use meshc::test_runner::{replay_cases, run_tests, ReplayCase};
use stream_harness::produce_raw;

/// The cases, sent in this order: each route's buckets are used by one case only, so a live
/// meshd (whose buckets outlive a case) and `meshc test` (fresh buckets per case) see the same.
const TESTS: &str = r#"
test "status answers itself" {
  request GET "/status"
  expect status 200
  expect body "all systems nominal"
}

test "no route" {
  request GET "/warp-core"
  expect status 404
}

test "a route of another method does not match" {
  request DELETE "/status"
  expect status 404
}

test "the helm needs a key" {
  request POST "/helm/bajor"
  expect denied auth
}

test "a wrong key" {
  request POST "/helm/bajor"
  header "x-api-key" "q-was-here"
  expect denied auth
}

test "an ensign may not steer" {
  request POST "/helm/risa"
  as wesley
  expect denied access
}

test "a captain without a stardate" {
  request POST "/helm/risa"
  as picard
  expect denied condition
}

test "a captain sets a course" {
  request POST "/helm/bajor"
  as picard
  header "x-stardate" "41153.7"
  header "cookie" "tribble=1"
  expect forward conn
  expect header "x-helm" "manual"
  expect no_header "cookie"
}

test "the third jump in a minute" {
  request POST "/warp"
  as wesley
  repeat 3
  expect denied rate_limit
}

test "a first jump" {
  request POST "/warp"
  as picard
  expect forward autopilot
  expect response_header "ratelimit-remaining" "1"
}

test "a scan too large" {
  request PUT "/scan"
  body_size 2KiB
  expect denied body_limit
}

test "a small scan" {
  request PUT "/scan"
  body "{\"range\": \"short\"}"
  expect forward conn
}

test "data scans with his token" {
  request GET "/sensors/long-range"
  as data
  expect forward conn
}

test "riker's token is good but he is no scientist" {
  request GET "/sensors/long-range"
  as riker
  expect denied access
}

test "an expired token" {
  request GET "/sensors/long-range"
  as data claims "{\"exp\": 1700000000}"
  expect denied auth
}

test "a token for another audience" {
  request GET "/sensors/long-range"
  as data claims "{\"aud\": \"defiant\"}"
  expect denied auth
}

test "a log entry becomes a record" {
  request POST "/log"
  as picard
  body "{\"entry\": \"engage\"}"
  expect status 200
  expect produce "captains-log"
}

test "the viewscreen answers a preflight from the bridge" {
  request OPTIONS "/viewscreen"
  header "origin" "https://bridge.starfleet.test"
  header "access-control-request-method" "POST"
  expect status 204
  expect response_header "access-control-allow-origin" "https://bridge.starfleet.test"
}

test "the viewscreen refuses a preflight from elsewhere" {
  request OPTIONS "/viewscreen"
  header "origin" "https://borg.example"
  header "access-control-request-method" "POST"
  expect denied cors
}

test "the viewscreen shows the bridge" {
  request POST "/viewscreen"
  header "origin" "https://bridge.starfleet.test"
  from "127.0.0.1:40000"
  expect forward conn
  expect response_header "access-control-allow-origin" "https://bridge.starfleet.test"
}

test "a client from a refused address" {
  request POST "/viewscreen"
  from "127.0.0.9:40000"
  expect denied access
}

test "a red record is raised as an alert" {
  record "captains-log"
  key "enterprise"
  body "{\"severity\": \"red\", \"entry\": \"Borg cube sighted\"}"
  expect emit "red-alerts" key "enterprise"
}

test "a calm record raises nothing" {
  record "captains-log"
  key "calm"
  body "{\"severity\": \"blue\", \"entry\": \"tea, Earl Grey, hot\"}"
  expect filtered red_alerts
}

test "static is dead-lettered" {
  record "captains-log"
  key "static"
  body "static on all frequencies"
  expect dead_letter "captains-log-dlq" reason "invalid_json"
}

test "a chaos probe is aborted by the shields' fault" {
  request GET "/shields"
  header "x-chaos" "on"
  faults forced
  expect fault abort 418
  expect status 418
}

test "the shields without the chaos header are forwarded" {
  request GET "/shields"
  faults forced
  expect no_fault
  expect forward conn
}

test "dot segments are normalized before matching" {
  request GET "/a/../status"
  expect status 200
}
"#;

fn program(conn: SocketAddr, autopilot: SocketAddr, jwks: &std::path::Path) -> String {
    let jwks = jwks.display();
    format!(
        r#"
gateway edge {{
  listen "127.0.0.1:0"
  consumer picard {{ key env("MESHC_AGREE_PICARD")  groups [captains] }}
  consumer wesley {{ key env("MESHC_AGREE_WESLEY")  groups [ensigns] }}
  consumer data {{ jwt subject "data"  groups [science] }}
  consumer riker {{ jwt subject "riker"  groups [officers] }}

  route helm {{
    match POST "/helm/{{course}}"
    auth key header "x-api-key"
    allow groups [captains]
    when request.headers["x-stardate"] != ""
    set_header "x-helm" "manual"
    remove_header "cookie"
    forward conn
  }}

  route warp {{
    match POST "/warp"
    auth key header "x-api-key"
    rate_limit 2/min per consumer
    forward autopilot
  }}

  route scan {{ match PUT "/scan"  public  body_limit 1KiB  forward conn }}

  route status {{ match GET "/status"  public  respond 200 "all systems nominal" }}

  route shields {{
    match GET "/shields"
    public
    fault abort 100% 418 when request.headers["x-chaos"] == "on"
    forward conn
  }}

  route sensors {{
    match GET prefix "/sensors"
    auth jwt issuer "https://id.starfleet.test" audience "enterprise" alg ES256 keys file("{jwks}")
    allow groups [science]
    forward conn
  }}

  route viewscreen {{
    match POST "/viewscreen"
    public
    deny ips ["127.0.0.9/32"]
    cors {{
      origins ["https://bridge.starfleet.test"]
      methods [POST]
    }}
    forward conn
  }}

  route log {{
    match POST "/log"
    auth key header "x-api-key"
    produce topic "captains-log" value raw acks all mode sync
  }}
}}

topic "captains-log" {{ partitions 1 }}
topic "red-alerts" {{ partitions 1 }}
topic "captains-log-dlq" {{ partitions 1 }}

stream red_alerts {{
  from topic "captains-log" group "alerts"
  when event.value.severity == "red"
  to topic "red-alerts" key event.key
  dead_letter "captains-log-dlq"
}}

service conn {{ endpoints ["{conn}"] }}
service autopilot {{ endpoints ["{autopilot}"] }}
"#
    )
}

/// Every difference between what meshc test decided and what meshd did, for one case.
fn disagreements(case: &ReplayCase, answer: &Answer, received: Option<&Received>) -> Vec<String> {
    let outcome = &case.outcome;
    let mut found = Vec::new();
    match (&outcome.forward, outcome.status) {
        (Some(targets), _) => {
            if answer.status != 200 {
                found.push(format!(
                    "meshc test forwards to {targets:?}; meshd answered {}",
                    answer.status
                ));
            }
            match received {
                Some(got) if targets.iter().any(|(s, _)| *s == got.service) => {
                    for (name, value) in &outcome.upstream_headers {
                        if !got.headers.iter().any(|(n, v)| n == name && v == value) {
                            found.push(format!(
                                "meshc test sends {name}: {value} upstream; the upstream got {:?}",
                                got.headers
                            ));
                        }
                    }
                    // A header the client sent that meshc test does not send upstream (a
                    // `remove_header`) must not reach the upstream either.
                    for (name, _) in &case.request.headers {
                        let name = name.as_str();
                        let hop = matches!(name, "host" | "connection" | "content-length");
                        let kept = outcome.upstream_headers.iter().any(|(n, _)| n == name);
                        if !hop && !kept && got.headers.iter().any(|(n, _)| n == name) {
                            found.push(format!("meshc test removes {name}; the upstream got it"));
                        }
                    }
                }
                Some(got) => found.push(format!(
                    "meshc test forwards to {targets:?}; meshd forwarded to {}",
                    got.service
                )),
                None => found.push(format!(
                    "meshc test forwards to {targets:?}; no upstream got the request"
                )),
            }
        }
        (None, Some(status)) => {
            if answer.status != status {
                found.push(format!(
                    "meshc test answers {status}; meshd answered {}",
                    answer.status
                ));
            }
            if received.is_some() {
                found.push("meshd forwarded a request meshc test answers itself".to_string());
            }
            if let Some(produced) = &outcome.produced {
                let answer: serde_json::Value =
                    serde_json::from_slice(&answer.body).unwrap_or_default();
                if answer["topic"] != produced.topic.as_str() {
                    found.push(format!(
                        "meshc test produces to {}; meshd answered {answer}",
                        produced.topic
                    ));
                }
            }
            if let Some(body) = &outcome.body {
                if outcome.refusal.is_none() && &answer.body != body {
                    found.push(format!(
                        "meshc test answers {:?}; meshd answered {:?}",
                        String::from_utf8_lossy(body),
                        String::from_utf8_lossy(&answer.body)
                    ));
                }
            }
        }
        (None, None) => found.push("meshc test decided neither an answer nor a forward".into()),
    }
    let denied_by = answer.headers.get("x-meshwork-denied-by");
    match (&outcome.refusal, denied_by) {
        (Some(refusal), Some(header)) => {
            let route = outcome.route.as_ref().map_or("", |(r, _)| r.as_str());
            let want = format!("route={route}; step={}", refusal.step);
            if !header.starts_with(&want) {
                found.push(format!("meshc test refuses at {want}; meshd says {header}"));
            }
            if let Some(source) = &refusal.source {
                if !header.ends_with(&format!("{}:{}", source.file, source.line)) {
                    found.push(format!(
                        "meshc test names the rule at {}:{}; meshd says {header}",
                        source.file, source.line
                    ));
                }
            }
        }
        (Some(refusal), None) => found.push(format!(
            "meshc test refuses by {}; meshd did not refuse",
            refusal.step
        )),
        (None, Some(header)) => found.push(format!("meshd refused ({header}); meshc test did not")),
        (None, None) => {}
    }
    for (name, value) in &outcome.response_headers {
        if name == "x-meshwork-denied-by" {
            continue;
        }
        match answer.headers.get(name) {
            Some(got) if got == value => {}
            // Seconds left count down while the live requests are sent (meshc test's clock
            // stands still): a slow machine may see a second or two less.
            Some(got)
                if matches!(name.as_str(), "retry-after" | "ratelimit-reset") && {
                    let (want, got) = (value.parse::<u64>(), got.parse::<u64>());
                    matches!((want, got), (Ok(w), Ok(g)) if g <= w && g + 5 >= w)
                } => {}
            got => found.push(format!(
                "meshc test answers {name}: {value}; meshd answered {got:?}"
            )),
        }
    }
    found
}

#[test]
fn meshc_test_and_a_live_meshd_decide_the_same() {
    let scratch = Scratch::new("meshc-test-agreement");
    let received = Arc::new(Mutex::new(Vec::new()));
    let conn = upstream("conn", Arc::clone(&received));
    let autopilot = upstream("autopilot", Arc::clone(&received));
    let program_path = scratch.path("bridge.mesh");
    let jwks_path = scratch.path("jwks.json");
    std::fs::write(&program_path, program(conn, autopilot, &jwks_path)).unwrap();
    let tests_path = scratch.path("bridge.test.mesh");
    std::fs::write(&tests_path, TESTS).unwrap();

    let compilation = meshc::compile_paths(std::slice::from_ref(&program_path)).expect("readable");
    let bundle = compilation.bundle.unwrap_or_else(|| {
        panic!(
            "the program compiles: {:?}",
            compilation
                .diagnostics
                .iter()
                .map(|d| &d.message)
                .collect::<Vec<_>>()
        )
    });
    let tests = load_tests(&[tests_path.display().to_string()]).expect("readable tests");
    assert!(tests.diagnostics.is_empty(), "{:?}", tests.diagnostics);
    // The cases say what they mean: meshc test passes them all.
    let report = run_tests(&bundle, &tests.sources, &tests.files, false).expect("the cases fit");
    assert!(
        report.succeeded(),
        "meshc test fails its own cases:\n{}",
        meshc::test_runner::render::render_human(&report)
    );
    let replay = replay_cases(&bundle, &tests.files).expect("every case is decided");
    let cases = replay.cases;
    assert_eq!(cases.len(), 24, "every case is sent");
    assert_eq!(replay.records.len(), 3, "every record is sent");
    // The key set meshc test signed its tokens with, where the route reads its keys.
    std::fs::write(&jwks_path, &replay.jwks).unwrap();

    // meshd resolves env("MESHC_AGREE_…") from its environment: the values meshc test used.
    // SAFETY: this file's only test; nothing else reads the environment concurrently here.
    unsafe {
        std::env::set_var("MESHC_AGREE_PICARD", "meshc-test-env-MESHC_AGREE_PICARD");
        std::env::set_var("MESHC_AGREE_WESLEY", "meshc-test-env-MESHC_AGREE_WESLEY");
    }
    let meshd = MeshdProcess::start(&[
        "run".to_string(),
        program_path.display().to_string(),
        "--admin".to_string(),
        "127.0.0.1:0".to_string(),
        "--workers".to_string(),
        "1".to_string(),
        "--no-access-log".to_string(),
    ]);
    let gateway = meshd.gateway.expect("meshd logs its gateway listener");
    let bootstrap_line = meshd.wait_for_line(|line| line.contains("bootstrap "));
    let bootstrap = bootstrap_line
        .split("bootstrap ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the embedded broker's address")
        .to_string();

    let mut failures = Vec::new();
    for case in &cases {
        let mut answer = None;
        let mut got = None;
        for _ in 0..case.repeat {
            let before = received.lock().unwrap().len();
            answer = Some(send(gateway, case));
            got = received.lock().unwrap().get(before).cloned();
        }
        let answer = answer.expect("repeat is at least 1");
        for problem in disagreements(case, &answer, got.as_ref()) {
            failures.push(format!("{}: {problem}", case.name));
        }
    }
    for record in &replay.records {
        let headers: Vec<(&str, &[u8])> = record
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        produce_raw(
            &bootstrap,
            &record.topic,
            &[(
                record.key.as_deref().map(str::as_bytes),
                record.value.as_bytes(),
                &headers,
            )],
        );
    }
    // Every record a stream read, from a produce route or a record test, and what it must write.
    let produced = cases.iter().map(|c| {
        let read = c.outcome.produced.as_ref();
        (&c.outcome, read.map(|p| (p.key.clone(), p.value.clone())))
    });
    let recorded = replay.records.iter().map(|r| {
        let key = r.key.as_ref().map(|k| k.as_bytes().to_vec());
        (&r.outcome, Some((key, r.value.as_bytes().to_vec())))
    });
    let mut expected = expected_stream_output(produced.chain(recorded));
    // Topics the streams write but the cases expect nothing on must stay empty.
    for topic in ["red-alerts", "captains-log-dlq"] {
        expected.entry(topic.to_string()).or_default();
    }
    assert!(
        expected.values().map(Vec::len).sum::<usize>() >= 3,
        "the cases make the stream emit and dead-letter: {expected:?}"
    );
    for (topic, records) in &expected {
        failures.extend(stream_disagreements(&bootstrap, topic, records));
    }
    assert!(
        failures.is_empty(),
        "meshc test and meshd disagree:\n{}\nmeshd said:\n{}",
        failures.join("\n"),
        meshd.log().join("\n")
    );
}
