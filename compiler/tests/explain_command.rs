//! `meshc explain`: the route the shared matcher picks, the precedence step that put it before
//! each other matching route, the admission steps in order and the destination; 404/405; and
//! the exit codes for a bad request line or a broken program.

mod scratch;
use scratch::Scratch;

use std::path::Path;
use std::process::{Command, Output};

fn meshc(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshc"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("meshc runs")
}

const FLEET: &str = r#"gateway edge {
  listen "127.0.0.1:8080"
  consumer picard { key env("PICARD_KEY") groups [captains] }
  route officer { match GET "/officers/{id}" auth key header "x-api-key" allow groups [captains] rate_limit 5/min per consumer when request.headers["x-stardate"] != "" forward picard }
  route officer_me { match GET "/officers/me" public respond 200 "you" }
  route beta { match GET "/officers/{id}" header "x-beta" "1" public forward picard 80%, riker }
  route bridge_host { match prefix "/" host "bridge.starfleet.test" public respond 200 "bridge" }
  route everything { match prefix "/" public respond 404 "nothing here" }
  route log { match POST "/log" auth key header "x-api-key" produce topic "captains-log" acks all }
}
service picard { endpoints ["127.0.0.1:9101"] timeout 2s retry 2 on [connect_failure, 503] backoff 25ms..250ms }
service riker { endpoints ["127.0.0.1:9103"] }
mesh {
  default deny
  allow edge -> picard
  allow edge -> riker when request.method == "GET"
}
"#;

fn fleet_dir(name: &str) -> Scratch {
    let dir = Scratch::new(&format!("explain-{name}"));
    std::fs::write(dir.join("fleet.mesh"), FLEET).expect("write");
    dir
}

fn explain(dir: &Path, request: &str, headers: &[&str]) -> (Option<i32>, String) {
    let mut args = vec!["explain", "fleet.mesh", "--request", request];
    for h in headers {
        args.extend(["--header", h]);
    }
    let out = meshc(&args, dir);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_winner_is_named_with_the_step_that_beat_each_other_match() {
    let dir = fleet_dir("winner");
    let (code, text) = explain(
        &dir,
        "GET http://api.starfleet.test/officers/7",
        &["x-api-key: k", "x-stardate: 41153.7"],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("route `officer` wins: GET \"/officers/{id}\""),
        "{text}"
    );
    assert!(text.contains("path parameters: id = \"7\""), "{text}");
    assert!(
        text.contains(
            "over `everything` (* prefix \"/\"): officer has the more specific path match type"
        ),
        "{text}"
    );
    let admission = text
        .split("admission, in order")
        .nth(1)
        .expect("admission listed");
    let order: Vec<usize> = [
        "auth: API key in header `x-api-key` (sent)",
        "access: allow only groups [captains]",
        "rate limit: 5 per minute per consumer",
        "condition: request.headers[\"x-stardate\"] != \"\"",
    ]
    .iter()
    .map(|step| {
        admission
            .find(step)
            .unwrap_or_else(|| panic!("{step} in {admission}"))
    })
    .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "admission in execution order: {admission}"
    );
    assert!(
        text.contains("forwarded to service `picard` (100% of requests)"),
        "{text}"
    );
    assert!(
        text.contains("retry 2 on [connect_failure, 503], backoff 25..250ms"),
        "{text}"
    );
    assert!(
        text.contains("mesh: `edge` → `picard` allowed by the rule at fleet.mesh:15:3"),
        "{text}"
    );
}

