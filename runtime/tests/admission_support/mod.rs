//! Real parts for the admission tests: a scratch directory, a hyper upstream that echoes what it
//! received, a hyper client, meshd started on ephemeral ports, and a throwaway `redis-server`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use meshd::{start, RunOptions, RunningServer};

#[allow(unused_imports)] // not every test of a crate that includes this module uses it
pub use crate::scratch::Scratch;

/// What a client got back.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body as text.
    pub body: String,
}

impl Answer {
    /// A header as text (panics when absent: the test expects it).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
            .to_str()
            .unwrap()
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// A tokio runtime for the upstream and the client, and the client itself.
pub struct Net {
    runtime: tokio::runtime::Runtime,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Net {
    /// A runtime with a keep-alive HTTP/1.1 client.
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let client = Client::builder(TokioExecutor::new()).build_http();
        Net { runtime, client }
    }

    /// Starts an upstream that answers 200 with `{"path", "headers"}` of what it received.
    pub fn echo_upstream(&self) -> SocketAddr {
        let listener = StdListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        self.runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let service = service_fn(|request: Request<Incoming>| async move {
                        let headers: BTreeMap<String, String> = request
                            .headers()
                            .iter()
                            .map(|(k, v)| {
                                (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into())
                            })
                            .collect();
                        let body = serde_json::json!({
                            "path": request.uri().path(),
                            "headers": headers,
                        });
                        let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
                        response
                            .headers_mut()
                            .insert("content-type", "application/json".parse().unwrap());
                        Ok::<_, Infallible>(response)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        address
    }

    /// Sends `method path` to `to` with `headers` and `body`.
    pub fn send(
        &self,
        to: SocketAddr,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("http://{to}{path}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::copy_from_slice(body)))
            .unwrap();
        self.runtime.block_on(async {
            let response =
                tokio::time::timeout(Duration::from_secs(10), self.client.request(request))
                    .await
                    .expect("meshd answers within 10 s")
                    .expect("meshd answers");
            let (head, body) = response.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            Answer {
                status: head.status,
                headers: head.headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            }
        })
    }

    /// `GET path` with `headers`.
    pub fn get(&self, to: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.send(to, Method::GET, path, headers, b"")
    }
}

/// meshd serving `mesh` (a `.mesh` file), in this process, on ephemeral ports.
pub fn serve(mesh: &Path, redis: Option<&str>) -> RunningServer {
    let mut options = RunOptions::new(vec![mesh.to_path_buf()]);
    options.admin = "127.0.0.1:0".to_string();
    options.access_log = false;
    options.workers = 2;
    options.redis = redis.map(str::to_string);
    options.embedded_broker = meshd::stream::BrokerProgram::at(env!("CARGO_BIN_EXE_meshd"));
    start(options)
        .unwrap_or_else(|e| panic!("meshd did not start: {}", meshd::reload::error_chain(&e)))
}

/// A `redis-server` on an ephemeral loopback port, killed when dropped.
pub struct TestRedis {
    child: Child,
    /// `redis://127.0.0.1:<port>/`.
    pub url: String,
}

impl TestRedis {
    /// Starts one, or says why not (no binary) and returns `None`.
    pub fn start() -> Option<TestRedis> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("skipped: redis-server is not installed (apt-get install -y redis-server)");
            return None;
        }
        let port = StdListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut redis = TestRedis {
            child,
            url: format!("redis://127.0.0.1:{port}/"),
        };
        assert!(
            wait_until_ready(&mut redis.child),
            "redis-server on {} exited before it was ready",
            redis.url
        );
        Some(redis)
    }
}

/// Waits for redis-server's "Ready to accept connections" line (a signal, not a poll), then
/// drains the rest of its output on a thread so that its pipe never fills. False if it exited.
fn wait_until_ready(child: &mut Child) -> bool {
    use std::io::BufRead;
    let Some(stdout) = child.stdout.take() else {
        return false;
    };
    let mut lines = std::io::BufReader::new(stdout).lines();
    let ready = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.contains("Ready to accept connections"));
    std::thread::spawn(move || lines.for_each(drop));
    ready
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
