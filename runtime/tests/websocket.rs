//! WebSocket (HTTP/1.1 upgrades) through meshd, with a real server and client (PyPI `websockets`)
//! and meshd as separate processes: echo through the gateway, through a sidecar pair over mutual
//! TLS, and from the gateway into the mesh (mTLS with the gateway's identity); admission before
//! the 101 (401 with the upstream never seeing the upgrade, the mesh's 403 at the inbound
//! sidecar, 403 on a `websocket off` route, logged as a denial); the per-route cap (503 for the
//! one too many, logged as a denial, and room again once one closes); the idle timeout; the
//! smuggling shapes (an upgrade with a body, `Upgrade: h2c`); a reader that stops reading does
//! not grow meshd's memory.

mod mesh_identity_support;
#[allow(dead_code)]
#[path = "fleet_support/meshd_process.rs"]
mod meshd_process;
mod process_memory;
mod scratch;
mod websocket_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use mesh_identity_support::Scratch;
use websocket_support::{
    eventually, metric, rss_kib, start_gateway, ws_client, ws_result, EchoServer, SidecarPair,
};

fn gateway_source(temp: &Scratch, upstream: SocketAddr) -> String {
    let key = temp.path("picard.key");
    std::fs::write(&key, "picard-key").unwrap();
    format!(
        r#"gateway edge {{
  listen "127.0.0.1:0"
  consumer picard {{ key file("{key}") groups [captains] }}
  route echo {{ match GET prefix "/echo" public forward ws }}
  route keyed {{
    match GET prefix "/keyed"
    auth key header "x-api-key"
    allow groups [captains]
    forward ws
  }}
  route capped {{ match GET prefix "/capped" public websocket {{ max 2 }} forward ws }}
  route quiet {{ match GET prefix "/quiet" public websocket {{ idle 1s }} forward ws }}
  route plain {{ match GET prefix "/plain" public websocket off forward ws }}
  route flood {{ match GET prefix "/flood" public forward ws }}
}}
service ws {{ endpoints ["{upstream}"] timeout 10s }}
"#,
        key = key.display()
    )
}

