//! A meshd process in front of a hostile upstream: for each of a thousand requests the upstream
//! answers with arbitrary bytes or a response edited into something tricky (its status line,
//! framing headers and body, with interim responses in front at times), then closes. Whatever it
//! sends, the client gets exactly one well-formed HTTP/1.1 response: the upstream's status when
//! meshd's response parser reads the upstream's head, else 502 (to a WebSocket upgrade request,
//! half of them, also the upstream's 101, after which the bytes are the tunnel's); a body cut
//! short only when the upstream's was; and meshd stays up without a panic. `hostile_wire.rs` does the same from the
//! client's side.
//!
//! The same holds for uploads answered early: the upstream answers a POST as soon as its head is
//! in and reads the body afterwards, and the client sends the rest of its body only once the
//! upstream has answered, so meshd meets the answer (whatever its bytes) while the body is still
//! on its way: a refusal ends the upload, anything else lets it go on.

#[allow(dead_code)] // shared with the fleet tests, which use all of it
#[path = "fleet_support/meshd_process.rs"]
mod meshd_process;
mod wire_messages;

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{mpsc, Arc, Mutex};

use meshd_process::MeshdProcess;
use proptest::prelude::*;
use wire_messages::scripted_upstream::{
    expected_status, scripted_upload_upstream, scripted_upstream,
};
use wire_messages::*;

/// A plain request, or a WebSocket upgrade (every forwarding route forwards upgrades).
const PLAIN: &[u8] = b"GET /report HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n";
const UPGRADE: &[u8] = b"GET /chat HTTP/1.1\r\nHost: edge\r\nConnection: upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// The body of an upload: its first kilobyte goes with the head, the rest once the upstream has
/// answered.
const UPLOAD: usize = 64 * 1024;
const FIRST: usize = 1024;

/// Posts an upload to `edge` in two parts around the upstream's answer, and returns what came
/// back until meshd closed the connection.
fn upload_exchange(edge: SocketAddr, answered: &mpsc::Receiver<()>) -> Result<Vec<u8>, String> {
    let mut stream = TcpStream::connect(edge).map_err(|e| e.to_string())?;
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: edge\r\nConnection: close\r\nContent-Length: {UPLOAD}\r\n\r\n"
    );
    stream
        .write_all(head.as_bytes())
        .map_err(|e| e.to_string())?;
    stream
        .write_all(&[b'x'; FIRST])
        .map_err(|e| e.to_string())?;
    answered
        .recv_timeout(HANG)
        .map_err(|_| format!("the upstream got no request within {HANG:?}"))?;
    // meshd may have answered and closed already: what it sent decides.
    let _ = stream.write_all(&[b'x'; UPLOAD - FIRST]);
    let _ = stream.shutdown(Shutdown::Write);
    read_until_closed(&mut stream)
}

fn check_case(
    edge: SocketAddr,
    next: &Mutex<Vec<u8>>,
    (bytes, upgrade): &(Vec<u8>, bool),
) -> Result<(), TestCaseError> {
    *next.lock().unwrap() = bytes.to_vec();
    let request = if *upgrade { UPGRADE } else { PLAIN };
    let answer_bytes = exchange(edge, request).map_err(TestCaseError::fail)?;
    check_answer(bytes, &answer_bytes, *upgrade)
}

/// Checks what meshd sent back (`answer_bytes`) for an upstream that answered `bytes`.
fn check_answer(bytes: &[u8], answer_bytes: &[u8], upgrade: bool) -> Result<(), TestCaseError> {
    let shown = || {
        format!(
            "upstream sent {:?}\nmeshd sent {:?}",
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(answer_bytes)
        )
    };
    let answers = read_responses(answer_bytes, false)
        .map_err(|error| TestCaseError::fail(format!("{error}\n{}", shown())))?;
    prop_assert_eq!(answers.len(), 1, "{}", shown());
    let answer = &answers[0];
    prop_assert_eq!(
        answer.status,
        expected_status(bytes, upgrade),
        "{}",
        shown()
    );
    if answer.truncated {
        // Only a body the upstream itself cut short is passed on cut short.
        prop_assert!(answer.status != 502, "{}", shown());
    }
    Ok(())
}

const PROGRAM: &str = r#"
gateway edge {
  listen "127.0.0.1:0"
  route all { match * prefix "/" public forward crew }
}
"#;

#[test]
fn a_hostile_upstream_gets_its_client_one_well_formed_answer() {
    let next = Arc::new(Mutex::new(Vec::new()));
    let upstream = scripted_upstream(Arc::clone(&next));
    let source = format!("{PROGRAM}\nservice crew {{ endpoints [\"{upstream}\"] }}\n");
    let (meshd, _program) =
        MeshdProcess::run_program("hostile-upstream", &[("edge.mesh", &source)]);
    let edge = meshd.gateway.expect("the gateway listens");

    // Switches too: to what was asked or not, with the tunnel's first bytes behind them.
    let switch = (
        prop::option::weighted(
            0.6,
            prop::sample::select(vec!["websocket", "WebSocket", "h2c", "websocket, h2c", ""]),
        ),
        prop::collection::vec(any::<u8>(), 0..16),
        prop::collection::vec(edit(), 0..2),
    )
        .prop_map(|(upgrade, tunnel, edits)| {
            let mut head =
                String::from("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n");
            if let Some(upgrade) = upgrade {
                head.push_str(&format!("Upgrade: {upgrade}\r\n"));
            }
            head.push_str("\r\n");
            apply([head.into_bytes(), tunnel].concat(), &edits)
        });
    let input = prop_oneof![5 => hostile(response_with_body()), 1 => switch];
    let mut runner = runner(1000);
    let result = runner.run(&(input, any::<bool>()), |case| {
        check_case(edge, &next, &case)
    });
    meshd.assert_passed(result);
    meshd.assert_no_panic();
    *next.lock().unwrap() = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec();
    assert_eq!(meshd.gateway_get("/after"), (200, "ok".to_string()));
}

#[test]
fn a_hostile_answer_to_an_upload_gets_its_client_one_well_formed_answer() {
    let next = Arc::new(Mutex::new(Vec::new()));
    let (upstream, answered) = scripted_upload_upstream(Arc::clone(&next), UPLOAD);
    let source = format!("{PROGRAM}\nservice crew {{ endpoints [\"{upstream}\"] }}\n");
    let (meshd, _program) = MeshdProcess::run_program("hostile-upload", &[("edge.mesh", &source)]);
    let edge = meshd.gateway.expect("the gateway listens");
    let mut runner = runner(300);
    let result = runner.run(&hostile(response_with_body()), |bytes| {
        *next.lock().unwrap() = bytes.clone();
        let answer_bytes = upload_exchange(edge, &answered).map_err(TestCaseError::fail)?;
        check_answer(&bytes, &answer_bytes, false)
    });
    meshd.assert_passed(result);
    meshd.assert_no_panic();
}
