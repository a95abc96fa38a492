//! The host meshd routes by is the host the upstream gets. A request can name its host twice: in
//! the target (HTTP/1.1 absolute form, HTTP/2 `:authority`) and in a `Host` header. meshd routes
//! and admits by the target's (RFC 9112 §3.2.2: a server MUST ignore `Host` then; RFC 9113
//! §8.3.1), so it forwards that one as `Host`, never the other: an upstream that serves virtual
//! hosts would otherwise answer for a host the gateway never judged.

mod scratch;
mod support;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::{raw_exchange, start_mesh, Behaviour, Scratch, Upstream};

fn program(bridge: &Upstream, brig: &Upstream) -> String {
    format!(
        r#"gateway edge {{
  listen "127.0.0.1:0"
  route bridge {{ match * prefix "/" host "bridge.test" public forward bridge }}
  route brig {{ match * prefix "/" host "brig.test" public forward brig }}
}}
service bridge {{ endpoints ["{}"] }}
service brig {{ endpoints ["{}"] }}
"#,
        bridge.address, brig.address
    )
}

/// The upstream that answered and the `Host` it got, from its JSON echo.
fn who_and_host(body: &str) -> (String, String) {
    let echo: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{body}"));
    (
        echo["upstream"].as_str().unwrap().to_string(),
        echo["headers"]["host"].as_str().unwrap_or("").to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_gets_the_host_the_request_was_routed_by() {
    let bridge = Upstream::start("bridge", Behaviour::Answer).await;
    let brig = Upstream::start("brig", Behaviour::Answer).await;
    let dir = Scratch::new("forwarded-host");
    let server = start_mesh(&dir, &program(&bridge, &brig)).await;
    let edge = server.listener("edge").unwrap();

    // HTTP/1.1 in absolute form, with a Host naming the other host.
    let answer = raw_exchange(
        edge,
        b"GET http://bridge.test/logs HTTP/1.1\r\nHost: brig.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    let body = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
    assert_eq!(
        who_and_host(body),
        ("bridge".into(), "bridge.test".into()),
        "{answer}"
    );

    // HTTP/2 with an :authority and a Host that differ.
    let tcp = tokio::net::TcpStream::connect(edge).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = Request::get("http://bridge.test/logs")
        .header("host", "brig.test")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8_lossy(&body);
    assert_eq!(
        who_and_host(&body),
        ("bridge".into(), "bridge.test".into()),
        "{body}"
    );

    // One host, named once: as it came.
    let answer = raw_exchange(
        edge,
        b"GET /logs HTTP/1.1\r\nHost: brig.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    let body = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
    assert_eq!(
        who_and_host(body),
        ("brig".into(), "brig.test".into()),
        "{answer}"
    );
}
