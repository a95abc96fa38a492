//! gRPC through meshd with a real grpcio server and client (`grpc_fixtures/`): unary, server
//! streaming and bidirectional streaming through the gateway (h2c upstream), h2 over TLS chosen by
//! ALPN, a sidecar pair with mutual TLS; every status the gateway makes itself; `grpc-timeout`
//! against the route's deadline; retries on UNAVAILABLE counted at the upstream; health checks by
//! the gRPC health checking protocol against grpcio's own health service.

mod grpc_support;
mod mesh_identity_support;
#[allow(dead_code)]
#[path = "fleet_support/meshd_process.rs"]
mod meshd_process;
mod scratch;

use grpc_support::{append, code, gateway, grpc_call, tls_files, GrpcServer, Scratch};
use mesh_identity_support::TestCa;
use meshd_process::{eventually, sidecar_args, MeshdProcess};
use serde_json::json;

fn remaining_ms(report: &serde_json::Value) -> u64 {
    report["trailing"]["x-remaining-ms"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no deadline reached the upstream: {report}"))
}

#[test]
fn unary_server_streaming_and_bidirectional_calls_pass_through_the_gateway() {
    let scratch = Scratch::new("streams");
    let server = GrpcServer::start();
    let meshd = gateway(
        &scratch,
        &format!(
            "gateway edge {{\n  listen \"127.0.0.1:0\"\n  route log {{ match grpc \"starfleet.Log\" public forward logbook }}\n}}\nservice logbook {{ endpoints [\"{}\"] protocol h2c }}\n",
            server.address
        ),
    );
    let target = meshd.gateway.unwrap().to_string();
    let unary = append(meshd.gateway.unwrap(), "hello", &[]);
    assert_eq!(unary["responses"], json!(["logged:hello"]), "{unary}");
    let tail =
        grpc_call(json!({"target": target, "method": "Tail", "kind": "server", "messages": ["3"]}));
    assert_eq!(
        tail["responses"],
        json!(["entry 0", "entry 1", "entry 2"]),
        "{tail}"
    );
    // In lock step: each message goes only after the previous echo came back, so a proxy that
    // buffered either direction whole would hang here.
    let chat = grpc_call(json!({"target": target, "method": "Chat", "kind": "bidi",
        "messages": ["one", "two", "three"], "timeout": 20}));
    assert_eq!(
        chat["responses"],
        json!(["echo:one", "echo:two", "echo:three"]),
        "{chat}"
    );
    // The upstream's own status passes through untouched, in its trailers.
    let missing = grpc_call(json!({"target": target, "method": "Nope", "messages": ["x"]}));
    assert_eq!(code(&missing), "UNIMPLEMENTED");
    assert_eq!(missing["details"], "Method not found!", "{missing}");
}

#[test]
fn the_gateways_own_answers_are_grpc_statuses() {
    let scratch = Scratch::new("statuses");
    let server = GrpcServer::start();
    std::env::set_var("GRPC_TEST_PICARD_KEY", "picard-secret");
    std::env::set_var("GRPC_TEST_RIKER_KEY", "riker-secret");
    let source = format!(
        r#"gateway edge {{
  listen "127.0.0.1:0"
  consumer picard {{ key env("GRPC_TEST_PICARD_KEY") groups [captains] }}
  consumer riker {{ key env("GRPC_TEST_RIKER_KEY") groups [officers] }}
  route keyed {{ match grpc "starfleet.Log/Append" header "x-route" "keyed" auth key header "x-api-key" allow groups [captains] forward logbook }}
  route limited {{ match grpc "starfleet.Log/Append" header "x-route" "limited" public rate_limit 1/min forward logbook }}
  route slow {{ match grpc "starfleet.Log/Append" header "x-route" "slow" public forward slowbook }}
  route down {{ match grpc "starfleet.Log/Append" header "x-route" "down" public forward nowhere }}
  route log {{ match grpc "starfleet.Log" public forward logbook }}
}}
service logbook {{ endpoints ["{address}"] protocol h2c }}
service slowbook {{ endpoints ["{address}"] protocol h2c timeout 300ms }}
service nowhere {{ endpoints ["127.0.0.1:1"] protocol h2c }}
"#,
        address = server.address
    );
    let meshd = gateway(&scratch, &source);
    let target = meshd.gateway.unwrap();
    let call = |metadata: &[(&str, &str)]| append(target, "entry", metadata);

    let missing_key = call(&[("x-route", "keyed")]);
    assert_eq!(code(&missing_key), "UNAUTHENTICATED", "{missing_key}");
    let denied = call(&[("x-route", "keyed"), ("x-api-key", "riker-secret")]);
    assert_eq!(code(&denied), "PERMISSION_DENIED", "{denied}");
    let admitted = call(&[("x-route", "keyed"), ("x-api-key", "picard-secret")]);
    assert_eq!(code(&admitted), "OK", "{admitted}");

    assert_eq!(code(&call(&[("x-route", "limited")])), "OK");
    let limited = call(&[("x-route", "limited")]);
    assert_eq!(code(&limited), "RESOURCE_EXHAUSTED", "{limited}");

    let slow = call(&[("x-route", "slow"), ("x-hang", "1")]);
    assert_eq!(code(&slow), "DEADLINE_EXCEEDED", "{slow}");
    assert!(
        slow["details"]
            .as_str()
            .unwrap()
            .contains("did not answer within 300ms"),
        "{slow}"
    );

    let down = call(&[("x-route", "down")]);
    assert_eq!(code(&down), "UNAVAILABLE", "{down}");
    assert!(
        down["details"]
            .as_str()
            .unwrap()
            .contains("cannot connect to nowhere"),
        "{down}"
    );

    // A gRPC service no route matches: meshd answers, the upstream never sees the call.
    let no_route = grpc_call(
        json!({"target": target.to_string(), "method": "/starfleet.Bridge/Engage",
        "messages": ["x"]}),
    );
    assert_eq!(code(&no_route), "UNIMPLEMENTED", "{no_route}");
    assert_ne!(no_route["details"], "Method not found!", "{no_route}");
}

