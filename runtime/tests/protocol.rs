//! The client side of the wire: request smuggling, oversized heads, HTTP/2 prior knowledge, TLS
//! with ALPN.

mod scratch;
mod support;
mod wire_messages;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::*;
use tokio_rustls::rustls::{self, pki_types::ServerName};
use wire_messages::scripted_upstream::scripted_upstream;

async fn forwarding_gateway(
    dir: &Scratch,
    upstream: &Upstream,
    listen: &str,
) -> meshd::RunningServer {
    let source = format!(
        "gateway edge {{ {listen} route all {{ match * prefix \"/\" public forward crew }} }}\nservice crew {{ endpoints [\"{}\"] }}",
        upstream.address
    );
    start_mesh(dir, &source).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_length_with_transfer_encoding_is_refused_and_never_forwarded() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("smuggling");
    let server = forwarding_gateway(&dir, &upstream, "listen \"127.0.0.1:0\"").await;
    let edge = server.listener("edge").unwrap();
    let smuggled = b"POST / HTTP/1.1\r\nHost: edge\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: edge\r\n\r\n";
    let answer = raw_exchange(edge, smuggled).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let reversed = b"POST / HTTP/1.1\r\nHost: edge\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n";
    let answer = raw_exchange(edge, reversed).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    // After a normal keep-alive request, an ambiguous one on the same connection is refused too.
    let pipelined = b"GET /first HTTP/1.1\r\nHost: edge\r\n\r\nPOST / HTTP/1.1\r\nHost: edge\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    let answer = raw_exchange_all(edge, pipelined).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("HTTP/1.1 400"), "{answer}");
    assert_eq!(
        upstream.requests(),
        1,
        "an ambiguous request reached the upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_chunked_upload_is_forwarded_whole() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("chunked");
    let server = forwarding_gateway(&dir, &upstream, "listen \"127.0.0.1:0\"").await;
    let edge = server.listener("edge").unwrap();
    let chunked = b"POST /upload HTTP/1.1\r\nHost: edge\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    let answer = raw_exchange_all(edge, chunked).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""body":"hello world""#), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_content_lengths_are_refused() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("double-length");
    let server = forwarding_gateway(&dir, &upstream, "listen \"127.0.0.1:0\"").await;
    let edge = server.listener("edge").unwrap();
    let answer = raw_exchange(
        edge,
        b"POST / HTTP/1.1\r\nHost: edge\r\nContent-Length: 1\r\nContent-Length: 5\r\n\r\nhello",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_eq!(upstream.requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_request_head_gets_431() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("oversized");
    let server = forwarding_gateway(&dir, &upstream, "listen \"127.0.0.1:0\"").await;
    let edge = server.listener("edge").unwrap();
    let mut request = b"GET / HTTP/1.1\r\nHost: edge\r\nX-Huge: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 100 * 1024));
    request.extend_from_slice(b"\r\n\r\n");
    let answer = raw_exchange(edge, &request).await;
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "{}",
        &answer[..answer.len().min(200)]
    );
    assert_eq!(upstream.requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_with_prior_knowledge_is_served_and_forwarded_as_http1() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("h2c");
    let server = forwarding_gateway(&dir, &upstream, "listen \"127.0.0.1:0\"").await;
    let edge = server.listener("edge").unwrap();
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    for _ in 0..3 {
        let response = client
            .request(
                Request::get(format!("http://{edge}/over/h2?x=1"))
                    .body(Full::new(Bytes::new()))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.version(), Version::HTTP_2);
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let echo: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(echo["path"], "/over/h2");
        assert_eq!(echo["query"], "x=1");
        assert_eq!(echo["headers"]["host"], edge.to_string());
    }
}

/// An HTTP/1.1 upstream that repeats its length (`Content-Length: 5, 5`, which HTTP/1.1 allows)
/// is answered to an HTTP/2 client with the one length: HTTP/2 allows no list, and the client
/// once reset the stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_upstream_length_reaches_an_http2_client_as_one() {
    let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\nhello";
    let address = scripted_upstream(Arc::new(Mutex::new(answer.to_vec())));
    let dir = Scratch::new("h2-repeated-length");
    let source = format!(
        "gateway edge {{ listen \"127.0.0.1:0\" route all {{ match * prefix \"/\" public forward crew }} }}\nservice crew {{ endpoints [\"{address}\"] }}"
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    let response = client
        .request(
            Request::get(format!("http://{edge}/length"))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let lengths: Vec<_> = response
        .headers()
        .get_all("content-length")
        .iter()
        .collect();
    assert_eq!(lengths, ["5"]);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"hello");
}

/// The first bytes of a connection decide HTTP/2 (the `PRI ` of its preface) or HTTP/1.1. A
/// client that sends a piece of the preface (`P`, `PR`, `PRI`) and then closes its side gets its
/// connection closed at once (as an HTTP/1.1 request cut short); one that sends it and stalls is
/// let go with the head timeout, however long the connection could otherwise last. meshd once
/// waited on both for ever, polling each every millisecond. The whole preface sent in pieces is
/// still HTTP/2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_piece_of_the_http2_preface_is_not_waited_on_for_ever() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("preface-piece");
    std::fs::write(
        dir.path("main.mesh"),
        format!(
            "gateway edge {{\n  listen \"127.0.0.1:0\"\n  route all {{ match * prefix \"/\" public forward crew }}\n}}\nservice crew {{ endpoints [\"{}\"] }}\n",
            upstream.address
        ),
    )
    .unwrap();
    let mut options = test_options(vec![dir.path("main.mesh")]);
    options.head_timeout = std::time::Duration::from_secs(1);
    let server = start_with(options).await;
    let edge = server.listener("edge").unwrap();
    // A guard against hanging, far past what each case needs: not a figure.
    let guard = std::time::Duration::from_secs(20);
    for piece in [&b"P"[..], b"PR", b"PRI"] {
        // Closed after the piece: answered and closed.
        let mut stream = tokio::net::TcpStream::connect(edge).await.unwrap();
        stream.write_all(piece).await.unwrap();
        stream.shutdown().await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(guard, stream.read_to_end(&mut answer))
            .await
            .expect("a closed piece of the preface is let go")
            .unwrap();
        // A request cut short by its client's close gets no answer, as from nginx.
        assert!(
            answer.is_empty(),
            "{piece:?}: {}",
            String::from_utf8_lossy(&answer)
        );
        // Stalled after the piece: closed by the head timeout.
        let mut stream = tokio::net::TcpStream::connect(edge).await.unwrap();
        stream.write_all(piece).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(guard, stream.read_to_end(&mut answer))
            .await
            .expect("a stalled piece of the preface is let go")
            .unwrap();
    }
    // The preface sent a byte at a time is HTTP/2 all the same.
    let mut stream = tokio::net::TcpStream::connect(edge).await.unwrap();
    for byte in b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" {
        stream.write_all(&[*byte]).await.unwrap();
    }
    let mut settings = [0u8; 9];
    stream.read_exact(&mut settings).await.unwrap();
    assert_eq!(settings[3], 4, "the server's preface is a SETTINGS frame");
}

/// A self-signed certificate for `localhost`, written as PEM files.
fn certificate(dir: &Scratch) -> (rustls::pki_types::CertificateDer<'static>, String) {
    let issued = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.path("cert.pem"), issued.cert.pem()).unwrap();
    std::fs::write(dir.path("key.pem"), issued.signing_key.serialize_pem()).unwrap();
    let listen = format!(
        "listen \"127.0.0.1:0\" tls cert file(\"{}\") key file(\"{}\")",
        dir.path("cert.pem").display(),
        dir.path("key.pem").display()
    );
    (issued.cert.der().clone(), listen)
}