/// Sends `request` on a fresh connection; the response head's first line.
fn raw_status_line(address: SocketAddr, request: &str) -> String {
    raw_head(address, request)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Sends `request` on a fresh connection; the response head.
fn raw_head(address: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).unwrap();
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// The access-log record (stdout, JSON lines) of the first request to `path`.
fn access_record(meshd: &meshd_process::MeshdProcess, path: &str) -> serde_json::Value {
    let want = format!("\"path\":\"{path}\"");
    let line = meshd.wait_for_line(|line| line.starts_with('{') && line.contains(&want));
    serde_json::from_str(&line).unwrap()
}

#[test]
fn websockets_pass_the_gateway_after_admission_within_the_route_limits() {
    let server = EchoServer::start();
    let temp = Scratch::new("websocket-gateway");
    let meshd = start_gateway(&temp, &gateway_source(&temp, server.address));
    let gateway = meshd.gateway.expect("a gateway listener");
    let uri = |path: &str| format!("ws://{gateway}{path}");

    // Echo through the gateway: text and a 256 KiB binary message, both ways.
    assert_eq!(ws_result("echo", &uri("/echo"), &[]), "echo ok 21");
    assert_eq!(
        metric(
            &meshd,
            "meshd_upgrades_total{proxy=\"edge\",route=\"echo\"}"
        ),
        1.0
    );

    // Auth runs on the upgrade request: 401 before any 101, and the upstream never saw it (the
    // admitted one after it is the only /keyed handshake the server logged).
    assert_eq!(ws_result("refused", &uri("/keyed"), &[]), "refused 401");
    let with_key = ["--header", "x-api-key: picard-key"];
    assert_eq!(ws_result("echo", &uri("/keyed"), &with_key), "echo ok 21");
    assert_eq!(
        server.handshakes("/keyed"),
        1,
        "{:?}",
        server.process.lines()
    );

    // A route that refuses upgrades: 403 naming the route's line, never forwarded.
    assert_eq!(ws_result("refused", &uri("/plain"), &[]), "refused 403");
    let handshake = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let head = raw_head(
        gateway,
        &format!("GET /plain HTTP/1.1\r\nHost: a\r\n{handshake}\r\n"),
    );
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert!(
        head.contains("x-meshwork-denied-by: route=plain; step=websocket; source="),
        "{head}"
    );
    assert_eq!(server.handshakes("/plain"), 0);
    // Logged as a denial, like admission's: the step, the route's place and why.
    let logged = access_record(&meshd, "/plain");
    assert_eq!(logged["status"], 403, "{logged}");
    assert_eq!(logged["denial"]["step"], "websocket", "{logged}");
    assert!(
        logged["denial"]["source"]
            .as_str()
            .is_some_and(|source| source.contains("edge.mesh:")),
        "{logged}"
    );
    assert!(
        logged["denial"]["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("websocket off")),
        "{logged}"
    );
    assert_eq!(
        metric(
            &meshd,
            "meshd_upgrades_refused_total{proxy=\"edge\",route=\"plain\",reason=\"off\"}"
        ),
        2.0
    );

    // The cap: two open, the third gets 503 before the upstream sees it; closing one frees a place.
    let mut first = ws_client("hold", &uri("/capped/1"), &[]);
    assert_eq!(first.next_line(), "open");
    let second = ws_client("hold", &uri("/capped/2"), &[]);
    assert_eq!(second.next_line(), "open");
    assert_eq!(ws_result("refused", &uri("/capped/3"), &[]), "refused 503");
    assert_eq!(server.handshakes("/capped/3"), 0);
    let logged = access_record(&meshd, "/capped/3");
    assert_eq!(logged["status"], 503, "{logged}");
    assert_eq!(logged["denial"]["step"], "websocket_max", "{logged}");
    assert!(
        logged["denial"]["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("max 2")),
        "{logged}"
    );
    assert_eq!(
        metric(
            &meshd,
            "meshd_upgrades_active{proxy=\"edge\",route=\"capped\"}"
        ),
        2.0
    );
    assert_eq!(
        metric(
            &meshd,
            "meshd_upgrades_refused_total{proxy=\"edge\",route=\"capped\",reason=\"cap\"}"
        ),
        1.0
    );
    first.tell();
    assert_eq!(first.next_line(), "closed");
    eventually("the closed tunnel frees its place", || {
        metric(
            &meshd,
            "meshd_upgrades_active{proxy=\"edge\",route=\"capped\"}",
        ) == 1.0
    });
    assert_eq!(ws_result("echo", &uri("/capped/4"), &[]), "echo ok 21");
    drop(second);

    // The idle timeout: a tunnel where nothing moves is closed by meshd, and counted.
    let idle = ws_client("idle", &uri("/quiet"), &[]);
    assert_eq!(idle.next_line(), "open");
    assert_eq!(idle.next_line(), "ended");
    assert_eq!(
        metric(
            &meshd,
            "meshd_upgrades_idle_closed_total{proxy=\"edge\",route=\"quiet\"}"
        ),
        1.0
    );
}

#[test]
fn smuggling_shapes_of_an_upgrade_are_not_tunnelled() {
    let server = EchoServer::start();
    let temp = Scratch::new("websocket-smuggling");
    let meshd = start_gateway(&temp, &gateway_source(&temp, server.address));
    let gateway = meshd.gateway.expect("a gateway listener");
    let handshake = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

    // An upgrade request with a body: its bytes could be read as the new protocol's. 400.
    let with_body =
        format!("GET /echo HTTP/1.1\r\nHost: a\r\n{handshake}Content-Length: 5\r\n\r\nhello");
    assert!(raw_status_line(gateway, &with_body).starts_with("HTTP/1.1 400"));

    // `Upgrade: h2c` is never tunnelled: the request goes on without its hop-by-hop headers, and
    // the WebSocket server answers it as the plain request it then is.
    let h2c = "GET /echo HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n";
    let status = raw_status_line(gateway, h2c);
    assert!(!status.contains(" 101 "), "{status}");

    // The same handshake without a body is switched, by the upstream's own 101.
    let clean = format!("GET /echo HTTP/1.1\r\nHost: a\r\n{handshake}\r\n");
    assert_eq!(
        raw_status_line(gateway, &clean),
        "HTTP/1.1 101 Switching Protocols"
    );
    server.process.wait_for(|l| l == "handshake /echo");
    assert_eq!(
        server.handshakes("/echo"),
        1,
        "only the clean handshake reached the server"
    );
}

#[test]
fn a_reader_that_stops_reading_stalls_the_sender_not_meshds_memory() {
    let server = EchoServer::start();
    let temp = Scratch::new("websocket-slow-reader");
    let meshd = start_gateway(&temp, &gateway_source(&temp, server.address));
    let gateway = meshd.gateway.expect("a gateway listener");
    // Warm up the path once so the baseline includes what any tunnel costs.
    assert_eq!(
        ws_result("echo", &format!("ws://{gateway}/echo"), &[]),
        "echo ok 21"
    );
    let baseline = rss_kib(meshd.pid());

    // The server tries to send 128 MiB; the client reads nothing. Back-pressure must reach the
    // server: its sends stall once the sockets' buffers (the kernel's, up to some tens of MiB on
    // loopback) and meshd's fixed 16 KiB per direction are full, and meshd does not grow.
    let gateway_address = gateway.to_string();
    let connect = ["--connect", gateway_address.as_str()];
    let mut client = ws_client("slow", "ws://edge/flood", &connect);
    assert_eq!(client.next_line(), "open");
    let stalled = server
        .process
        .wait_for(|l| l.starts_with("stalled ") || l.starts_with("sent all "));
    assert!(
        stalled.starts_with("stalled "),
        "the server never stalled: {stalled}"
    );
    let sent: u64 = stalled["stalled ".len()..].parse().unwrap();
    let stalled_rss = rss_kib(meshd.pid());
    eprintln!("stalled after {sent} bytes; meshd RSS {baseline} KiB -> {stalled_rss} KiB");
    assert!(
        sent < 100 * 1024 * 1024,
        "the server sent {sent} bytes into a reader that reads nothing"
    );
    assert!(
        stalled_rss < baseline + 8 * 1024,
        "meshd grew from {baseline} KiB to {stalled_rss} KiB while the reader was stalled"
    );

    // Then the reader reads everything: 128 MiB pass, and meshd stays as small.
    client.tell();
    let read = client.wait_for(|l| l.starts_with("read all "));
    assert_eq!(read, format!("read all {}", 128 * 1024 * 1024));
    let after = rss_kib(meshd.pid());
    eprintln!("after 128 MiB: meshd RSS {after} KiB");
    assert!(
        after < baseline + 8 * 1024,
        "meshd grew from {baseline} KiB to {after} KiB"
    );
}

const MESH: &str = r#"mesh {
  default deny
  trust_domain "starfleet"
  mtls strict
  allow picard -> riker when request.path != "/denied"
  allow edge -> riker
}
"#;

#[test]
fn websockets_pass_sidecars_and_the_gateway_into_the_mesh_over_mutual_tls_after_the_mesh_decides() {
    let server = EchoServer::start();
    let unused = EchoServer::start();
    let pair = SidecarPair::start(server.address, unused.address, MESH);
    let outbound = pair.picard_outbound.to_string();
    let through = ["--connect", outbound.as_str()];

    // app → picard's outbound → mTLS → riker's inbound → the WebSocket server, and back.
    assert_eq!(ws_result("echo", "ws://riker/echo", &through), "echo ok 21");
    assert_eq!(
        metric(
            &pair.picard,
            "meshd_upgrades_total{proxy=\"outbound\",route=\"riker\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &pair.riker,
            "meshd_upgrades_total{proxy=\"inbound\",route=\"riker\"}"
        ),
        1.0
    );

    // The mesh's rule refuses at riker's inbound sidecar: 403 before any 101, never forwarded.
    assert_eq!(
        ws_result("refused", "ws://riker/denied", &through),
        "refused 403"
    );
    assert_eq!(server.handshakes("/denied"), 0);
    assert_eq!(server.handshakes("/echo"), 1);

    // The gateway into the mesh: edge's own identity over mTLS to riker's inbound sidecar.
    let gateway = pair.gateway.gateway.expect("a gateway listener");
    assert_eq!(
        ws_result("echo", &format!("ws://{gateway}/chat"), &[]),
        "echo ok 21"
    );
    assert_eq!(
        metric(
            &pair.riker,
            "meshd_upgrades_total{proxy=\"inbound\",route=\"riker\"}"
        ),
        2.0
    );
    assert_eq!(server.handshakes("/chat"), 1);
    drop(pair);
}
