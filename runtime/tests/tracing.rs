//! W3C trace context through the gateway and span export over OTLP/HTTP, against a real receiver
//! process decoding the protobuf with the official opentelemetry-proto classes.

mod scratch;
mod support;
mod tracing_support;

use std::net::SocketAddr;

use meshd::trace::OtlpEndpoint;
use serde_json::Value;
use support::*;
use tracing_support::{recording_service, Receiver};

const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const CALLER_UNSAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";

fn program(sample: &str, upstream: &Upstream) -> String {
    format!(
        r#"
gateway edge {{
  listen "127.0.0.1:0"
  tracing {{ {sample} }}
  consumer picard {{ key env("TRACE_TEST_KEY") groups [captains] }}
  route officers {{
    match GET prefix "/officers"
    auth key header "x-api-key"
    allow groups [captains]
    forward crew
  }}
}}
service crew {{ endpoints ["{}"] retry 2 on [503] }}
"#,
        upstream.address
    )
}

async fn start_traced(
    dir: &Scratch,
    source: &str,
    receiver: Option<&Receiver>,
) -> meshd::RunningServer {
    std::env::set_var("TRACE_TEST_KEY", "picard-key");
    let file = dir.path("main.mesh");
    std::fs::write(&file, source).unwrap();
    let mut options = test_options(vec![file]);
    options.trace.otlp_endpoint = receiver.map(|r| OtlpEndpoint::parse(&r.endpoint()).unwrap());
    start_with(options).await
}

fn parts(traceparent: &str) -> (String, String, String) {
    let fields: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(fields.len(), 4, "{traceparent}");
    assert_eq!(fields[0], "00");
    (fields[1].into(), fields[2].into(), fields[3].into())
}

fn named<'a>(spans: &'a [Value], prefix: &str) -> &'a Value {
    spans
        .iter()
        .find(|s| s["name"].as_str().unwrap_or("").starts_with(prefix))
        .unwrap_or_else(|| panic!("no span named {prefix}…: {spans:#?}"))
}

async fn spans_of(receiver: &Receiver, trace_id: &str, count: usize) -> Vec<Value> {
    let mut found = Vec::new();
    eventually("the spans reach the receiver", async || {
        found = receiver
            .spans()
            .await
            .into_iter()
            .filter(|s| s["trace_id"] == trace_id)
            .collect();
        found.len() >= count
    })
    .await;
    found
}

