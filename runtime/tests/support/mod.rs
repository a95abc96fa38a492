//! Shared pieces of the integration tests: real upstream HTTP servers (hyper) with scripted
//! behaviours, meshd started in-process on ephemeral ports, and real HTTP clients.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use meshd::stream::BrokerProgram;
use meshd::{start, RunOptions, RunningServer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

#[allow(unused_imports)] // not every test of a crate that includes this module uses it
pub use crate::scratch::Scratch;

/// What an upstream does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// 200 with a JSON echo of the request.
    Answer,
    /// Close the connection without answering.
    Reset,
    /// Answer after this many milliseconds.
    Slow(u64),
    /// Answer with this status.
    Status(u16),
    /// Answer with this status after this many milliseconds.
    SlowStatus(u64, u16),
    /// 200 with a body of this many bytes sent in 1 KiB frames (chunked on the wire).
    Chunked(usize),
}

/// A real HTTP server on an ephemeral loopback port (HTTP/1.1 and h2c), answering with JSON that
/// names it and echoes the method, protocol version, path, query and headers it received.
pub struct Upstream {
    /// Where it listens.
    pub address: SocketAddr,
    /// Requests received (including health checks).
    pub hits: Arc<AtomicUsize>,
    /// Health-check requests received.
    pub health_hits: Arc<AtomicUsize>,
    /// Requests received by `Host` and `Content-Length` headers (empty when absent).
    hosts: Arc<Mutex<BTreeMap<(String, String), usize>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    healthy: Arc<AtomicBool>,
    connections: Arc<AtomicU64>,
    open: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    /// Starts an upstream named `name`.
    pub async fn start(name: &str, behaviour: Behaviour) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let health_hits = Arc::new(AtomicUsize::new(0));
        let behaviour = Arc::new(Mutex::new(behaviour));
        let healthy = Arc::new(AtomicBool::new(true));
        let connections = Arc::new(AtomicU64::new(0));
        let open = Arc::new(AtomicU64::new(0));
        let hosts: Arc<Mutex<BTreeMap<(String, String), usize>>> = Arc::default();
        let name: Arc<str> = name.into();
        let (h, hh, b, ok, c) = (
            hits.clone(),
            health_hits.clone(),
            behaviour.clone(),
            healthy.clone(),
            connections.clone(),
        );
        let hosts_seen = hosts.clone();
        let still_open = open.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                c.fetch_add(1, Ordering::SeqCst);
                still_open.fetch_add(1, Ordering::SeqCst);
                let current = *b.lock().unwrap();
                if current == Behaviour::Reset {
                    h.fetch_add(1, Ordering::SeqCst);
                    // Read the request head, then drop the connection unanswered.
                    let mut buffer = [0u8; 4096];
                    let _ = tokio::time::timeout(
                        Duration::from_secs(1),
                        tokio::io::AsyncReadExt::read(&mut stream, &mut buffer),
                    )
                    .await;
                    let _ = stream.shutdown().await;
                    still_open.fetch_sub(1, Ordering::SeqCst);
                    continue;
                }
                let (name, h, hh, b, ok) =
                    (name.clone(), h.clone(), hh.clone(), b.clone(), ok.clone());
                let seen = hosts_seen.clone();
                let open = still_open.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let header = |name| {
                            let value = request.headers().get(name);
                            value
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_string()
                        };
                        let key = (header("host"), header("content-length"));
                        *seen.lock().unwrap().entry(key).or_default() += 1;
                        let (name, h, hh, b, ok) =
                            (name.clone(), h.clone(), hh.clone(), b.clone(), ok.clone());
                        async move {
                            Ok::<_, Infallible>(respond(&name, request, &h, &hh, &b, &ok).await)
                        }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Upstream {
            address,
            hits,
            health_hits,
            hosts,
            behaviour,
            healthy,
            connections,
            open,
            task,
        }
    }

    /// Changes what it does with the next requests.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    /// Makes `/healthz` answer 200 (true) or 503 (false).
    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::SeqCst);
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    /// Connections accepted and not yet closed by the client.
    pub fn open_connections(&self) -> u64 {
        self.open.load(Ordering::SeqCst)
    }

    /// Requests received with `Host: host`, health checks included.
    pub fn requests_with_host(&self, host: &str) -> usize {
        let hosts = self.hosts.lock().unwrap();
        hosts
            .iter()
            .filter(|((h, _), _)| h == host)
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests received with `Host: host` and `Content-Length: length`.
    pub fn requests_with_host_and_length(&self, host: &str, length: usize) -> usize {
        let key = (host.to_string(), length.to_string());
        self.hosts.lock().unwrap().get(&key).copied().unwrap_or(0)
    }

    /// Requests received other than health checks.
    pub fn requests(&self) -> usize {
        self.hits.load(Ordering::SeqCst) - self.health_hits.load(Ordering::SeqCst)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A body of `left` bytes of `b'x'` sent in 1 KiB frames, with no declared length.
pub struct Frames {
    left: usize,
}

impl hyper::body::Body for Frames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        let n = self.left.min(1024);
        self.left -= n;
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(Bytes::from(vec![
            b'x';
            n
        ])))))
    }
}

