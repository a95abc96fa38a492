//! A route whose condition reads `request.body` gets the body read whole (up to its body limit)
//! before admission, then forwarded as read. The language does not offer `request.body` in route
//! conditions yet, so the bundle is compiled from a condition on a header and the condition is
//! swapped for one on the body before the bundle is sealed; meshd runs the bundle file.

mod scratch;
mod support;

use meshwork_bundle::AdmissionStep;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn body_bundle(dir: &Scratch, upstream: &Upstream) -> std::path::PathBuf {
    let source = format!(
        r#"
gateway edge {{
  listen "127.0.0.1:0"
  route probes {{
    match POST "/probes"
    public
    when request.headers["x-kind"] == "probe"
    body_limit 64B
    forward crew
  }}
}}
service crew {{ endpoints ["{}"] }}
"#,
        upstream.address
    );
    let compilation = meshc::compile_text("body.mesh", &source);
    let mut bundle = compilation
        .bundle
        .unwrap_or_else(|| panic!("does not compile: {:?}", compilation.diagnostics));
    let mut swapped = false;
    for step in &mut bundle.gateways[0].routes[0].admission {
        if let AdmissionStep::Condition { cel, .. } = step {
            *cel = r#"request.body.kind == "probe""#.to_string();
            swapped = true;
        }
    }
    assert!(swapped);
    bundle.seal();
    let path = dir.path("bundle.json");
    std::fs::write(&path, bundle.to_pretty_json()).unwrap();
    path
}

async fn post(address: std::net::SocketAddr, head_extra: &str, body: &[u8]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut request =
        format!("POST /probes HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n{head_extra}\r\n")
            .into_bytes();
    request.extend_from_slice(body);
    stream.write_all(&request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await
    .unwrap()
    .unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text[9..12].parse().unwrap();
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_condition_on_the_body_sees_it_and_the_upstream_still_gets_it() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("body-condition");
    let server = start_with(test_options(vec![body_bundle(&dir, &upstream)])).await;
    let edge = server.listener("edge").unwrap();

    let probe = br#"{"kind":"probe"}"#;
    let (status, text) = post(edge, &format!("Content-Length: {}\r\n", probe.len()), probe).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(r#""body":"{\"kind\":\"probe\"}""#), "{text}");
    assert!(text.contains(r#""content-length":"16""#), "{text}");

    // Chunked: read whole, then sent upstream with its length.
    let chunked = b"8\r\n{\"kind\":\r\n8\r\n\"probe\"}\r\n0\r\n\r\n";
    let (status, text) = post(edge, "Transfer-Encoding: chunked\r\n", chunked).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(r#""content-length":"16""#), "{text}");
    assert!(!text.contains("transfer-encoding"), "{text}");

    let other = br#"{"kind":"other"}"#;
    let (status, text) = post(edge, &format!("Content-Length: {}\r\n", other.len()), other).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("step=condition"), "{text}");

    let mut large = b"{\"kind\":\"probe\",\"pad\":\"".to_vec();
    large.extend(std::iter::repeat_n(b'x', 100));
    large.extend_from_slice(b"\"}");
    let chunk = format!("{:x}\r\n", large.len());
    let mut chunked = chunk.into_bytes();
    chunked.extend_from_slice(&large);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let (status, text) = post(edge, "Transfer-Encoding: chunked\r\n", &chunked).await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("step=body_limit"), "{text}");
    assert_eq!(upstream.requests(), 2);
}
