//! Admission end to end: meshd on ephemeral ports in front of a real hyper upstream, driven by a
//! real HTTP client. Every step allows and refuses; every refusal says who refused and why.

mod admission_support;
mod scratch;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use admission_support::{serve, Net, Scratch, TestRedis};
use http::{Method, StatusCode};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{encode, get_current_timestamp, Algorithm, EncodingKey, Header};

const RSA: &str = include_str!("admission_fixtures/rsa_private.pem");
const RSA_OTHER: &str = include_str!("admission_fixtures/rsa_other_private.pem");
const EC: &str = include_str!("admission_fixtures/ec_private.pem");

/// The program under test: every admission step on some route, secrets in files of `scratch`.
fn program(scratch: &Scratch, upstream: SocketAddr, shared: bool) -> std::path::PathBuf {
    let dir = scratch.dir().display();
    scratch.write("picard.key", "engage\n");
    scratch.write("wesley.key", "shut-up-wesley");
    scratch.write("picard.pw", "earl-grey");
    scratch.write("jwks.json", jwks());
    let shared = if shared { " shared" } else { "" };
    let source = format!(
        r#"
gateway edge {{
  listen "127.0.0.1:0"
  consumer picard {{
    key file("{dir}/picard.key")
    basic user "jl" password file("{dir}/picard.pw")
    groups [captains]
  }}
  consumer wesley {{ key file("{dir}/wesley.key") groups [ensigns] }}
  consumer riker {{ jwt subject "will" groups [officers] }}

  route officers {{
    match GET "/officers/{{id}}"
    auth key header "x-api-key"
    allow groups [captains, ensigns]
    deny consumers [wesley]
    rate_limit 5/min per consumer{shared}
    when request.headers["x-stardate"] != ""
    set_header "x-source" "edge"
    remove_header "x-api-key"
    set_response_header "x-served-by" "meshwork"
    forward backend
  }}
  route basic {{
    match GET "/basic"
    auth basic realm "bridge"
    forward backend
  }}
  route jwt {{
    match GET "/jwt"
    auth jwt issuer "https://id.starfleet.test" alg RS256 keys file("{dir}/jwks.json")
    forward backend
  }}
  route jwt_ec {{
    match GET "/jwt-ec"
    auth jwt issuer "https://id.starfleet.test" alg ES256 keys file("{dir}/jwks.json")
    forward backend
  }}
  route holodeck {{
    match GET "/holodeck"
    public
    deny ips ["127.0.0.0/8"]
    forward backend
  }}
  route lounge {{
    match GET "/lounge"
    public
    allow ips ["127.0.0.1", "10.0.0.0/8"]
    forward backend
  }}
  route messages {{
    match POST "/messages"
    public
    cors {{ origins ["https://starfleet.test"] methods [POST] headers ["x-api-key"] credentials max_age 10m }}
    body_limit 16B
    forward backend
  }}
}}
service backend {{ endpoints ["{upstream}"] }}
mesh {{ default deny allow edge -> [backend] }}
"#
    );
    scratch.write("edge.mesh", source)
}

fn jwks() -> Vec<u8> {
    let jwk = |pem: &str, alg, kid: &str| {
        let key = match alg {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
            _ => EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        };
        let mut jwk = Jwk::from_encoding_key(&key, alg).unwrap();
        jwk.common.key_id = Some(kid.to_string());
        jwk
    };
    let set = JwkSet {
        keys: vec![
            jwk(RSA, Algorithm::RS256, "rsa-1"),
            jwk(EC, Algorithm::ES256, "ec-1"),
        ],
    };
    serde_json::to_vec(&set).unwrap()
}

fn token(alg: Algorithm, pem: &str, claims: serde_json::Value) -> String {
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        _ => EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    };
    encode(&Header::new(alg), &claims, &key).unwrap()
}

fn claims(sub: &str) -> serde_json::Value {
    serde_json::json!({
        "sub": sub,
        "iss": "https://id.starfleet.test",
        "exp": get_current_timestamp() + 600,
    })
}

/// A started meshd with its upstream, client and files.
struct Setup {
    net: Net,
    edge: SocketAddr,
    _server: meshd::RunningServer,
    _scratch: Scratch,
}

fn setup(test: &str) -> Setup {
    let net = Net::new();
    let upstream = net.echo_upstream();
    let scratch = Scratch::new(test);
    let mesh = program(&scratch, upstream, false);
    let server = serve(&mesh, None);
    let edge = server.listener("edge").unwrap();
    Setup {
        net,
        edge,
        _server: server,
        _scratch: scratch,
    }
}

const PICARD: [(&str, &str); 2] = [("x-api-key", "engage"), ("x-stardate", "47457.1")];

