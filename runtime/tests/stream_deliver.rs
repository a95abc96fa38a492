//! Kafka → HTTP (`deliver`) against the embedded broker and real hyper upstreams on loopback:
//! retries until a flaky service answers, the dead letter when every attempt fails, and no retry
//! for a final client error.

mod stream_harness;

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use meshd::stream::rules::dead_letter::{REASON_HEADER, SOURCE_TOPIC_HEADER};
use meshd::stream::{BrokerProgram, KafkaCluster, KafkaMetrics, StreamOptions, StreamSupervisor};
use stream_harness::bundles::{deliver_stream, empty, service, topic};
use stream_harness::{produce_raw, read_topic, record_count, wait_until, RawRecord};

/// What the upstream saw of one request it accepted.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A hyper upstream that answers `failure` to its first `failures` requests, then 200.
struct FlakyUpstream {
    address: SocketAddr,
    attempts: Arc<AtomicUsize>,
    accepted: Arc<Mutex<Vec<Received>>>,
}

async fn start_upstream(failures: usize, failure: StatusCode) -> FlakyUpstream {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let attempts = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let (count, store) = (Arc::clone(&attempts), Arc::clone(&accepted));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (count, store) = (Arc::clone(&count), Arc::clone(&store));
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let (count, store) = (Arc::clone(&count), Arc::clone(&store));
                    async move {
                        let path = request.uri().path().to_owned();
                        let headers = request
                            .headers()
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                            .collect();
                        let body = request.into_body().collect().await.unwrap().to_bytes();
                        let status = if count.fetch_add(1, Ordering::SeqCst) < failures {
                            failure
                        } else {
                            store.lock().unwrap().push(Received {
                                path,
                                headers,
                                body: body.to_vec(),
                            });
                            StatusCode::OK
                        };
                        let mut response = Response::new(Full::new(Bytes::from_static(b"{}")));
                        *response.status_mut() = status;
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    FlakyUpstream {
        address,
        attempts,
        accepted,
    }
}

fn feed(bootstrap: &str, topic: &str, count: usize) {
    let keys: Vec<String> = (0..count).map(|i| format!("order-{i}")).collect();
    let values: Vec<String> = (0..count).map(|i| format!(r#"{{"order":{i}}}"#)).collect();
    let seqs: Vec<String> = (0..count).map(|i| i.to_string()).collect();
    let headers: Vec<[(&str, &[u8]); 1]> = seqs.iter().map(|s| [("x-seq", s.as_bytes())]).collect();
    let records: Vec<RawRecord<'_>> = (0..count)
        .map(|i| {
            (
                Some(keys[i].as_bytes()),
                values[i].as_bytes(),
                &headers[i][..],
            )
        })
        .collect();
    produce_raw(bootstrap, topic, &records);
}

struct Setup {
    cluster: Arc<KafkaCluster>,
    supervisor: StreamSupervisor,
}

fn start_stream(runtime: &tokio::runtime::Runtime, endpoint: SocketAddr, retry: u64) -> Setup {
    let cluster =
        Arc::new(KafkaCluster::embedded(&BrokerProgram::at(env!("CARGO_BIN_EXE_meshd"))).unwrap());
    let mut bundle = empty();
    bundle.topics = vec![topic("orders", 2), topic("orders-dlq", 1)];
    bundle.services = vec![service("fulfilment", &[endpoint.to_string()])];
    bundle.streams = vec![deliver_stream(
        "ship_orders",
        "orders",
        "fulfilment",
        retry,
        "orders-dlq",
    )];
    cluster.declare_topics(&bundle.topics).unwrap();
    feed(cluster.bootstrap_servers(), "orders", RECORDS);
    let mut supervisor = StreamSupervisor::new(
        Arc::clone(&cluster),
        KafkaMetrics::default(),
        StreamOptions::default(),
        runtime.handle().clone(),
    );
    supervisor.apply(&bundle).unwrap();
    Setup {
        cluster,
        supervisor,
    }
}

const RECORDS: usize = 20;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn deliver_retries_until_a_flaky_service_answers() {
    let runtime = runtime();
    let upstream = runtime.block_on(start_upstream(5, StatusCode::SERVICE_UNAVAILABLE));
    let mut setup = start_stream(&runtime, upstream.address, 6);
    let delivered = wait_until(Duration::from_secs(30), || {
        upstream.accepted.lock().unwrap().len() >= RECORDS
    });
    setup.supervisor.shutdown();
    assert!(delivered, "not every record was delivered");

    let accepted = upstream.accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), RECORDS, "a record was delivered twice");
    assert_eq!(upstream.attempts.load(Ordering::SeqCst), RECORDS + 5);
    let mut seen = BTreeSet::new();
    for request in &accepted {
        let seq: usize = request
            .header("x-kafka-header-x-seq")
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(request.path, "/events");
        assert_eq!(
            request.header("x-kafka-key"),
            Some(format!("order-{seq}").as_str())
        );
        assert_eq!(request.header("x-kafka-topic"), Some("orders"));
        assert!(request.header("x-kafka-partition").is_some());
        assert!(request.header("x-kafka-offset").is_some());
        assert_eq!(request.body, format!(r#"{{"order":{seq}}}"#).into_bytes());
        seen.insert(seq);
    }
    assert_eq!(seen, (0..RECORDS).collect());
    assert_eq!(
        record_count(setup.cluster.bootstrap_servers(), "orders-dlq", 1),
        0
    );
}

#[test]
fn records_go_to_the_dead_letter_when_every_attempt_fails() {
    let runtime = runtime();
    let upstream = runtime.block_on(start_upstream(usize::MAX, StatusCode::BAD_GATEWAY));
    let mut setup = start_stream(&runtime, upstream.address, 2);
    let bootstrap = setup.cluster.bootstrap_servers().to_owned();
    let dead = read_topic(
        &bootstrap,
        "orders-dlq",
        1,
        RECORDS,
        Duration::from_secs(30),
    );
    setup.supervisor.shutdown();
    assert_eq!(dead.len(), RECORDS);
    assert_eq!(
        upstream.attempts.load(Ordering::SeqCst),
        RECORDS * 3,
        "1 try + 2 retries each"
    );
    for record in &dead {
        assert_eq!(record.header(REASON_HEADER), Some("deliver_failed"));
        assert_eq!(record.header(SOURCE_TOPIC_HEADER), Some("orders"));
        let seq: usize = record.header("x-seq").unwrap().parse().unwrap();
        assert_eq!(
            record.key.as_deref(),
            Some(format!("order-{seq}").as_bytes())
        );
        assert_eq!(record.value, format!(r#"{{"order":{seq}}}"#).into_bytes());
    }
}

#[test]
fn a_client_error_is_final_and_dead_lettered_without_retry() {
    let runtime = runtime();
    let upstream = runtime.block_on(start_upstream(usize::MAX, StatusCode::UNPROCESSABLE_ENTITY));
    let mut setup = start_stream(&runtime, upstream.address, 5);
    let bootstrap = setup.cluster.bootstrap_servers().to_owned();
    let dead = read_topic(
        &bootstrap,
        "orders-dlq",
        1,
        RECORDS,
        Duration::from_secs(30),
    );
    setup.supervisor.shutdown();
    assert_eq!(dead.len(), RECORDS);
    assert_eq!(upstream.attempts.load(Ordering::SeqCst), RECORDS);
    assert!(dead
        .iter()
        .all(|record| record.header(REASON_HEADER) == Some("deliver_rejected")));
}