#[test]
fn grpc_timeout_narrows_the_route_deadline_and_the_upstream_gets_what_is_left() {
    let scratch = Scratch::new("timeout");
    let server = GrpcServer::start();
    let source = format!(
        r#"gateway edge {{
  listen "127.0.0.1:0"
  route short {{ match grpc "starfleet.Log/Append" header "x-route" "short" public timeout 1s forward logbook }}
  route long {{ match grpc "starfleet.Log" public timeout 20s forward logbook }}
}}
service logbook {{ endpoints ["{}"] protocol h2c }}
"#,
        server.address
    );
    let meshd = gateway(&scratch, &source);
    let target = meshd.gateway.unwrap().to_string();
    let with_timeout = |timeout: f64, metadata: serde_json::Value| {
        grpc_call(
            json!({"target": target, "method": "Append", "messages": ["x"],
            "timeout": timeout, "metadata": metadata}),
        )
    };
    // The route's 1 s is smaller than the client's 10 s: the upstream sees at most 1 s.
    let route_wins = with_timeout(10.0, json!([["x-route", "short"]]));
    assert_eq!(code(&route_wins), "OK", "{route_wins}");
    assert!(remaining_ms(&route_wins) <= 1000, "{route_wins}");
    // The client's 2 s is smaller than the route's 20 s: the upstream sees at most 2 s.
    let client_wins = with_timeout(2.0, json!([]));
    assert!(remaining_ms(&client_wins) <= 2000, "{client_wins}");
    assert!(remaining_ms(&client_wins) > 1000, "{client_wins}");
    // Past the deadline the call ends DEADLINE_EXCEEDED (meshd stops waiting at the client's
    // deadline, as the client does).
    let late = with_timeout(0.5, json!([["x-hang", "1"]]));
    assert_eq!(code(&late), "DEADLINE_EXCEEDED", "{late}");
}

