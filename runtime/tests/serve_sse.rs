//! `serve topic …` routes over real sockets against the embedded broker: records produced with
//! kcat reach an SSE client as events whose `id:` is a resumable position; a reconnect with
//! `Last-Event-ID` resumes with neither a gap nor a duplicate; a `when` drops what it refuses;
//! the long-poll form answers JSON batches with the next position; a client that stops reading
//! is cut off at its buffer bound and counted; a client without a key gets 401 before any
//! record; a full route answers 503.
//!
//! Every wait is on a signal: the stream's opening comment (the client is positioned), an event,
//! the end of a connection, a metric.

mod scratch;
mod stream_harness;
mod support;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use meshd::RunningServer;
use stream_harness::{produce_raw, RawRecord};
use support::{admin_get, client, eventually, get, start_mesh, Scratch};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const KEY: &str = "engage-sse-key";

fn program(dir: &Scratch) -> String {
    std::fs::write(dir.path("picard.key"), KEY).unwrap();
    format!(
        r#"
gateway edge {{
  listen "127.0.0.1:0"
  consumer picard {{ key file("{key}")  groups [captains] }}
  route alerts {{
    match GET "/alerts"
    auth key header "x-api-key"
    serve topic "red-alerts" keepalive 1s
  }}
  route red {{
    match GET "/red"
    auth key header "x-api-key"
    serve topic "captains-log" when event.value.severity == "red"
  }}
  route firehose {{
    match GET "/firehose"
    auth key header "x-api-key"
    serve topic "firehose" buffer 4 buffer_size 64KiB
  }}
  route bridge {{
    match GET "/bridge"
    auth key header "x-api-key"
    serve topic "bridge" clients 1
  }}
}}

topic "red-alerts" {{ partitions 2 }}
topic "captains-log" {{ partitions 1 }}
topic "firehose" {{ partitions 1 }}
topic "bridge" {{ partitions 1 }}
"#,
        key = dir.path("picard.key").display()
    )
}

async fn start(name: &str) -> (Scratch, RunningServer) {
    let dir = Scratch::new(name);
    let source = program(&dir);
    let server = start_mesh(&dir, &source).await;
    (dir, server)
}

fn edge(server: &RunningServer) -> SocketAddr {
    server.listener("edge").unwrap()
}

fn bootstrap(server: &RunningServer) -> String {
    server.kafka().bootstrap_servers().expect("Kafka runs")
}

