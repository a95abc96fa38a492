//! A meshd process under hostile HTTP/1.1: hundreds of connections, each carrying arbitrary bytes
//! or a request edited into something tricky (flipped, inserted, deleted and repeated bytes in
//! the request line, the framing headers and a chunked body), then closed for writing. Whatever
//! it gets, meshd:
//! - answers with well-formed HTTP/1.1 responses only, each with a status it may give (never a
//!   5xx other than 501 and 505: the upstream is up, and answers every request it can read);
//! - closes the connection after refusing a request it cannot frame (a malformed head, framing
//!   headers that disagree, a bad chunk), so nothing behind it is read as another request, and
//!   sends nothing after saying `Connection: close`;
//! - forwards only requests that a strict parser (meshd's own, in this test's upstream) reads
//!   whole: CRLF line endings, one framing, a body that ends where its framing says;
//! - stays up without a panic, and serves the next well-formed request.
//!   `wire_any_bytes.rs` holds the parsers themselves to the same inputs.

#[allow(dead_code)] // shared with the fleet tests, which use all of it
#[path = "fleet_support/meshd_process.rs"]
mod meshd_process;
mod wire_messages;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use meshd_process::MeshdProcess;
use proptest::prelude::*;
use wire_messages::strict_upstream::StrictUpstream;
use wire_messages::*;

fn check_case(edge: SocketAddr, bytes: &[u8]) -> Result<(), TestCaseError> {
    let answer_bytes = exchange(edge, bytes).map_err(TestCaseError::fail)?;
    let answers =
        read_responses(&answer_bytes, bytes.starts_with(b"HEAD ")).map_err(TestCaseError::fail)?;
    for (i, answer) in answers.iter().enumerate() {
        prop_assert!(!answer.truncated, "a body cut short: {:?}", answer);
        let allowed = answer.from_upstream && answer.status == 200
            || !answer.from_upstream
                && [200, 400, 403, 404, 405, 413, 417, 431, 501, 505].contains(&answer.status);
        prop_assert!(allowed, "meshd answered {:?}", answer);
        if answer.closes {
            prop_assert_eq!(
                i + 1,
                answers.len(),
                "responses after `connection: close` to {:?}:\n{}",
                String::from_utf8_lossy(bytes),
                String::from_utf8_lossy(&answer_bytes)
            );
        }
        prop_assert!(
            answer.closes || !is_framing_refusal(answer),
            "the connection stays open after {:?} to {:?}",
            answer,
            String::from_utf8_lossy(bytes)
        );
    }
    Ok(())
}

const PROGRAM: &str = r#"
gateway edge {
  listen "127.0.0.1:0"
  route ping { match GET "/ping" public respond 200 "pong" }
  route limited { match POST "/limited" public body_limit 16B forward crew }
  route cel {
    match * prefix "/cel"
    public
    when request.headers["x-trace"] == "abc" && request.query["q"] != "" || request.method == "POST"
    forward crew
  }
  route all { match * prefix "/" public forward crew }
}
"#;

#[test]
fn hostile_bytes_get_well_formed_answers_and_only_strictly_readable_requests_are_forwarded() {
    let upstream = StrictUpstream::start();
    let source = format!(
        "{PROGRAM}\nservice crew {{ endpoints [\"{}\"] }}\n",
        upstream.address
    );
    let (meshd, _program) = MeshdProcess::run_program("hostile-wire", &[("edge.mesh", &source)]);
    let edge = meshd.gateway.expect("the gateway listens");

    let input = hostile(request_message());
    let mut runner = runner(1500);
    let result = runner.run(&input, |bytes| check_case(edge, &bytes));
    meshd.assert_passed(result);

    let unreadable = upstream.unreadable.lock().unwrap().clone();
    assert!(
        unreadable.is_empty(),
        "meshd forwarded requests a strict parser cannot read: {unreadable:#?}"
    );
    assert!(
        upstream.answered.load(Ordering::SeqCst) > 50,
        "too few cases reached the upstream to say anything: {}",
        upstream.answered.load(Ordering::SeqCst)
    );
    meshd.assert_no_panic();
    assert_eq!(meshd.gateway_get("/ping"), (200, "pong".to_string()));
    assert_eq!(meshd.gateway_get("/after").0, 200);
}