async fn metric(server: &meshd::RunningServer, name: &str) -> f64 {
    let text = admin_get(server, "/metrics").await.body;
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn upstream_traceparent(echo: &Value) -> String {
    echo["headers"]["traceparent"]
        .as_str()
        .unwrap_or_else(|| panic!("the upstream got no traceparent: {echo}"))
        .to_string()
}

async fn get_officer(edge: SocketAddr, extra: &[(&str, &str)]) -> Answer {
    let mut headers = vec![("x-api-key", "picard-key")];
    headers.extend_from_slice(extra);
    get(edge, "/officers/7", &headers).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_trace_is_continued_with_route_admission_and_forward_spans_linked() {
    let receiver = Receiver::start();
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("trace-continue");
    let server = start_traced(&dir, &program("sample 0%", &upstream), Some(&receiver)).await;
    let edge = server.listener("edge").unwrap();
    let answer = get_officer(edge, &[("traceparent", CALLER), ("tracestate", "vendor=x")]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let echo = answer.json();
    let (trace_id, forwarded_span, flags) = parts(&upstream_traceparent(&echo));
    assert_eq!(trace_id, "4bf92f3577b34da6a3ce929d0e0e4736", "same trace");
    assert_ne!(forwarded_span, "00f067aa0ba902b7", "a new span id");
    assert_eq!(
        flags, "01",
        "the caller's sampled flag is respected, whatever the rate"
    );
    assert_eq!(echo["headers"]["tracestate"], "vendor=x", "tracestate kept");

    let spans = spans_of(&receiver, &trace_id, 3).await;
    let route = named(&spans, "GET officers");
    let admission = named(&spans, "admission");
    let forward = named(&spans, "forward crew");
    assert_eq!(
        route["parent_span_id"], "00f067aa0ba902b7",
        "the route's parent is the caller"
    );
    assert_eq!(route["kind"], 2, "server span");
    assert_eq!(route["service"], "meshd");
    assert_eq!(route["attributes"]["http.response.status_code"], 200);
    assert_eq!(route["attributes"]["meshwork.consumer"], "picard");
    assert_eq!(admission["parent_span_id"], route["span_id"]);
    assert_eq!(forward["parent_span_id"], route["span_id"]);
    assert_eq!(forward["kind"], 3, "client span");
    assert_eq!(
        forward["span_id"],
        forwarded_span.as_str(),
        "the upstream's parent is the forward span"
    );
    assert_eq!(forward["attributes"]["meshwork.upstream.attempts"], 1);
    assert_eq!(
        forward["attributes"]["server.address"],
        upstream.address.to_string()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_traceparent_starts_a_sampled_trace_and_a_denial_is_an_error_span() {
    let receiver = Receiver::start();
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("trace-start");
    let server = start_traced(&dir, &program("sample 100%", &upstream), Some(&receiver)).await;
    let edge = server.listener("edge").unwrap();
    let echo = get_officer(edge, &[("tracestate", "stale=1")]).await.json();
    let (trace_id, span_id, flags) = parts(&upstream_traceparent(&echo));
    assert_eq!(flags, "01");
    assert!(
        echo["headers"].get("tracestate").is_none(),
        "a new trace drops tracestate: {echo}"
    );
    let spans = spans_of(&receiver, &trace_id, 3).await;
    let route = named(&spans, "GET officers");
    assert_eq!(route["parent_span_id"], "", "a root span");
    assert_eq!(named(&spans, "forward crew")["span_id"], span_id.as_str());

    // A refused request: the admission span says which step refused it and why.
    let refused = get(
        edge,
        "/officers/7",
        &[("x-api-key", "wrong"), ("traceparent", CALLER)],
    )
    .await;
    assert_eq!(refused.status, 401);
    let spans = spans_of(&receiver, "4bf92f3577b34da6a3ce929d0e0e4736", 2).await;
    let admission = named(&spans, "admission");
    assert_eq!(admission["status_code"], 2, "error status: {admission}");
    assert_eq!(admission["attributes"]["meshwork.denied_by"], "auth");
    assert!(
        admission["attributes"]["meshwork.denial.reason"]
            .as_str()
            .unwrap()
            .len()
            > 3
    );
    assert!(spans
        .iter()
        .all(|s| !s["name"].as_str().unwrap().starts_with("forward")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampled_out_requests_export_nothing_but_forward_traceparent_with_flag_00() {
    let receiver = Receiver::start();
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("trace-unsampled");
    let server = start_traced(&dir, &program("sample 0%", &upstream), Some(&receiver)).await;
    let edge = server.listener("edge").unwrap();
    let started = get_officer(edge, &[]).await.json();
    let (_, _, flags) = parts(&upstream_traceparent(&started));
    assert_eq!(flags, "00", "sample 0%: a new trace, not recorded");
    let continued = get_officer(edge, &[("traceparent", CALLER_UNSAMPLED)])
        .await
        .json();
    let (trace_id, span_id, flags) = parts(&upstream_traceparent(&continued));
    assert_eq!(trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_ne!(span_id, "00f067aa0ba902b7");
    assert_eq!(flags, "00");
    // A sampled request afterwards is exported: once it arrives, nothing else has.
    let sampled = get_officer(
        edge,
        &[(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )],
    )
    .await;
    assert_eq!(sampled.status, 200);
    spans_of(&receiver, "0af7651916cd43dd8448eb211c80319c", 3).await;
    let all = receiver.spans().await;
    assert!(
        all.iter()
            .all(|s| s["trace_id"] == "0af7651916cd43dd8448eb211c80319c"),
        "only the sampled trace was exported: {all:#?}"
    );
    assert_eq!(
        metric(&server, "meshd_trace_spans_dropped_total").await,
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_without_tracing_passes_traceparent_untouched() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("trace-off");
    let source = program("", &upstream).replace("  tracing {  }\n", "");
    assert!(!source.contains("tracing"));
    let server = start_traced(&dir, &source, None).await;
    let edge = server.listener("edge").unwrap();
    let echo = get_officer(edge, &[("traceparent", CALLER)]).await.json();
    assert_eq!(echo["headers"]["traceparent"], CALLER);
    let echo = get_officer(edge, &[]).await.json();
    assert!(echo["headers"].get("traceparent").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_or_failing_collector_costs_no_request_and_drops_are_counted() {
    let receiver = Receiver::start();
    receiver.set_mode("hang").await;
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("trace-outage");
    let server = start_traced(&dir, &program("sample 100%", &upstream), Some(&receiver)).await;
    let edge = server.listener("edge").unwrap();
    let client = client();
    // 3 spans a request; the queue holds 4096: 2000 requests overflow it while the collector hangs.
    for _ in 0..2000 {
        let request = http::Request::get(format!("http://{edge}/officers/7"))
            .header("x-api-key", "picard-key")
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        assert_eq!(send(&client, request).await.status, 200);
    }
    eventually("spans are dropped while the collector hangs", async || {
        metric(&server, "meshd_trace_spans_dropped_total").await > 0.0
    })
    .await;
    // A collector that refuses: the batches are counted as failed, requests still pass.
    receiver.set_mode("fail").await;
    eventually("the held batch fails", async || {
        metric(&server, "meshd_trace_spans_failed_total").await > 0.0
    })
    .await;
    assert_eq!(get_officer(edge, &[]).await.status, 200);
    drop(receiver);
    assert_eq!(
        get_officer(edge, &[]).await.status,
        200,
        "collector gone: still served"
    );
}

/// The meshd binary with its stdout (the access log) piped; its gateway address from its log.
struct MeshdWithLog {
    child: std::process::Child,
    gateway: SocketAddr,
    access_log: std::sync::mpsc::Receiver<String>,
}

impl MeshdWithLog {
    fn start(args: &[&str]) -> MeshdWithLog {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_meshd"))
            .args(args)
            .env("MESHD_LOG", "info")
            .env("TRACE_TEST_KEY", "picard-key")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("meshd starts");
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if line.contains("listening (http)") {
                    let address = line
                        .split("address=")
                        .nth(1)
                        .and_then(|rest| rest.split_whitespace().next())
                        .and_then(|text| text.parse::<SocketAddr>().ok());
                    if let Some(address) = address {
                        let _ = address_tx.send(address);
                    }
                }
            }
        });
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let (log_tx, access_log) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let _ = log_tx.send(line);
            }
        });
        let gateway = address_rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("meshd logs its gateway address");
        MeshdWithLog {
            child,
            gateway,
            access_log,
        }
    }
}

impl Drop for MeshdWithLog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_names_the_trace_and_the_requests_span() {
    let receiver = Receiver::start();
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("trace-access-log");
    let file = dir.path("main.mesh");
    std::fs::write(&file, program("sample 100%", &upstream)).unwrap();
    let endpoint = receiver.endpoint();
    let meshd = MeshdWithLog::start(&[
        "run",
        file.to_str().unwrap(),
        "--admin",
        "127.0.0.1:0",
        "--workers",
        "1",
        "--otlp-endpoint",
        &endpoint,
    ]);
    let answer = get_officer(meshd.gateway, &[("traceparent", CALLER)]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let spans = spans_of(&receiver, "4bf92f3577b34da6a3ce929d0e0e4736", 3).await;
    let route = named(&spans, "GET officers");
    let line = tokio::task::spawn_blocking(move || {
        meshd
            .access_log
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("an access log line (flushed periodically)")
    })
    .await
    .unwrap();
    let record: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        record["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736",
        "{line}"
    );
    assert_eq!(record["span_id"], route["span_id"], "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_one_forward_span_with_the_attempt_count_and_the_mirror_stays_in_the_trace() {
    let receiver = Receiver::start();
    let failing = Upstream::start("crew", Behaviour::Status(503)).await;
    let (shadow, mirrored) = recording_service().await;
    let dir = Scratch::new("trace-retry-mirror");
    let source = format!(
        r#"
gateway edge {{
  listen "127.0.0.1:0"
  tracing {{ sample 100% }}
  route officers {{ match GET prefix "/officers"  public  mirror shadow  forward crew }}
}}
service crew {{ endpoints ["{}"] retry 2 on [503] backoff 1ms..2ms }}
service shadow {{ endpoints ["{}"] }}
"#,
        failing.address, shadow
    );
    let server = start_traced(&dir, &source, Some(&receiver)).await;
    let edge = server.listener("edge").unwrap();
    let answer = get(edge, "/officers/7", &[("traceparent", CALLER)]).await;
    assert_eq!(answer.status, 503);
    assert_eq!(failing.requests(), 3, "two retries");
    let spans = spans_of(&receiver, "4bf92f3577b34da6a3ce929d0e0e4736", 2).await;
    let route = named(&spans, "GET officers");
    let forward = named(&spans, "forward crew");
    assert_eq!(forward["attributes"]["meshwork.upstream.attempts"], 3);
    assert_eq!(
        forward["status_code"], 2,
        "the upstream's 503 fails the call: {forward}"
    );
    assert_eq!(route["status_code"], 2, "a 5xx fails the server span");
    eventually("the mirror gets its copy", async || {
        !mirrored.lock().unwrap().is_empty()
    })
    .await;
    let copy = mirrored.lock().unwrap()[0].clone();
    let (trace_id, parent, _) = parts(&copy["traceparent"]);
    assert_eq!(trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(
        parent,
        route["span_id"].as_str().unwrap(),
        "the copy's parent is the route span"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_an_https_collector_whose_certificate_chains_to_the_otlp_ca() {
    let dir = Scratch::new("trace-https");
    let issued = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (dir.path("collector.pem"), dir.path("collector.key"));
    std::fs::write(&cert, issued.cert.pem()).unwrap();
    std::fs::write(&key, issued.signing_key.serialize_pem()).unwrap();
    let receiver = Receiver::start_tls(&cert, &key);
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let source = program("sample 100%", &upstream);
    let file = dir.path("main.mesh");
    std::fs::write(&file, &source).unwrap();
    std::env::set_var("TRACE_TEST_KEY", "picard-key");

    // Trusted through --otlp-ca: the spans arrive over TLS.
    let mut options = test_options(vec![file.clone()]);
    options.trace.otlp_endpoint = Some(OtlpEndpoint::parse(&receiver.tls_endpoint()).unwrap());
    options.trace.otlp_ca = Some(cert.clone());
    let trusted = start_with(options).await;
    let echo = get_officer(trusted.listener("edge").unwrap(), &[])
        .await
        .json();
    let (trace_id, _, _) = parts(&upstream_traceparent(&echo));
    let spans = spans_of(&receiver, &trace_id, 3).await;
    named(&spans, "forward crew");

    // Another CA does not vouch for the collector's certificate: the batch fails and is
    // counted, the request is served all the same.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let other_ca = dir.path("other.pem");
    std::fs::write(&other_ca, other.cert.pem()).unwrap();
    let mut options = test_options(vec![file]);
    options.trace.otlp_endpoint = Some(OtlpEndpoint::parse(&receiver.tls_endpoint()).unwrap());
    options.trace.otlp_ca = Some(other_ca);
    let untrusted = start_with(options).await;
    assert_eq!(
        get_officer(untrusted.listener("edge").unwrap(), &[])
            .await
            .status,
        200
    );
    eventually("the untrusted collector's batch fails", async || {
        metric(&untrusted, "meshd_trace_spans_failed_total").await > 0.0
    })
    .await;
}
