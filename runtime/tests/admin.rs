//! The admin listener over real sockets: health, readiness, bundle identity and metrics.

mod scratch;
mod support;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_bundle_identity_are_served() {
    let dir = Scratch::new("admin");
    let server = start_mesh(&dir, "gateway edge { listen \"127.0.0.1:0\" route ping { match GET \"/ping\" public respond 200 \"pong\" } }").await;
    assert_eq!(admin_get(&server, "/healthz").await.body, "ok\n");
    let ready = admin_get(&server, "/readyz").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["ready"], true);
    let bundle = admin_get(&server, "/bundle").await.json();
    assert_eq!(
        bundle["digest"],
        serde_json::Value::from(server.digest.clone())
    );
    assert_eq!(bundle["routes"], 1);
    assert_eq!(bundle["format_version"], 1);
    assert!(bundle["loaded_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(admin_get(&server, "/nothing").await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_and_status_and_label_the_bundle() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("metrics");
    let source = format!(
        "gateway edge {{ listen \"127.0.0.1:0\" route ping {{ match GET \"/ping\" public respond 200 \"pong\" }} route crew {{ match GET \"/crew\" public forward crew }} }}\nservice crew {{ endpoints [\"{}\"] }}",
        upstream.address
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    for _ in 0..3 {
        get(edge, "/ping", &[]).await;
    }
    get(edge, "/crew", &[]).await;
    get(edge, "/missing", &[]).await;
    let metrics = admin_get(&server, "/metrics").await;
    assert!(metrics
        .header("content-type")
        .unwrap()
        .contains("openmetrics"));
    let text = metrics.body;
    for expected in [
        r#"meshd_requests_total{gateway="edge",route="ping",status="200",denied_by=""} 3"#
            .to_string(),
        r#"meshd_requests_total{gateway="edge",route="crew",status="200",denied_by=""} 1"#
            .to_string(),
        r#"meshd_requests_total{gateway="edge",route="-",status="404",denied_by=""} 1"#.to_string(),
        format!(r#"meshd_bundle_info{{digest="{}""#, server.digest),
        format!(
            r#"meshd_upstream_duration_seconds_count{{service="crew",endpoint="{}"}} 1"#,
            upstream.address
        ),
        r#"meshd_bundle_loads_total{result="ok"} 1"#.to_string(),
    ] {
        assert!(text.contains(&expected), "missing {expected} in:\n{text}");
    }
}

/// Reads from `stream` until meshd closes it; what came before the close.
async fn read_until_closed(mut stream: tokio::net::TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    // The bound only keeps a broken meshd from hanging the test; the close is what is awaited.
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        stream.read_to_end(&mut received),
    )
    .await
    .expect("meshd closed the connection")
    .unwrap();
    received
}

/// The admin port is often reachable from the cluster's network (kubelet probes): a client there
/// that says nothing, stops halfway through a head, or keeps an answered connection idle cannot
/// hold it open; each is closed after the head timeout, and the port goes on answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_connections_that_say_nothing_or_stall_are_closed() {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;
    let dir = Scratch::new("admin-stall");
    let server = start_mesh(&dir, "gateway edge { listen \"127.0.0.1:0\" route ping { match GET \"/ping\" public respond 200 \"pong\" } }").await;
    let silent = TcpStream::connect(server.admin).await.unwrap();
    let mut partial = TcpStream::connect(server.admin).await.unwrap();
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: admin\r\n")
        .await
        .unwrap();
    let mut kept = TcpStream::connect(server.admin).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: admin\r\n\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let (silent, partial, kept) = tokio::join!(
        read_until_closed(silent),
        read_until_closed(partial),
        read_until_closed(kept)
    );
    assert!(silent.is_empty());
    assert!(!String::from_utf8_lossy(&partial).contains(" 200 "));
    assert!(String::from_utf8_lossy(&kept).starts_with("HTTP/1.1 200 OK"));
    assert!(started.elapsed() >= meshd::admin::HEAD_TIMEOUT - std::time::Duration::from_secs(1));
    assert_eq!(admin_get(&server, "/healthz").await.body, "ok\n");
}