#[test]
fn a_unary_call_refused_unavailable_is_retried_and_counted_at_the_upstream() {
    let scratch = Scratch::new("retry");
    let server = GrpcServer::start();
    let source = format!(
        r#"gateway edge {{
  listen "127.0.0.1:0"
  route halfdown {{ match grpc "starfleet.Log/Chat" public forward halfdown }}
  route log {{ match grpc "starfleet.Log" public forward logbook }}
}}
service logbook {{ endpoints ["{address}"] protocol h2c retry 2 on [grpc unavailable] backoff 1ms..5ms }}
service halfdown {{ endpoints ["127.0.0.1:1", "{address}"] protocol h2c retry 1 on [connect_failure] backoff 1ms..5ms }}
"#,
        address = server.address
    );
    let meshd = gateway(&scratch, &source);
    let target = meshd.gateway.unwrap();
    let count = |key: &str| {
        let report = grpc_call(json!({"target": target.to_string(), "method": "Count",
            "messages": [""], "metadata": [["x-key", key]]}));
        report["responses"][0].as_str().unwrap().to_string()
    };
    let once = append(target, "x", &[("x-key", "once"), ("x-fail-times", "1")]);
    assert_eq!(code(&once), "OK", "{once}");
    assert_eq!(count("once"), "2", "one refusal, one retry");
    let always = append(target, "x", &[("x-key", "always"), ("x-fail-times", "9")]);
    assert_eq!(code(&always), "UNAVAILABLE", "{always}");
    assert_eq!(count("always"), "3", "the first try and two retries");
    // A streaming call whose first endpoint refuses the connection goes to the next one: its
    // request stream was not taken by the failed attempt.
    for _ in 0..2 {
        let chat = grpc_call(
            json!({"target": target.to_string(), "method": "Chat", "kind": "bidi",
            "messages": ["p", "q"], "timeout": 20}),
        );
        assert_eq!(chat["responses"], json!(["echo:p", "echo:q"]), "{chat}");
    }
    // Another status is not retried.
    let first = append(target, "x", &[("x-key", "other")]);
    assert_eq!(code(&first), "OK");
    assert_eq!(count("other"), "1");
}

#[test]
fn an_h2_upstream_over_tls_is_chosen_by_alpn() {
    let scratch = Scratch::new("tls");
    let (ca, cert, key) = tls_files(&scratch);
    let server = GrpcServer::start_tls(&cert, &key);
    // meshd trusts the system's roots; SSL_CERT_FILE points it at the test CA.
    std::env::set_var("SSL_CERT_FILE", &ca);
    let source = format!(
        r#"gateway edge {{
  listen "127.0.0.1:0"
  route log {{ match grpc "starfleet.Log" public forward secure }}
}}
service secure {{ endpoints ["{}"] protocol h2 }}
"#,
        server.address
    );
    let meshd = gateway(&scratch, &source);
    let target = meshd.gateway.unwrap();
    let unary = append(target, "over tls", &[]);
    assert_eq!(unary["responses"], json!(["logged:over tls"]), "{unary}");
    let chat = grpc_call(
        json!({"target": target.to_string(), "method": "Chat", "kind": "bidi",
        "messages": ["a", "b"], "timeout": 20}),
    );
    assert_eq!(chat["responses"], json!(["echo:a", "echo:b"]), "{chat}");
}

/// The mesh program; `riker` is the gRPC service behind a sidecar.
fn mesh_source(picard: &str, riker: &str) -> String {
    format!(
        r#"service picard {{ endpoints ["{picard}"] }}
service riker {{ endpoints ["{riker}"] protocol h2c timeout 10s }}
mesh {{
  default deny
  trust_domain "starfleet"
  mtls strict
  deny * -> riker when request.path == "/starfleet.Log/Tail"
  allow picard -> riker
}}
"#
    )
}

fn start_sidecar(
    scratch: &Scratch,
    program: &std::path::Path,
    service: &str,
    app: &str,
) -> (MeshdProcess, String, String) {
    let args = sidecar_args(program, service, app, &scratch.path(service));
    let process = MeshdProcess::start(&args);
    let address = |what: &str| {
        let line = process.wait_for_line(|l| l.contains(what));
        line.split("address=")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap()
            .to_string()
    };
    let outbound = address("sidecar outbound listening");
    let inbound = address("sidecar inbound listening");
    (process, inbound, outbound)
}