async fn tls_request(
    address: std::net::SocketAddr,
    root: &rustls::pki_types::CertificateDer<'static>,
    alpn: &[u8],
) -> (Version, serde_json::Value) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let request = Request::get("https://localhost/secure")
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = if alpn == b"h2" {
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .unwrap();
        tokio::spawn(connection);
        sender.send_request(request).await.unwrap()
    } else {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(connection);
        let mut request = request;
        *request.uri_mut() = "/secure".parse().unwrap();
        sender.send_request(request).await.unwrap()
    };
    let version = response.version();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (version, serde_json::from_slice(&body).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_listener_serves_http1_and_http2_by_alpn_and_says_https_upstream() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("tls");
    let (root, listen) = certificate(&dir);
    let server = forwarding_gateway(&dir, &upstream, &listen).await;
    assert!(server.listeners[0].tls);
    let edge = server.listener("edge").unwrap();
    let (version, echo) = tls_request(edge, &root, b"http/1.1").await;
    assert_eq!(version, Version::HTTP_11);
    assert_eq!(echo["path"], "/secure");
    assert_eq!(echo["headers"]["x-forwarded-proto"], "https");
    let (version, echo) = tls_request(edge, &root, b"h2").await;
    assert_eq!(version, Version::HTTP_2);
    assert_eq!(echo["headers"]["x-forwarded-proto"], "https");
}

