//! What the drain tests share: meshd as a real process (started, signalled, its log read), an
//! upstream that answers only when the test opens its gate, and a keep-alive HTTP/1.1 load client
//! that counts every outcome instead of failing on the first error (the tests assert the counts).
#![allow(dead_code)]

use std::convert::Infallible;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How long any single wait of these tests may take before the test fails (a hang, not a
/// timing assertion).
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A `meshd run` process with its stderr collected.
pub struct Meshd {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    logged: Arc<(Mutex<()>, std::sync::Condvar)>,
    /// The gateway listener.
    pub gateway: SocketAddr,
    /// The admin listener.
    pub admin: SocketAddr,
}

/// The path of the meshd binary under test.
pub fn meshd_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_meshd"))
}

impl Meshd {
    /// Starts `binary run <source file> args…` and waits until it serves (it logs "serving
    /// bundle" once every listener accepts).
    pub fn start(binary: &Path, source: &Path, args: &[&str]) -> Meshd {
        let mut child = Command::new(binary)
            .arg("run")
            .arg(source)
            .args(["--no-access-log", "--workers", "2"])
            .args(args)
            .env("MESHD_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let logged = Arc::new((Mutex::new(()), std::sync::Condvar::new()));
        let (lines, wake) = (Arc::clone(&log), Arc::clone(&logged));
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap().push(line);
                wake.1.notify_all();
            }
            // The end of the log is news too.
            lines.lock().unwrap().push(String::from("<stderr closed>"));
            wake.1.notify_all();
        });
        let mut meshd = Meshd {
            child,
            log,
            logged,
            gateway: SocketAddr::from(([0, 0, 0, 0], 0)),
            admin: SocketAddr::from(([0, 0, 0, 0], 0)),
        };
        meshd.wait_for_log("serving bundle");
        meshd.gateway = meshd.logged_address("listening (http)");
        meshd.admin = meshd.logged_address("admin listening");
        meshd
    }

    /// [`Self::start`] from async code (on a multi-threaded runtime).
    pub fn start_async(binary: &Path, source: &Path, args: &[&str]) -> Meshd {
        tokio::task::block_in_place(|| Meshd::start(binary, source, args))
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }

    /// Sends `signal` (libc::SIGTERM, …).
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) with a pid this test started; no memory is touched.
        let sent = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(sent, 0, "kill failed");
    }

    /// The log so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Waits until a log line contains `needle`; returns that line.
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        let mut guard = self.logged.0.lock().unwrap();
        loop {
            {
                let lines = self.log.lock().unwrap();
                if let Some(line) = lines.iter().find(|l| l.contains(needle)) {
                    return line.clone();
                }
                if lines.last().is_some_and(|l| l == "<stderr closed>") {
                    panic!(
                        "meshd exited without logging {needle:?}:\n{}",
                        lines.join("\n")
                    );
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "meshd never logged {needle:?}:\n{}",
                self.log()
            );
            guard = self.logged.1.wait_timeout(guard, left).unwrap().0;
        }
    }

    fn logged_address(&self, needle: &str) -> SocketAddr {
        let line = self.wait_for_log(needle);
        let address = line
            .split("address=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        address.parse().unwrap()
    }

    /// Waits for the process to exit; returns its status and how long that took.
    pub async fn wait_exit(&mut self) -> (ExitStatus, Duration) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, started.elapsed());
            }
            assert!(
                started.elapsed() < PATIENCE,
                "meshd did not exit:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// [`Self::wait_for_log`] from async code (on a multi-threaded runtime).
    pub fn wait_for_log_async(&self, needle: &str) -> String {
        tokio::task::block_in_place(|| self.wait_for_log(needle))
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Meshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a program to `dir/main.mesh`.
pub fn write_program(dir: &Path, source: &str) -> PathBuf {
    let path = dir.join("main.mesh");
    std::fs::write(&path, source).unwrap();
    path
}

/// An upstream that counts requests as they arrive and answers each (200, "released") only
/// once the test opens its gate.
pub struct GatedUpstream {
    pub address: SocketAddr,
    received: Arc<AtomicUsize>,
    gate: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl GatedUpstream {
    pub async fn start() -> GatedUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let received = Arc::new(AtomicUsize::new(0));
        let (gate, _) = watch::channel(false);
        let (count, opened) = (Arc::clone(&received), gate.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (count, opened) = (Arc::clone(&count), opened.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |_request: Request<Incoming>| {
                        count.fetch_add(1, Ordering::SeqCst);
                        let mut open = opened.subscribe();
                        async move {
                            let _ = open.wait_for(|open| *open).await;
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                                b"released",
                            ))))
                        }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        GatedUpstream {
            address,
            received,
            gate,
            task,
        }
    }

    /// Requests received so far.
    pub fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }

    /// Waits until `n` requests have arrived.
    pub async fn wait_received(&self, n: usize) {
        let deadline = Instant::now() + PATIENCE;
        while self.received() < n {
            assert!(
                Instant::now() < deadline,
                "only {} of {n} requests arrived",
                self.received()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Lets every waiting (and later) request be answered.
    pub fn open(&self) {
        let _ = self.gate.send(true);
    }
}

impl Drop for GatedUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One response, as read off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// The response said `Connection: close`.
    pub close: bool,
    pub retry_after: Option<String>,
    pub body: String,
}

/// Why an exchange failed, in the words wrk uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The connection could not be made.
    Connect(String),
    /// The request could not be written.
    Write(String),
    /// The request was sent and no complete response came back.
    Read(String),
}

/// Sends `request` (a whole HTTP/1.1 message) on `stream` and reads one response.
pub async fn exchange(stream: &mut TcpStream, request: &[u8]) -> Result<Reply, Failure> {
    stream
        .write_all(request)
        .await
        .map_err(|e| Failure::Write(e.to_string()))?;
    read_reply(stream).await
}

async fn read_reply(stream: &mut TcpStream) -> Result<Reply, Failure> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let mut slots = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Response::new(&mut slots);
        if let Ok(httparse::Status::Complete(head)) = parsed.parse(&buffer) {
            let header = |name: &str| {
                parsed
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(name))
                    .map(|h| String::from_utf8_lossy(h.value).into_owned())
            };
            let length: usize = header("content-length")
                .map(|v| v.parse().unwrap_or(0))
                .unwrap_or(0);
            let reply = Reply {
                status: parsed.code.unwrap_or(0),
                close: header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close")),
                retry_after: header("retry-after"),
                body: String::new(),
            };
            while buffer.len() < head + length {
                let read = stream
                    .read(&mut chunk)
                    .await
                    .map_err(|e| Failure::Read(e.to_string()))?;
                if read == 0 {
                    return Err(Failure::Read("closed mid-body".into()));
                }
                buffer.extend_from_slice(&chunk[..read]);
            }
            let body = String::from_utf8_lossy(&buffer[head..head + length]).into_owned();
            return Ok(Reply { body, ..reply });
        }
        let read = stream
            .read(&mut chunk)
            .await
            .map_err(|e| Failure::Read(e.to_string()))?;
        if read == 0 {
            return Err(Failure::Read("closed without a response".into()));
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

/// GET `path` on a fresh connection.
pub async fn get_once(address: SocketAddr, path: &str) -> Result<Reply, Failure> {
    let mut stream = TcpStream::connect(address)
        .await
        .map_err(|e| Failure::Connect(e.to_string()))?;
    let request = format!("GET {path} HTTP/1.1\r\nhost: drain.test\r\n\r\n");
    exchange(&mut stream, request.as_bytes()).await
}

/// POST `body` to `path` on a fresh connection.
pub async fn post_once(address: SocketAddr, path: &str, body: &str) -> Result<Reply, Failure> {
    let mut stream = TcpStream::connect(address)
        .await
        .map_err(|e| Failure::Connect(e.to_string()))?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: drain.test\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    exchange(&mut stream, request.as_bytes()).await
}

/// What the load client saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// 2xx responses.
    pub ok: u64,
    /// Other responses.
    pub non_2xx: u64,
    /// Responses that said `Connection: close`.
    pub closed_by_server: u64,
    /// Connections refused (the only server stopped listening).
    pub refused: u64,
    /// Other connect failures.
    pub connect_errors: u64,
    /// Requests that could not be written.
    pub write_errors: u64,
    /// Requests written that got no complete response.
    pub read_errors: u64,
}