/// Produces one record per line with kcat (`KEY:VALUE` lines), as an outside producer would.
fn kcat_produce(bootstrap: &str, topic: &str, lines: &[&str]) {
    let mut child = Command::new("kcat")
        .args(["-b", bootstrap, "-P", "-t", topic, "-K", ":"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kcat is installed (.ci/run installs it)");
    let mut stdin = child.stdin.take().unwrap();
    for line in lines {
        std::io::Write::write_all(&mut stdin, format!("{line}\n").as_bytes()).unwrap();
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "kcat: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// One Server-Sent Event.
#[derive(Debug, Clone, PartialEq)]
struct Event {
    id: Option<String>,
    data: String,
}

/// A small SSE client: reads the response body frame by frame and splits it into events,
/// keeping comment lines apart.
struct SseClient {
    body: Incoming,
    pending: String,
    comments: Vec<String>,
}

impl SseClient {
    async fn connect(address: SocketAddr, path: &str, headers: &[(&str, &str)]) -> SseClient {
        Self::connect_with(&client(), address, path, headers).await
    }

    async fn connect_with(
        client: &Client<HttpConnector, Full<Bytes>>,
        address: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
    ) -> SseClient {
        let mut builder = http::Request::get(format!("http://{address}{path}"))
            .header("accept", "text/event-stream");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let response = client
            .request(builder.body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        let mut sse = SseClient {
            body: response.into_body(),
            pending: String::new(),
            comments: Vec::new(),
        };
        // The opening comment says the client is positioned: records produced after it are its.
        sse.until_comment("serving").await;
        sse
    }

    async fn fill(&mut self) -> bool {
        match self.body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    self.pending.push_str(&String::from_utf8_lossy(&data));
                }
                true
            }
            Some(Err(error)) => panic!("the stream was cut: {error}"),
            None => false,
        }
    }

    /// The next block (lines up to a blank line), or `None` at the end of the stream.
    async fn block(&mut self) -> Option<Vec<String>> {
        loop {
            if let Some(end) = self.pending.find("\n\n") {
                let block: String = self.pending.drain(..end + 2).collect();
                return Some(block.trim_end().lines().map(str::to_owned).collect());
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    async fn until_comment(&mut self, needle: &str) {
        loop {
            let block = self
                .block()
                .await
                .expect("the stream ended before the comment");
            for line in &block {
                if let Some(comment) = line.strip_prefix(':') {
                    self.comments.push(comment.trim().to_owned());
                }
            }
            if self.comments.iter().any(|c| c.contains(needle)) {
                return;
            }
        }
    }

    async fn next_event(&mut self) -> Option<Event> {
        loop {
            let block = self.block().await?;
            let mut event = Event {
                id: None,
                data: String::new(),
            };
            let mut has_data = false;
            for line in block {
                if let Some(comment) = line.strip_prefix(':') {
                    self.comments.push(comment.trim().to_owned());
                } else if let Some(id) = line.strip_prefix("id: ") {
                    event.id = Some(id.to_owned());
                } else if let Some(data) = line.strip_prefix("data: ") {
                    if has_data {
                        event.data.push('\n');
                    }
                    event.data.push_str(data);
                    has_data = true;
                }
            }
            if has_data {
                return Some(event);
            }
        }
    }
}

async fn metric(server: &RunningServer, prefix: &str) -> Option<f64> {
    let text = admin_get(server, "/metrics").await.body;
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_from_kcat_reach_an_sse_client_and_a_reconnect_resumes_without_gap_or_duplicate() {
    let (_dir, server) = start("serve-resume").await;
    let bootstrap = bootstrap(&server);
    let mut first = SseClient::connect(edge(&server), "/alerts", &[("x-api-key", KEY)]).await;
    let lines: Vec<String> = (0..6).map(|i| format!("ship{i}:{{\"n\":{i}}}")).collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    kcat_produce(&bootstrap, "red-alerts", &refs[..3]);
    let mut seen = Vec::new();
    let mut last_id = None;
    for _ in 0..3 {
        let event = first.next_event().await.expect("an event");
        last_id = event.id.clone();
        seen.push(event.data);
    }
    drop(first);
    // Produced while no client is connected: the reconnect must still get them, once.
    kcat_produce(&bootstrap, "red-alerts", &refs[3..]);
    let last_id = last_id.expect("events carry an id");
    let mut second = SseClient::connect(
        edge(&server),
        "/alerts",
        &[("x-api-key", KEY), ("last-event-id", &last_id)],
    )
    .await;
    for _ in 0..3 {
        seen.push(second.next_event().await.expect("an event").data);
    }
    seen.sort();
    let expected: Vec<String> = (0..6).map(|i| format!("{{\"n\":{i}}}")).collect();
    assert_eq!(seen, expected, "every record once, across the reconnect");
    // A third record batch proves the second client is not holding duplicates back.
    kcat_produce(&bootstrap, "red-alerts", &["ship9:{\"n\":9}"]);
    assert_eq!(second.next_event().await.unwrap().data, "{\"n\":9}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_group_resumes_where_its_last_request_stopped() {
    let (_dir, server) = start("serve-group").await;
    let bootstrap = bootstrap(&server);
    let poll = async |query: &str| {
        let answer = get(
            edge(&server),
            &format!("/red?{query}"),
            &[("x-api-key", KEY)],
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let batch = answer.json();
        batch["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["value"]["entry"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    // The group has no commit yet: it starts at new records, which this first poll waits for.
    let first = tokio::spawn({
        let address = edge(&server);
        async move {
            get(
                address,
                "/red?group=bridge&wait=10s&max=1",
                &[("x-api-key", KEY)],
            )
            .await
        }
    });
    eventually("the first poll is reading", async || {
        metric(&server, "kafka_serve_clients{route=\"red\"").await == Some(1.0)
    })
    .await;
    kcat_produce(
        &bootstrap,
        "captains-log",
        &[
            r#"a:{"severity":"red","entry":"one"}"#,
            r#"b:{"severity":"red","entry":"two"}"#,
            r#"c:{"severity":"red","entry":"three"}"#,
        ],
    );
    let first = first.await.unwrap().json();
    assert_eq!(first["records"][0]["value"]["entry"], "one");
    assert_eq!(poll("group=bridge&wait=5s&max=1").await, ["two"]);
    assert_eq!(poll("group=bridge&wait=5s").await, ["three"]);
    // Another group starts on its own, and the group is the consumer's: nothing is shared.
    assert_eq!(
        poll("group=other&from=earliest&wait=5s").await,
        ["one", "two", "three"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_ends_open_streams_cleanly_so_clients_reconnect_elsewhere() {
    let (_dir, server) = start("serve-drain").await;
    let mut sse = SseClient::connect(edge(&server), "/alerts", &[("x-api-key", KEY)]).await;
    let plan = server.drain_plan().without_delay();
    let report = server.drain_connections(plan, std::future::pending()).await;
    // The stream ended: no more events, and the body ended properly (not cut mid-way).
    assert_eq!(sse.next_event().await, None);
    assert!(report.is_clean(), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_client_gets_the_stream_too() {
    let (_dir, server) = start("serve-h2").await;
    let h2 = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let mut sse =
        SseClient::connect_with(&h2, edge(&server), "/alerts", &[("x-api-key", KEY)]).await;
    kcat_produce(&bootstrap(&server), "red-alerts", &["k:{\"over\":\"h2\"}"]);
    assert_eq!(sse.next_event().await.unwrap().data, "{\"over\":\"h2\"}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_frees_its_stream_at_once_not_at_the_next_write() {
    let (_dir, server) = start("serve-leave").await;
    // /red keeps the default 15 s keep-alive: nothing is written to notice the client by.
    let sse = SseClient::connect(edge(&server), "/red", &[("x-api-key", KEY)]).await;
    assert_eq!(
        metric(&server, "kafka_serve_clients{route=\"red\"").await,
        Some(1.0)
    );
    drop(sse);
    eventually("the stream of the client that left ends", async || {
        metric(&server, "kafka_serve_clients{route=\"red\"").await == Some(0.0)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_stream_gets_keep_alive_comments() {
    let (_dir, server) = start("serve-keepalive").await;
    let mut sse = SseClient::connect(edge(&server), "/alerts", &[("x-api-key", KEY)]).await;
    sse.until_comment("keep-alive").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_when_condition_drops_records_it_refuses() {
    let (_dir, server) = start("serve-when").await;
    let bootstrap = bootstrap(&server);
    let mut sse = SseClient::connect(edge(&server), "/red", &[("x-api-key", KEY)]).await;
    kcat_produce(
        &bootstrap,
        "captains-log",
        &[
            r#"a:{"severity":"green","entry":"tea"}"#,
            r#"b:{"severity":"red","entry":"borg"}"#,
            r#"c:not json at all"#,
            r#"d:{"severity":"yellow","entry":"q"}"#,
            r#"e:{"severity":"red","entry":"romulans"}"#,
        ],
    );
    let one = sse.next_event().await.unwrap();
    let two = sse.next_event().await.unwrap();
    assert_eq!(one.data, r#"{"severity":"red","entry":"borg"}"#);
    assert_eq!(two.data, r#"{"severity":"red","entry":"romulans"}"#);
    // The id is the position after the record: the skipped records are behind it too.
    assert_eq!(two.id.as_deref(), Some("0:5"));
    eventually("the three skipped records are counted", async || {
        metric(&server, "kafka_serve_filtered_records_total{route=\"red\"").await == Some(3.0)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_long_poll_form_answers_json_batches_that_chain_by_next() {
    let (_dir, server) = start("serve-poll").await;
    let bootstrap = bootstrap(&server);
    kcat_produce(
        &bootstrap,
        "captains-log",
        &[r#"a:{"severity":"red","entry":"one"}"#],
    );
    let first = get(
        edge(&server),
        "/red?from=earliest&wait=5s",
        &[("x-api-key", KEY)],
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.header("content-type"), Some("application/json"));
    let batch = first.json();
    assert_eq!(batch["topic"], "captains-log");
    assert_eq!(batch["records"][0]["value"]["entry"], "one");
    assert_eq!(batch["records"][0]["key"], "a");
    assert_eq!(batch["next"], "0:1");
    kcat_produce(
        &bootstrap,
        "captains-log",
        &[
            r#"b:{"severity":"green","entry":"skipped"}"#,
            r#"c:{"severity":"red","entry":"two"}"#,
            r#"d:{"severity":"red","entry":"three"}"#,
        ],
    );
    let mut entries = Vec::new();
    let mut next = batch["next"].as_str().unwrap().to_owned();
    while entries.len() < 2 {
        let answer = get(
            edge(&server),
            &format!("/red?from={next}&wait=5s&max=1"),
            &[("x-api-key", KEY)],
        )
        .await;
        let batch = answer.json();
        for record in batch["records"].as_array().unwrap() {
            entries.push(record["value"]["entry"].as_str().unwrap().to_owned());
        }
        next = batch["next"].as_str().unwrap().to_owned();
    }
    assert_eq!(entries, ["two", "three"]);
    let json = get(
        edge(&server),
        "/red?from=earliest&max=0",
        &[("x-api-key", KEY)],
    )
    .await;
    assert_eq!(json.status, 400, "{}", json.body);
    let bad = get(edge(&server), "/red?from=yesterday", &[("x-api-key", KEY)]).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_off_at_its_bound_and_counted() {
    let (_dir, server) = start("serve-slow").await;
    let bootstrap = bootstrap(&server);
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(edge(&server)).await.unwrap();
    stream
        .write_all(
            format!("GET /firehose HTTP/1.1\r\nhost: x\r\nx-api-key: {KEY}\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    while !String::from_utf8_lossy(&received).contains(": serving firehose") {
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(n > 0, "closed before the stream opened");
        received.extend_from_slice(&buffer[..n]);
    }
    // Stop reading; 8 MiB of records cannot all fit in the sockets' buffers, so the 4-event,
    // 64 KiB queue fills.
    tokio::task::spawn_blocking(move || {
        let value = vec![b'x'; 16 * 1024];
        let records: Vec<RawRecord<'_>> = (0..512).map(|_| (None, &value[..], &[][..])).collect();
        produce_raw(&bootstrap, "firehose", &records);
    })
    .await
    .unwrap();
    eventually("the slow client is counted", async || {
        metric(&server, "kafka_serve_slow_clients_total{route=\"firehose\"").await == Some(1.0)
    })
    .await;
    // Now read: what was already in the socket buffers arrives, then the connection ends.
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut rest))
        .await
        .expect("the connection ends once the client is cut off")
        .ok();
    let total = received.len() + rest.len();
    assert!(
        total < 8 * 1024 * 1024,
        "the client got everything: nothing was bounded ({total} bytes)"
    );
    eventually("the client's slot is freed", async || {
        metric(&server, "kafka_serve_clients{route=\"firehose\"").await == Some(0.0)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_a_key_gets_401_before_any_record() {
    let (_dir, server) = start("serve-401").await;
    let bootstrap = bootstrap(&server);
    kcat_produce(&bootstrap, "red-alerts", &["k:{\"secret\":true}"]);
    let answer = get(edge(&server), "/alerts?from=earliest", &[]).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert!(!answer.body.contains("secret"), "{}", answer.body);
    assert!(!answer.body.contains("data:"), "{}", answer.body);
    let wrong = get(
        edge(&server),
        "/alerts?from=earliest&wait=1s",
        &[("x-api-key", "nope")],
    )
    .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert!(!wrong.body.contains("secret"), "{}", wrong.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_at_its_client_limit_answers_503() {
    let (_dir, server) = start("serve-full").await;
    let _first = SseClient::connect(edge(&server), "/bridge", &[("x-api-key", KEY)]).await;
    let second = get(edge(&server), "/bridge?wait=1s", &[("x-api-key", KEY)]).await;
    assert_eq!(second.status, 503, "{}", second.body);
    assert!(second.header("retry-after").is_some());
    eventually("the refusal is counted", async || {
        metric(
            &server,
            "kafka_serve_refused_clients_total{route=\"bridge\"",
        )
        .await
            == Some(1.0)
    })
    .await;
}