type TestBody = http_body_util::Either<Full<Bytes>, Frames>;

async fn respond(
    name: &str,
    request: Request<Incoming>,
    hits: &AtomicUsize,
    health_hits: &AtomicUsize,
    behaviour: &Mutex<Behaviour>,
    healthy: &AtomicBool,
) -> Response<TestBody> {
    hits.fetch_add(1, Ordering::SeqCst);
    if request.uri().path() == "/healthz" {
        health_hits.fetch_add(1, Ordering::SeqCst);
        let status = if healthy.load(Ordering::SeqCst) {
            200
        } else {
            503
        };
        return Response::builder()
            .status(status)
            .body(http_body_util::Either::Left(Full::new(Bytes::from(
                "health",
            ))))
            .unwrap();
    }
    let current = *behaviour.lock().unwrap();
    if let Behaviour::Chunked(size) = current {
        return Response::builder()
            .header("x-upstream", name)
            .body(http_body_util::Either::Right(Frames { left: size }))
            .unwrap();
    }
    let status = match current {
        Behaviour::Slow(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            200
        }
        Behaviour::Status(status) => status,
        Behaviour::SlowStatus(ms, status) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            status
        }
        _ => 200,
    };
    let headers: BTreeMap<String, String> = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let method = request.method().to_string();
    let version = format!("{:?}", request.version());
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let echo = serde_json::json!({
        "upstream": name,
        "method": method,
        "version": version,
        "path": path,
        "query": query,
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    });
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("connection", "keep-alive, x-upstream-secret")
        .header("x-upstream-secret", "hop")
        .header("keep-alive", "timeout=5")
        .header("x-upstream", name)
        .body(http_body_util::Either::Left(Full::new(Bytes::from(
            echo.to_string(),
        ))))
        .unwrap()
}

/// A raw upstream that answers each connection's first request with a keep-alive response and
/// then closes the connection at once, as an upstream with a short idle timeout would.
pub async fn one_shot_upstream() -> (SocketAddr, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let count = count.clone();
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 8192];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tokio::io::AsyncReadExt::read(&mut stream, &mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buffer[..n]),
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-upstream: one-shot\r\n\r\nok",
                    )
                    .await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (address, served, task)
}

/// A raw upstream that reads each request's head, sends `answer` at once, and then holds the
/// connection open without reading another byte (of a body, say): a server that refuses an
/// upload early and neither reads it nor closes.
pub async fn upstream_answering_unread(answer: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match tokio::io::AsyncReadExt::read(&mut stream, &mut byte).await {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let _ = stream.write_all(answer).await;
            held.push(stream);
        }
    });
    address
}