impl Tally {
    /// Every failure a client would notice, refused connections included.
    pub fn errors(&self) -> u64 {
        self.refused + self.connect_errors + self.write_errors + self.read_errors
    }
}

#[derive(Default)]
struct Counters {
    ok: AtomicU64,
    non_2xx: AtomicU64,
    closed_by_server: AtomicU64,
    refused: AtomicU64,
    connect_errors: AtomicU64,
    write_errors: AtomicU64,
    read_errors: AtomicU64,
    first_failure: Mutex<Option<String>>,
    /// The first failure that was not a refused connection (printed by `finish`, so a failed
    /// assertion on the tally says which kind it was).
    first_error: Mutex<Option<String>>,
}

/// `connections` keep-alive connections sending `GET path` back to back, like wrk: a connection
/// the server closes (or says `Connection: close` on) is opened again at once.
pub struct LoadClient {
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl LoadClient {
    /// Starts the load; with `stop_when_refused`, a connection that is refused ends its task
    /// (the only server has closed its listener), counted in `refused`.
    pub fn start(
        address: SocketAddr,
        path: &str,
        connections: usize,
        stop_when_refused: bool,
    ) -> Self {
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let request: Arc<[u8]> = format!("GET {path} HTTP/1.1\r\nhost: drain.test\r\n\r\n")
            .into_bytes()
            .into();
        let tasks = (0..connections)
            .map(|_| {
                let (counters, stop, request) = (
                    Arc::clone(&counters),
                    Arc::clone(&stop),
                    Arc::clone(&request),
                );
                tokio::spawn(async move {
                    hammer(address, &request, &counters, &stop, stop_when_refused).await;
                })
            })
            .collect();
        LoadClient {
            counters,
            stop,
            tasks,
        }
    }

    /// The counts so far.
    pub fn tally(&self) -> Tally {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::SeqCst);
        Tally {
            ok: get(&c.ok),
            non_2xx: get(&c.non_2xx),
            closed_by_server: get(&c.closed_by_server),
            refused: get(&c.refused),
            connect_errors: get(&c.connect_errors),
            write_errors: get(&c.write_errors),
            read_errors: get(&c.read_errors),
        }
    }