#[test]
fn header_matches_host_and_exact_paths_decide_as_the_runtime_would() {
    let dir = fleet_dir("steps");
    let (_, text) = explain(
        &dir,
        "GET http://api.starfleet.test/officers/7",
        &["x-beta: 1"],
    );
    assert!(text.contains("route `beta` wins"), "{text}");
    assert!(
        text.contains("over `officer` (GET \"/officers/{id}\"): beta has more header matches"),
        "{text}"
    );
    assert!(
        text.contains("forwarded to service `riker` (20% of requests)"),
        "{text}"
    );
    assert!(
        text.contains("allowed by the rule at fleet.mesh:16:3 when request.method == \"GET\""),
        "{text}"
    );
    let (_, text) = explain(&dir, "GET http://api.starfleet.test/officers/me", &[]);
    assert!(text.contains("route `officer_me` wins") && text.contains("over `officer` (GET \"/officers/{id}\"): officer_me has the more specific path match type"), "{text}");
    let (_, text) = explain(&dir, "GET http://bridge.starfleet.test/officers/7", &[]);
    assert!(
        text.contains("route `bridge_host` wins")
            && text.contains("bridge_host has the more specific host"),
        "{text}"
    );
}

#[test]
fn produce_routes_name_the_topic_and_unsent_credentials_are_flagged() {
    let dir = fleet_dir("produce");
    let (_, text) = explain(&dir, "POST http://127.0.0.1:8080/log", &[]);
    assert!(text.contains("route `log` wins"), "{text}");
    assert!(text.contains("not sent: this request gets 401"), "{text}");
    assert!(
        text.contains("produced to Kafka topic \"captains-log\", acks all"),
        "{text}"
    );
}

#[test]
fn method_mismatch_is_a_404_naming_the_route_and_no_match_is_404() {
    let dir = Scratch::new("explain-404");
    std::fs::write(dir.join("fleet.mesh"), "gateway edge {\n  listen \"127.0.0.1:8080\"\n  route ping { match GET \"/ping\" public respond 200 \"pong\" }\n}\n").expect("write");
    let (code, text) = explain(&dir, "DELETE /ping", &[]);
    assert_eq!(code, Some(0));
    assert!(text.contains("no route matches DELETE /ping"), "{text}");
    assert!(text.contains("404 Not Found"), "{text}");
    assert!(
        text.contains(
            "route `ping` would match but for the method: GET \"/ping\"  (fleet.mesh:3:3)"
        ),
        "{text}"
    );
    assert!(!text.contains("405 Method Not Allowed"), "{text}");
    std::fs::write(dir.join("fleet.mesh"), "gateway edge {\n  listen \"127.0.0.1:8080\"\n  method_mismatch 405\n  route ping { match GET \"/ping\" public respond 200 \"pong\" }\n}\n").expect("write");
    let (_, text) = explain(&dir, "DELETE /ping", &[]);
    assert!(
        text.contains("405 Method Not Allowed (Allow: GET)"),
        "{text}"
    );
    let (_, text) = explain(&dir, "GET /pong", &[]);
    assert!(text.contains("404 Not Found"), "{text}");
    assert!(!text.contains("would match"), "{text}");
    let (_, text) = explain(&dir, "GET /p%zzing", &[]);
    assert!(text.contains("400 Bad Request"), "{text}");
}

#[test]
fn a_bad_request_line_is_a_usage_error_and_a_broken_program_exits_1() {
    let dir = fleet_dir("usage");
    assert_eq!(explain(&dir, "officers/7", &[]).0, Some(2));
    assert_eq!(explain(&dir, "GET /", &["no-colon"]).0, Some(2));
    std::fs::write(dir.join("fleet.mesh"), "gateway edge {\n  listen \"127.0.0.1:8080\"\n  route r { match GET \"/\" public forward nowhere }\n}\n").expect("write");
    let (code, text) = explain(&dir, "GET /", &[]);
    assert_eq!(code, Some(1));
    assert!(text.is_empty());
}