#[test]
fn key_auth_admits_the_right_key_and_refuses_others_with_401() {
    let s = setup("key");
    let ok = s.net.get(s.edge, "/officers/1", &PICARD);
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let seen = ok.json();
    assert_eq!(
        seen["headers"]["x-source"], "edge",
        "set_header reaches upstream"
    );
    assert!(
        seen["headers"].get("x-api-key").is_none(),
        "remove_header drops the key"
    );
    assert_eq!(ok.header("x-served-by"), "meshwork");

    let wrong = s.net.get(
        s.edge,
        "/officers/1",
        &[("x-api-key", "make-it-so"), ("x-stardate", "1")],
    );
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong
        .header("x-meshwork-denied-by")
        .starts_with("route=officers; step=auth; source="));
    assert_eq!(wrong.json()["reason"], "API key is not valid");

    let missing = s.net.get(s.edge, "/officers/1", &[("x-stardate", "1")]);
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.json()["step"], "auth");
}

#[test]
fn sixth_request_in_a_minute_gets_429_with_retry_after() {
    let s = setup("limit");
    for remaining in (0..5).rev() {
        let ok = s.net.get(s.edge, "/officers/1", &PICARD);
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(ok.header("ratelimit-limit"), "5");
        assert_eq!(ok.header("ratelimit-remaining"), remaining.to_string());
    }
    let sixth = s.net.get(s.edge, "/officers/1", &PICARD);
    assert_eq!(sixth.status, StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = sixth.header("retry-after").parse().unwrap();
    assert!((1..=12).contains(&retry_after), "retry after {retry_after}");
    assert_eq!(sixth.header("ratelimit-remaining"), "0");
    assert!(sixth
        .header("x-meshwork-denied-by")
        .contains("step=rate_limit"));
}

#[test]
fn groups_and_consumers_rules_refuse_with_403() {
    let s = setup("access");
    let wesley = s.net.get(
        s.edge,
        "/officers/1",
        &[("x-api-key", "shut-up-wesley"), ("x-stardate", "1")],
    );
    assert_eq!(wesley.status, StatusCode::FORBIDDEN);
    assert_eq!(
        wesley.json()["reason"],
        "consumer wesley is denied by consumers [wesley]"
    );
    assert!(wesley
        .header("x-meshwork-denied-by")
        .contains("step=access"));
}

#[test]
fn condition_refuses_a_request_without_a_stardate() {
    let s = setup("condition");
    let refused = s.net.get(s.edge, "/officers/1", &[("x-api-key", "engage")]);
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.json()["step"], "condition");
    assert!(refused.json()["reason"]
        .as_str()
        .unwrap()
        .contains("request.headers[\"x-stardate\"]"));
    let empty = s.net.get(
        s.edge,
        "/officers/1",
        &[("x-api-key", "engage"), ("x-stardate", "")],
    );
    assert_eq!(empty.status, StatusCode::FORBIDDEN);
    assert!(empty.json()["reason"]
        .as_str()
        .unwrap()
        .ends_with("is false"));
}

#[test]
fn basic_auth_admits_and_challenges_with_the_realm() {
    use base64::Engine;
    let s = setup("basic");
    let basic = |user: &str, password: &str| {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {encoded}")
    };
    let ok = s.net.get(
        s.edge,
        "/basic",
        &[("authorization", &basic("jl", "earl-grey"))],
    );
    assert_eq!(ok.status, StatusCode::OK);
    let refused = s.net.get(
        s.edge,
        "/basic",
        &[("authorization", &basic("jl", "coffee"))],
    );
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.header("www-authenticate"),
        "Basic realm=\"bridge\", charset=\"UTF-8\""
    );
}

#[test]
fn jwt_rs256_and_es256_admit_and_forgeries_are_refused() {
    let s = setup("jwt");
    let bearer = |t: String| format!("Bearer {t}");
    let rs = bearer(token(Algorithm::RS256, RSA, claims("will")));
    assert_eq!(
        s.net.get(s.edge, "/jwt", &[("authorization", &rs)]).status,
        StatusCode::OK
    );
    let es = bearer(token(Algorithm::ES256, EC, claims("will")));
    assert_eq!(
        s.net
            .get(s.edge, "/jwt-ec", &[("authorization", &es)])
            .status,
        StatusCode::OK
    );

    let wrong_alg = s.net.get(s.edge, "/jwt", &[("authorization", &es)]);
    assert_eq!(wrong_alg.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong_alg.json()["reason"],
        "invalid token: alg ES256 is not allowed here (expected RS256)"
    );

    let forged = bearer(token(Algorithm::RS256, RSA_OTHER, claims("will")));
    let refused = s.net.get(s.edge, "/jwt", &[("authorization", &forged)]);
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.header("www-authenticate").contains("invalid_token"));

    let stranger = bearer(token(Algorithm::RS256, RSA, claims("q")));
    assert_eq!(
        s.net
            .get(s.edge, "/jwt", &[("authorization", &stranger)])
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.net.get(s.edge, "/jwt", &[]).status,
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn ip_rules_match_the_socket_address_not_x_forwarded_for() {
    let s = setup("ips");
    let refused = s
        .net
        .get(s.edge, "/holodeck", &[("x-forwarded-for", "10.9.9.9")]);
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused.json()["reason"],
        "client 127.0.0.1 is denied by ips [127.0.0.0/8]"
    );
    assert_eq!(s.net.get(s.edge, "/lounge", &[]).status, StatusCode::OK);
}