/// Opens a TLS connection with `config`, sends one HTTP/1.1 request (which also delivers the
/// server's session tickets) and returns how the handshake went.
async fn handshake_and_request(
    address: std::net::SocketAddr,
    config: &Arc<rustls::ClientConfig>,
) -> Option<rustls::HandshakeKind> {
    let connector = tokio_rustls::TlsConnector::from(Arc::clone(config));
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let kind = tls.get_ref().1.handshake_kind();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = Request::get("/secure")
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    response.into_body().collect().await.unwrap();
    kind
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_tls_client_resumes_its_session_without_a_full_handshake() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("tls-resume");
    let (root, listen) = certificate(&dir);
    let server = forwarding_gateway(&dir, &upstream, &listen).await;
    let edge = server.listener("edge").unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots.clone())
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let config = Arc::new(config);
    assert_eq!(
        handshake_and_request(edge, &config).await,
        Some(rustls::HandshakeKind::Full)
    );
    for _ in 0..3 {
        assert_eq!(
            handshake_and_request(edge, &config).await,
            Some(rustls::HandshakeKind::Resumed),
            "a TLS 1.3 ticket from the last connection must resume"
        );
    }
    // TLS 1.2 resumes by session id, from the listener's session cache.
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.resumption = config
        .resumption
        .tls12_resumption(rustls::client::Tls12Resumption::SessionIdOnly);
    let config = Arc::new(config);
    assert_eq!(
        handshake_and_request(edge, &config).await,
        Some(rustls::HandshakeKind::Full)
    );
    assert_eq!(
        handshake_and_request(edge, &config).await,
        Some(rustls::HandshakeKind::Resumed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_certificate_file_is_a_load_error_naming_it() {
    let dir = Scratch::new("tls-missing");
    let file = dir.path("main.mesh");
    std::fs::write(
        &file,
        "gateway edge { listen \"127.0.0.1:0\" tls cert file(\"/nonexistent/cert.pem\") key file(\"/nonexistent/key.pem\") route ping { match GET \"/\" public respond 200 \"x\" } }",
    )
    .unwrap();
    let options = test_options(vec![file]);
    let error = tokio::task::spawn_blocking(move || meshd::start(options))
        .await
        .unwrap()
        .unwrap_err();
    let text = meshd::reload::error_chain(&error);
    assert!(text.contains("/nonexistent/cert.pem"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_request_head_is_disconnected() {
    let dir = Scratch::new("slowloris");
    let file = dir.path("main.mesh");
    std::fs::write(&file, "gateway edge { listen \"127.0.0.1:0\" route a { match GET \"/\" public respond 200 \"x\" } }").unwrap();
    let mut options = test_options(vec![file]);
    options.head_timeout = std::time::Duration::from_millis(300);
    let server = start_with(options).await;
    let edge = server.listener("edge").unwrap();
    let mut slow = tokio::net::TcpStream::connect(edge).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut slow, b"GET / HTTP/1.1\r\nHost: edge\r\nX-Slow: ")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buffer = [0u8; 64];
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut slow, &mut buffer),
    )
    .await
    .expect("the connection was left open");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(250));
    // A prompt client on another connection is served meanwhile.
    assert_eq!(get(edge, "/", &[]).await.body, "x");
}