#[test]
fn paths_are_normalized_under_the_gateway_policy_as_meshd_does() {
    let dir = fleet_dir("paths");
    // Merged slashes and dot segments reach the route they name, and explain says so.
    for raw in ["//officers/7", "/x/../officers/7", "/%6Ffficers/7"] {
        let (code, text) = explain(&dir, &format!("GET http://api.starfleet.test{raw}"), &[]);
        assert_eq!(code, Some(0), "{text}");
        assert!(
            text.contains("the path is normalized to \"/officers/7\"")
                && text.contains("route `officer` wins"),
            "{raw}: {text}"
        );
    }
    // An encoded slash gets the runtime's 400 under the default policy ...
    let (_, text) = explain(&dir, "GET http://api.starfleet.test/officers%2F7", &[]);
    assert!(
        text.contains("400 Bad Request: the path has an encoded slash"),
        "{text}"
    );
    // ... and is decoded first under `escaped_slashes unescape`.
    let program = FLEET.replacen(
        "listen \"127.0.0.1:8080\"",
        "listen \"127.0.0.1:8080\"\n  escaped_slashes unescape",
        1,
    );
    std::fs::write(dir.join("fleet.mesh"), program).expect("write");
    let (_, text) = explain(&dir, "GET http://api.starfleet.test/officers%2F7", &[]);
    assert!(
        text.contains("normalized to \"/officers/7\"") && text.contains("route `officer` wins"),
        "{text}"
    );
}

#[test]
fn the_time_budget_shows_per_try_retries_and_the_route_deadline() {
    let dir = fleet_dir("budget");
    std::fs::write(
        dir.join("fleet.mesh"),
        r#"gateway edge {
  listen "127.0.0.1:8080"
  route roomy { match GET "/roomy" public timeout 3s forward crew }
  route tight { match GET "/tight" public timeout 1500ms forward slow }
  route log { match POST "/log" public timeout 1s produce topic "captains-log" acks all mode sync }
}
service crew { endpoints ["127.0.0.1:9101"] timeout 400ms retry 2 on [timeout] backoff 25ms..50ms }
service slow { endpoints ["127.0.0.1:9102"] timeout 600ms retry 5 on [timeout] backoff 20ms..20ms }
topic "captains-log"
"#,
    )
    .expect("write");
    let (_, text) = explain(&dir, "GET http://a.test/roomy", &[]);
    assert!(
        text.contains("each try 400ms (the service's timeout), the whole request 3000ms")
            && text.contains("all 3 tries fit even when every one times out (1275ms at most)"),
        "{text}"
    );
    let (_, text) = explain(&dir, "GET http://a.test/tight", &[]);
    assert!(
        text.contains("at most 3 of the 6 tries start before the deadline"),
        "{text}"
    );
    let (_, text) = explain(&dir, "POST http://a.test/log", &[]);
    assert!(
        text.contains("503 with Retry-After when Kafka has not acknowledged within 1000ms"),
        "{text}"
    );
}
const MESH_CALLS: &str = r#"gateway edge {
  listen "127.0.0.1:8080"
  route reports { match GET "/reports" public forward riker }
}
service picard { endpoints ["127.0.0.1:9101"] }
service riker { endpoints ["127.0.0.1:9103"] }
service data { endpoints ["127.0.0.1:9104"] }
mesh {
  default deny
  trust_domain "starfleet"
  mtls strict
  allow edge -> [riker, data]
  allow picard -> riker when request.method == "GET" && source.identity == "spiffe://starfleet/picard"
  deny * -> data when request.headers["x-alert"] == "red"
  allow * -> data
}
"#;