    /// The first failure seen, for assertion messages.
    pub fn first_failure(&self) -> Option<String> {
        self.counters.first_failure.lock().unwrap().clone()
    }

    /// Waits until `n` more 2xx responses than now have arrived.
    pub async fn wait_for_more(&self, n: u64) {
        let target = self.tally().ok + n;
        let deadline = Instant::now() + PATIENCE;
        while self.tally().ok < target {
            assert!(
                Instant::now() < deadline,
                "the load stalled: {:?}",
                self.tally()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops and returns the final counts.
    pub async fn finish(self) -> Tally {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            let _ = task.await;
        }
        let c = &self.counters;
        if let Some(error) = c.first_error.lock().unwrap().as_ref() {
            eprintln!("load client: first failure other than a refused connection: {error}");
        }
        let get = |a: &AtomicU64| a.load(Ordering::SeqCst);
        Tally {
            ok: get(&c.ok),
            non_2xx: get(&c.non_2xx),
            closed_by_server: get(&c.closed_by_server),
            refused: get(&c.refused),
            connect_errors: get(&c.connect_errors),
            write_errors: get(&c.write_errors),
            read_errors: get(&c.read_errors),
        }
    }
}

async fn hammer(
    address: SocketAddr,
    request: &[u8],
    counters: &Counters,
    stop: &AtomicBool,
    stop_when_refused: bool,
) {
    let note = |counter: &AtomicU64, what: String| {
        counter.fetch_add(1, Ordering::SeqCst);
        counters
            .first_error
            .lock()
            .unwrap()
            .get_or_insert(what.clone());
        counters.first_failure.lock().unwrap().get_or_insert(what);
    };
    let mut connection: Option<TcpStream> = None;
    while !stop.load(Ordering::SeqCst) {
        let stream = match connection.as_mut() {
            Some(stream) => stream,
            None => match TcpStream::connect(address).await {
                Ok(stream) => connection.insert(stream),
                Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
                    counters.refused.fetch_add(1, Ordering::SeqCst);
                    if stop_when_refused {
                        return;
                    }
                    counters
                        .first_failure
                        .lock()
                        .unwrap()
                        .get_or_insert(format!("connect: {error}"));
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
                Err(error) => {
                    note(&counters.connect_errors, format!("connect: {error}"));
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            },
        };
        match exchange(stream, request).await {
            Ok(reply) => {
                if (200..300).contains(&reply.status) {
                    counters.ok.fetch_add(1, Ordering::SeqCst);
                } else {
                    note(&counters.non_2xx, format!("status {}", reply.status));
                }
                if reply.close {
                    counters.closed_by_server.fetch_add(1, Ordering::SeqCst);
                    connection = None;
                }
            }
            Err(Failure::Write(error)) => {
                note(&counters.write_errors, format!("write: {error}"));
                connection = None;
            }
            Err(Failure::Read(error)) | Err(Failure::Connect(error)) => {
                note(&counters.read_errors, format!("read: {error}"));
                connection = None;
            }
        }
    }
}

/// Slow requests sent one after another at a steady pace while `stop` is false, each on its own
/// connection; every outcome is kept.
pub struct Trickle {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<Result<Reply, Failure>>>,
}

impl Trickle {
    /// Sends `GET path` every `every`, each waited for on its own task.
    pub fn start(address: SocketAddr, path: &str, every: Duration) -> Trickle {
        let stop = Arc::new(AtomicBool::new(false));
        let (running, path) = (Arc::clone(&stop), path.to_string());
        let task = tokio::spawn(async move {
            let mut requests = Vec::new();
            while !running.load(Ordering::SeqCst) {
                let path = path.clone();
                requests.push(tokio::spawn(async move { get_once(address, &path).await }));
                tokio::time::sleep(every).await;
            }
            let mut outcomes = Vec::new();
            for request in requests {
                outcomes.push(request.await.unwrap());
            }
            outcomes
        });
        Trickle { stop, task }
    }

    /// Stops sending and waits for every answer.
    pub async fn finish(self) -> Vec<Result<Reply, Failure>> {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.unwrap()
    }
}

/// Polls `GET path` on `address` until the status is `status`.
pub async fn wait_for_status(address: SocketAddr, path: &str, status: u16) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(reply) = get_once(address, path).await {
            if reply.status == status {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{path} never answered {status}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