/// Posts to `address` (`Host: host`) a head declaring `length` bytes of body and then `sent` of
/// them, written by a thread of its own whatever happens to the connection (which it then leaves
/// open: a client that has not sent the rest), and reads the answer until it ends with `end` or
/// the connection ends (60 s at most). Blocking: call it from `spawn_blocking`.
pub fn post_upload(
    address: SocketAddr,
    host: &str,
    length: usize,
    sent: usize,
    end: &str,
) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let head = format!("POST /upload HTTP/1.1\r\nHost: {host}\r\nContent-Length: {length}\r\n\r\n");
    std::thread::spawn(move || {
        let _ = writer.write_all(head.as_bytes());
        let piece = vec![b'x'; 64 * 1024];
        let mut left = sent;
        while left > 0 {
            let n = left.min(piece.len());
            if writer.write_all(&piece[..n]).is_err() {
                return;
            }
            left -= n;
        }
        // Dropping this clone leaves the connection open.
    });
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !answer.ends_with(end.as_bytes()) {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// Options for a test meshd: admin on an ephemeral port, two workers, no access log, fast polling.
pub fn test_options(inputs: Vec<PathBuf>) -> RunOptions {
    let mut options = RunOptions::new(inputs);
    options.admin = "127.0.0.1:0".to_string();
    options.workers = 2;
    options.access_log = false;
    options.watch_interval = Duration::from_millis(50);
    options.embedded_broker = BrokerProgram::at(env!("CARGO_BIN_EXE_meshd"));
    options
}

/// Writes `source` to `<dir>/main.mesh` and starts meshd on it (blocking start, off the test's runtime).
pub async fn start_mesh(dir: &Scratch, source: &str) -> RunningServer {
    let file = dir.path("main.mesh");
    std::fs::write(&file, source).unwrap();
    start_with(test_options(vec![file])).await
}

/// Starts meshd with `options`.
pub async fn start_with(options: RunOptions) -> RunningServer {
    tokio::task::spawn_blocking(move || start(options))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("meshd did not start: {}", meshd::reload::error_chain(&e)))
}

/// Writes a bundle compiled from `source` to `path` (via the meshc library).
pub fn compile_bundle(source: &str, path: &Path) {
    let compilation = meshc::compile_text("test.mesh", source);
    let bundle = compilation
        .bundle
        .unwrap_or_else(|| panic!("does not compile: {:?}", compilation.diagnostics));
    std::fs::write(path, bundle.to_pretty_json()).unwrap();
}

/// An HTTP/1.1 keep-alive client.
pub fn client() -> Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A response read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends `request` and reads the whole response.
pub async fn send(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> Answer {
    // A deadline far above any answer a test waits for, so a hung exchange fails naming itself.
    let what = format!("{} {}", request.method(), request.uri());
    let exchange = async {
        let response = client
            .request(request)
            .await
            .expect("the request failed at the transport level");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    };
    tokio::time::timeout(Duration::from_secs(60), exchange)
        .await
        .unwrap_or_else(|_| panic!("{what} had no complete answer within 60 s"))
}

/// GET `http://address/path` with extra headers.
pub async fn get(address: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut builder = Request::get(format!("http://{address}{path}"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    send(&client(), builder.body(Full::new(Bytes::new())).unwrap()).await
}

/// Sends raw bytes on a fresh connection and reads until the server closes or `limit` passes.
pub async fn raw_exchange(address: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        match tokio::time::timeout(
            Duration::from_secs(5),
            tokio::io::AsyncReadExt::read(&mut stream, &mut buffer),
        )
        .await
        {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                received.extend_from_slice(&buffer[..n]);
                if received.windows(4).any(|w| w == b"\r\n\r\n") && has_complete_body(&received) {
                    break;
                }
            }
        }
    }
    String::from_utf8_lossy(&received).into_owned()
}

/// Sends raw bytes and reads everything until the server closes the connection.
pub async fn raw_exchange_all(address: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut received = Vec::new();
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut received),
    )
    .await;
    String::from_utf8_lossy(&received).into_owned()
}

fn has_complete_body(received: &[u8]) -> bool {
    let text = String::from_utf8_lossy(received);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("content-length:")
            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
    });
    match length {
        Some(n) => body.len() >= n,
        None => false,
    }
}

/// Polls `check` until it holds, failing after 10 s (readiness, not a sleep-as-sync).
pub async fn eventually(what: &str, check: impl AsyncFnMut() -> bool) {
    eventually_within(Duration::from_secs(10), what, check).await;
}

/// Polls `check` until it holds, failing after `limit`.
pub async fn eventually_within(limit: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// GET on the admin listener.
pub async fn admin_get(server: &RunningServer, path: &str) -> Answer {
    get(server.admin, path, &[]).await
}