fn explain_call(name: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let dir = Scratch::new(&format!("explain-call-{name}"));
    std::fs::write(dir.join("mesh.mesh"), MESH_CALLS).expect("write");
    let mut all = vec!["explain", "mesh.mesh"];
    all.extend(args);
    let out = meshc(&all, &dir);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_mesh_call_allowed_by_a_condition_names_the_rule_and_the_callers_identity() {
    let (code, text, _) = explain_call("get", &["--from", "picard", "GET http://riker/reports/7"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("mesh call `picard` → `riker`"), "{text}");
    assert!(
        text.contains("identity spiffe://starfleet/picard"),
        "{text}"
    );
    assert!(text.contains("→ condition holds"), "{text}");
    assert!(text.contains("ALLOWED"), "{text}");
    assert!(
        text.contains("decided by mesh=riker; rule=allow picard -> riker when request.method == \"GET\" && source.identity == \"spiffe://starfleet/picard\"; source=mesh.mesh:13"),
        "{text}"
    );
}

#[test]
fn a_mesh_call_the_condition_refuses_falls_to_the_default_deny() {
    let (code, text, _) = explain_call(
        "post",
        &["--from", "picard", "--request", "POST http://riker/reports"],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("→ condition is false"), "{text}");
    assert!(text.contains("DENIED: the sidecar answers 403"), "{text}");
    assert!(
        text.contains("rule=default deny; source=mesh.mesh:9"),
        "{text}"
    );
}

#[test]
fn a_deny_whose_condition_holds_beats_the_allow_and_an_unevaluable_one_fails_closed() {
    let (_, text, _) = explain_call(
        "deny",
        &[
            "--from",
            "edge",
            "--header",
            "x-alert: red",
            "GET http://data/scan",
        ],
    );
    assert!(text.contains("DENIED"), "{text}");
    assert!(
        text.contains(
            "rule=deny * -> data when request.headers[\"x-alert\"] == \"red\"; source=mesh.mesh:14"
        ),
        "{text}"
    );
    let (_, calm, _) = explain_call(
        "calm",
        &[
            "--from",
            "edge",
            "--header",
            "x-alert: green",
            "GET http://data/scan",
        ],
    );
    assert!(calm.contains("ALLOWED"), "{calm}");
    assert!(
        calm.contains("rule=allow edge -> [riker, data]; source=mesh.mesh:12"),
        "{calm}"
    );
    assert!(calm.contains("mTLS strict"), "{calm}");
    // Without the header the condition cannot be evaluated: an error never lets a call through.
    let (_, missing, _) = explain_call("missing", &["--from", "edge", "GET http://data/scan"]);
    assert!(
        missing.contains("cannot be evaluated") && missing.contains("the deny applies"),
        "{missing}"
    );
    assert!(missing.contains("DENIED"), "{missing}");
}

#[test]
fn an_unknown_caller_or_service_is_a_usage_error_with_a_suggestion() {
    let (code, _, stderr) = explain_call("caller", &["--from", "pikard", "GET http://riker/"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("did you mean `picard`?"), "{stderr}");
    let (code, _, stderr) = explain_call("service", &["--from", "picard", "GET http://rikr/"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("names no service") && stderr.contains("`riker`"),
        "{stderr}"
    );
    let (code, _, stderr) = explain_call("none", &["--from", "picard"]);
    assert_eq!(code, Some(2), "{stderr}");
}

#[test]
fn explain_lists_a_routes_faults_with_their_share_effect_and_condition() {
    let dir = Scratch::new("explain-fault");
    std::fs::write(
        dir.join("fleet.mesh"),
        r#"gateway edge {
  listen "127.0.0.1:8080"
  route officers {
    match GET "/officers" public
    fault abort 10% 503 when request.headers["x-chaos"] == "on"
    fault delay 25% 2s
    forward picard
  }
}
service picard { endpoints ["127.0.0.1:9101"] }
"#,
    )
    .expect("write");
    let (code, text) = explain(&dir, "GET http://x/officers", &["x-chaos:on"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("fault: abort 10% of requests with 503 (the upstream is not called), only when request.headers[\"x-chaos\"] == \"on\""),
        "{text}"
    );
    assert!(
        text.contains("fault: delay 25% of requests by 2000 ms, for every caller"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn explain_shows_a_retry_budgets_bound_on_an_outage() {
    let dir = Scratch::new("explain-budget");
    std::fs::write(
        dir.join("fleet.mesh"),
        r#"gateway edge {
  listen "127.0.0.1:8080"
  route officers { match GET "/officers" public forward picard }
}
service picard { endpoints ["127.0.0.1:9101"] retry 3 on [503] budget 20% min 5/s window 30s }
"#,
    )
    .expect("write");
    let (code, text) = explain(&dir, "GET http://x/officers", &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("retry budget: over 30000ms, retries at most 20% of requests + 5 per 1000ms (an outage multiplies the load by at most 1.20, not 4)"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn explain_shows_a_routes_mirror_and_its_bounds() {
    let dir = Scratch::new("explain-mirror");
    std::fs::write(
        dir.join("fleet.mesh"),
        r#"gateway edge {
  listen "127.0.0.1:8080"
  route officers { match GET "/officers" public mirror picard_v2 10% max_body 1KiB queue 8 forward picard }
}
service picard { endpoints ["127.0.0.1:9101"] }
service picard_v2 { endpoints ["127.0.0.1:9102"] }
"#,
    )
    .expect("write");
    let (code, text) = explain(&dir, "GET http://x/officers", &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("mirrored to service `picard_v2` (10% of requests, fire and forget: its answer is dropped; Host gets `-shadow`; bodies up to 1024 bytes; at most 8 copies in flight, more are dropped)"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn explain_shows_the_circuit_breakers_detectors() {
    let dir = Scratch::new("explain-breaker");
    std::fs::write(
        dir.join("fleet.mesh"),
        r#"gateway edge {
  listen "127.0.0.1:8080"
  route officers { match GET "/officers" public forward picard }
}
service picard {
  endpoints ["127.0.0.1:9101", "127.0.0.1:9102"]
  circuit_breaker { consecutive_errors 5 eject 30s max_ejected 50% failure_percentage 50% min_requests 20 interval 10s }
}
"#,
    )
    .expect("write");
    let (code, text) = explain(&dir, "GET http://x/officers", &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("circuit breaker: an endpoint is ejected after 5 errors in a row, or 50% failures of at least 20 requests per 10000ms, for 30000ms times its ejections so far (up to 300s); at most 50% of endpoints out"),
        "{text}"
    );
    let source = std::fs::read_to_string(dir.join("fleet.mesh")).expect("read");
    std::fs::write(
        dir.join("fleet.mesh"),
        source.replace("failure_percentage 50% min_requests 20", "latency 2.5x"),
    )
    .expect("write");
    let (code, text) = explain(&dir, "GET http://x/officers", &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("after 5 errors in a row, or a mean latency over 2.5x its peers' median and at least 10ms (20 answered requests per 10000ms)"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn explain_from_lists_the_pairs_faults_and_whether_the_call_meets_their_condition() {
    let dir = Scratch::new("explain-pair-fault");
    std::fs::write(
        dir.join("mesh.mesh"),
        r#"service picard { endpoints ["127.0.0.1:9101"] }
service riker { endpoints ["127.0.0.1:9103"] }
service data { endpoints ["127.0.0.1:9104"] }
mesh {
  default deny
  allow picard -> riker
  fault picard -> riker abort 10% 503 when request.headers["x-chaos"] == "on"
  fault * -> [riker, data] delay 5% 250ms when source.service == "riker"
  fault picard -> data delay 50% 1s when request.method == "GET"
}
"#,
    )
    .expect("write");
    let call = |headers: &[&str], line: &str| {
        let mut args = vec!["explain", "mesh.mesh", "--from", "picard"];
        for h in headers {
            args.extend(["--header", h]);
        }
        args.push(line);
        let out = meshc(&args, &dir);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let chaos = call(&["x-chaos: on"], "GET http://riker/reports");
    assert!(
        chaos.contains("mesh.mesh:7:3  fault picard -> riker abort 10% 503 when request.headers[\"x-chaos\"] == \"on\"  → 10% of such calls are answered 503 without reaching the service"),
        "{chaos}"
    );
    assert!(
        chaos.contains("fault * -> [riker, data] delay 5% 250ms when source.service == \"riker\"  → condition is false: not faulted"),
        "{chaos}"
    );
    let calm = call(&[], "GET http://riker/reports");
    assert!(calm.contains("→ condition cannot be evaluated"), "{calm}");
    // A denied pair's faults are listed as never reached.
    let denied = call(&[], "GET http://data/scan");
    assert!(
        denied.contains("never reached: the call is denied first"),
        "{denied}"
    );
    assert!(!denied.contains("of such calls"), "{denied}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn explain_says_whether_an_upgrade_would_be_forwarded_and_on_what_terms() {
    let dir = Scratch::new("explain-ws");
    std::fs::write(
        dir.join("ws.mesh"),
        r#"gateway edge {
  listen "127.0.0.1:8080"
  route chat { match GET "/chat" public websocket { max 500  idle 90s } forward chat }
  route feed { match GET "/feed" public forward chat }
  route upload { match POST "/upload" public websocket off forward chat }
}
service chat { endpoints ["127.0.0.1:9101"] }
"#,
    )
    .expect("write");
    let say = |request: &str| {
        let out = meshc(&["explain", "ws.mesh", "--request", request], &dir);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let chat = say("GET http://api.test/chat");
    assert!(
        chat.contains("upgrades (WebSocket): forwarded after admission; at most 500 open at once (then 503), closed after 90000ms"),
        "{chat}"
    );
    let feed = say("GET http://api.test/feed");
    assert!(
        feed.contains(
            "(the default: the route has no `websocket` line); at most 10000 open at once"
        ),
        "{feed}"
    );
    let upload = say("POST http://api.test/upload");
    assert!(
        upload.contains("upgrades (WebSocket): refused with 403 before any upstream sees them (`websocket off` on route `upload`)"),
        "{upload}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn explain_from_shows_the_pairs_mirror_and_only_on_that_pair() {
    let dir = Scratch::new("explain-mirror");
    std::fs::write(
        dir.join("mesh.mesh"),
        r#"service picard { endpoints ["127.0.0.1:9101"] }
service riker { endpoints ["127.0.0.1:9103"] }
service riker-v2 { endpoints ["127.0.0.1:9105"] }
service data { endpoints ["127.0.0.1:9104"] }
mesh {
  default allow
  mirror * -> riker to riker-v2 25% max_body 4KB queue 8
}
"#,
    )
    .expect("write");
    let call = |from: &str, line: &str| {
        let out = meshc(&["explain", "mesh.mesh", "--from", from, line], &dir);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let mirrored = call("picard", "GET http://riker/reports");
    assert!(
        mirrored.contains("mesh.mesh:7:3  mirror * -> riker to riker-v2  → 25% of calls copied to `riker-v2` (Host `riker-shadow`; bodies up to 4000 bytes; at most 8 in flight)"),
        "{mirrored}"
    );
    assert!(
        mirrored.contains("copied by `picard`'s sidecar"),
        "{mirrored}"
    );
    let other = call("picard", "GET http://data/scan");
    assert!(!other.contains("mirror"), "{other}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_grpc_call_is_matched_by_its_method_and_told_the_statuses_it_would_get() {
    let dir = Scratch::new("explain-grpc");
    let source = r#"gateway edge {
  listen "127.0.0.1:8080"
  route append { match grpc "starfleet.Log/Append" public forward logbook }
  route log { match grpc "starfleet.Log" public forward logbook }
}
service logbook { endpoints ["127.0.0.1:9101"] protocol h2c retry 2 on [grpc unavailable] }
"#;
    std::fs::write(dir.join("fleet.mesh"), source).expect("write");
    let grpc = ["content-type: application/grpc"];
    let (code, text) = explain(&dir, "POST http://api.test/starfleet.Log/Append", &grpc);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("route `append` wins"), "{text}");
    assert!(text.contains("retry 2 on [grpc unavailable]"), "{text}");
    assert!(text.contains("403 → 7 PERMISSION_DENIED"), "{text}");
    let (_, text) = explain(&dir, "POST http://api.test/starfleet.Log/Tail", &grpc);
    assert!(text.contains("route `log` wins"), "{text}");
    let (_, text) = explain(&dir, "POST http://api.test/starfleet.Bridge/Engage", &grpc);
    assert!(text.contains("404 → 12 UNIMPLEMENTED"), "{text}");
    let (_, plain) = explain(&dir, "POST http://api.test/starfleet.Log/Tail", &[]);
    assert!(!plain.contains("trailers-only"), "{plain}");
    let _ = std::fs::remove_dir_all(&dir);
}