#[test]
fn cors_preflight_is_answered_by_the_gateway() {
    let s = setup("cors");
    let preflight = s.net.send(
        s.edge,
        Method::OPTIONS,
        "/messages",
        &[
            ("origin", "https://starfleet.test"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "x-api-key"),
        ],
        b"",
    );
    assert_eq!(preflight.status, StatusCode::NO_CONTENT);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        "https://starfleet.test"
    );
    assert_eq!(preflight.header("access-control-allow-methods"), "POST");
    assert_eq!(preflight.header("access-control-max-age"), "600");

    let evil = s.net.send(
        s.edge,
        Method::OPTIONS,
        "/messages",
        &[
            ("origin", "https://romulus.test"),
            ("access-control-request-method", "POST"),
        ],
        b"",
    );
    assert_eq!(evil.status, StatusCode::FORBIDDEN);
    assert!(evil.header("x-meshwork-denied-by").contains("step=cors"));

    let actual = s.net.send(
        s.edge,
        Method::POST,
        "/messages",
        &[("origin", "https://starfleet.test")],
        b"hello",
    );
    assert_eq!(actual.status, StatusCode::OK);
    assert_eq!(
        actual.header("access-control-allow-origin"),
        "https://starfleet.test"
    );
    assert_eq!(actual.header("access-control-allow-credentials"), "true");
    assert!(actual.header("vary").contains("Origin"));
}

#[test]
fn body_larger_than_the_limit_gets_413() {
    let s = setup("body");
    let small = s
        .net
        .send(s.edge, Method::POST, "/messages", &[], b"0123456789abcdef");
    assert_eq!(small.status, StatusCode::OK);
    let large = s
        .net
        .send(s.edge, Method::POST, "/messages", &[], &[b'x'; 100]);
    assert_eq!(large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        large.json()["reason"],
        "the body of 100 bytes is larger than the limit of 16 bytes"
    );
    assert!(large
        .header("x-meshwork-denied-by")
        .contains("step=body_limit"));
}

#[test]
fn shared_limit_is_counted_once_across_two_meshd_instances() {
    let net = Net::new();
    let Some(redis) = TestRedis::start() else {
        return;
    };
    let upstream = net.echo_upstream();
    let scratch = Scratch::new("shared");
    let mesh = program(&scratch, upstream, true);
    let first = serve(&mesh, Some(&redis.url));
    let second = serve(&mesh, Some(&redis.url));
    let edges = [
        first.listener("edge").unwrap(),
        second.listener("edge").unwrap(),
    ];
    let statuses: Vec<u16> = (0..6)
        .map(|i| {
            net.get(edges[i % 2], "/officers/1", &PICARD)
                .status
                .as_u16()
        })
        .collect();
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 200, 429],
        "one bucket for both instances"
    );
}

#[test]
fn access_log_records_the_denial_and_the_consumer() {
    let net = Net::new();
    let upstream = net.echo_upstream();
    let scratch = Scratch::new("log");
    let mesh = program(&scratch, upstream, false);
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshd"))
        .arg("run")
        .arg(&mesh)
        .args(["--admin", "127.0.0.1:0", "--workers", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, received) = mpsc::channel::<(bool, String)>();
    for (is_stdout, stream) in [
        (
            true,
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        ),
        (false, Box::new(child.stderr.take().unwrap())),
    ] {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if lines.send((is_stdout, line)).is_err() {
                    break;
                }
            }
        });
    }
    let next_line = |want: &dyn Fn(bool, &str) -> bool| loop {
        let (is_stdout, line) = received
            .recv_timeout(Duration::from_secs(20))
            .expect("meshd wrote the expected line");
        if want(is_stdout, &line) {
            return line;
        }
    };
    let listening =
        next_line(&|out, l| !out && l.contains("listening (http)") && l.contains("gateway=edge"));
    let address: SocketAddr = listening
        .rsplit("address=")
        .next()
        .and_then(|a| a.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {listening:?}"));

    let refused = net.get(address, "/officers/1", &[("x-api-key", "engage")]);
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let logged = next_line(&|out, l| out && l.contains("\"denial\":{"));
    let record: serde_json::Value = serde_json::from_str(&logged).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(record["route"], "officers");
    assert_eq!(record["status"], 403);
    assert_eq!(record["consumer"], "picard");
    assert_eq!(record["denial"]["step"], "condition");
    assert!(
        record["denial"]["source"]
            .as_str()
            .unwrap()
            .ends_with("edge.mesh:18:10"),
        "{record}"
    );
    assert!(
        record["denial"]["reason"]
            .as_str()
            .unwrap()
            .contains("x-stardate"),
        "{record}"
    );
}