#[test]
fn grpc_passes_a_sidecar_pair_over_mutual_tls() {
    let scratch = Scratch::new("sidecars");
    let ca = TestCa::init(scratch.path("ca"), "starfleet");
    ca.issue("picard", &scratch.path("picard"), &[]);
    ca.issue("riker", &scratch.path("riker"), &[]);
    let server = GrpcServer::start();
    let program = scratch.path("program");
    std::fs::create_dir_all(&program).unwrap();
    std::fs::write(
        program.join("mesh.mesh"),
        mesh_source("127.0.0.1:1", "127.0.0.1:2"),
    )
    .unwrap();
    let (picard, picard_in, picard_out) =
        start_sidecar(&scratch, &program, "picard", "127.0.0.1:1");
    let (riker, riker_in, _) =
        start_sidecar(&scratch, &program, "riker", &server.address.to_string());
    // The program names the inbound listeners as the endpoints once they are known.
    let before = (picard.digest(), riker.digest());
    std::fs::write(
        program.join("mesh.mesh"),
        mesh_source(&picard_in, &riker_in),
    )
    .unwrap();
    eventually("both sidecars serve the program with the endpoints", || {
        picard.digest() != before.0 && riker.digest() != before.1
    });
    // The app beside picard calls riker through its sidecar: h2c to the sidecar (authority names
    // the service), h2 inside mutual TLS between the sidecars, h2c to riker's app.
    let unary = grpc_call(
        json!({"target": picard_out, "authority": "riker", "method": "Append",
        "messages": ["through the mesh"]}),
    );
    assert_eq!(
        unary["responses"],
        json!(["logged:through the mesh"]),
        "{unary}"
    );
    let chat = grpc_call(
        json!({"target": picard_out, "authority": "riker", "method": "Chat",
        "kind": "bidi", "messages": ["x", "y", "z"], "timeout": 20}),
    );
    assert_eq!(
        chat["responses"],
        json!(["echo:x", "echo:y", "echo:z"]),
        "{chat}"
    );
    // A method the mesh refuses reaches the app's client as a gRPC status, not an HTTP error.
    let denied = grpc_call(
        json!({"target": picard_out, "authority": "riker", "method": "Tail",
        "kind": "server", "messages": ["1"]}),
    );
    assert_eq!(code(&denied), "PERMISSION_DENIED", "{denied}");
    assert!(
        denied["details"].as_str().unwrap().contains("mesh"),
        "{denied}"
    );
    let metrics = riker.admin_get("/metrics").1;
    let inbound_from_picard: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("meshd_mesh_requests_total{"))
        .filter(|l| l.contains("direction=\"inbound\"") && l.contains("source=\"picard\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(
        inbound_from_picard >= 2.0,
        "riker's sidecar judged the calls as picard's: {metrics}"
    );
}

#[test]
fn the_grpc_health_checking_protocol_takes_a_not_serving_endpoint_out_and_brings_it_back() {
    let scratch = Scratch::new("health");
    let mut first = GrpcServer::start();
    let mut second = GrpcServer::start();
    let source = format!(
        r#"gateway edge {{
  listen "127.0.0.1:0"
  route log {{ match grpc "starfleet.Log" public forward logbook }}
}}
service logbook {{
  endpoints ["{first}", "{second}"]
  protocol h2c
  balance round_robin
  health_check grpc "starfleet.Log" every 100ms timeout 90ms healthy 1 unhealthy 1
}}
"#,
        first = first.address,
        second = second.address
    );
    let meshd = gateway(&scratch, &source);
    let target = meshd.gateway.unwrap();
    // Appends through meshd under `key`, and how many of them each server counted.
    let appends = |key: &str, calls: usize| {
        for _ in 0..calls {
            let answer = append(target, "x", &[("x-key", key)]);
            assert_eq!(code(&answer), "OK", "{answer}");
        }
    };
    let counted = |server: &GrpcServer, key: &str| {
        let report = grpc_call(
            json!({"target": server.address.to_string(), "method": "Count",
            "messages": [""], "metadata": [["x-key", key]]}),
        );
        report["responses"][0]
            .as_str()
            .unwrap()
            .parse::<u32>()
            .unwrap()
    };
    appends("both", 4);
    assert_eq!((counted(&first, "both"), counted(&second, "both")), (2, 2));

    // The first server's health service says NOT_SERVING for the service checked.
    first.set_serving("starfleet.Log", false);
    let mut round = 0;
    eventually("the first endpoint taken out", || {
        round += 1;
        let key = format!("probe-{round}");
        appends(&key, 2);
        counted(&first, &key) == 0
    });
    appends("out", 6);
    assert_eq!((counted(&first, "out"), counted(&second, "out")), (0, 6));

    // With no endpoint serving, a call is refused by meshd itself: UNAVAILABLE.
    second.set_serving("starfleet.Log", false);
    eventually("no endpoint left", || {
        code(&append(target, "x", &[("x-key", "none")])) == "UNAVAILABLE"
    });
    assert_eq!(
        counted(&second, "none"),
        0,
        "meshd answered, not the server"
    );

    // SERVING again: back in rotation.
    first.set_serving("starfleet.Log", true);
    second.set_serving("starfleet.Log", true);
    let mut round = 0;
    eventually("both endpoints back", || {
        round += 1;
        let key = format!("back-{round}");
        let answers: Vec<_> = (0..2)
            .map(|_| code(&append(target, "x", &[("x-key", &key)])).to_string())
            .collect();
        answers.iter().all(|c| c == "OK") && counted(&first, &key) == 1
    });
}
