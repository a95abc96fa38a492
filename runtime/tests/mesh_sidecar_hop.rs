//! The hop between sidecars for an HTTP/1.1 service: by default its calls are streams of one
//! multiplexed HTTP/2 connection inside the mutual TLS (as Linkerd does), and the called sidecar
//! speaks HTTP/1.1 to its app; `between_sidecars http1` keeps them HTTP/1.1, one connection per
//! call in flight (Istio's default). Separate `meshd sidecar` processes; riker's app is an
//! HTTP/1.1 server that holds its requests until the test lets them go, so the calls are surely
//! in flight together when riker's sidecar's open connections are counted.

mod mesh_identity_support;
#[allow(dead_code)]
mod mesh_sidecar_support;
#[allow(dead_code)]
#[path = "fleet_support/meshd_process.rs"]
mod meshd_process;
mod scratch;
mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use mesh_sidecar_support::{metric, Mesh, MESH_PERMISSIVE};
use support::{client, eventually, post_upload, send, upstream_answering_unread};
use tokio::sync::watch;

/// riker's app: HTTP/1.1 only; echoes each request's body, once `release` says so. `held`
/// counts the requests it has in hand; `versions` records the version each came in.
struct HoldingApp {
    address: SocketAddr,
    held: Arc<AtomicUsize>,
    versions: Arc<Mutex<Vec<Version>>>,
    release: watch::Sender<bool>,
}

async fn holding_app() -> HoldingApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let held = Arc::new(AtomicUsize::new(0));
    let versions = Arc::new(Mutex::new(Vec::new()));
    let (release, released) = watch::channel(false);
    let (counter, seen) = (Arc::clone(&held), Arc::clone(&versions));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (held, seen, released) =
                (Arc::clone(&counter), Arc::clone(&seen), released.clone());
            let service = service_fn(move |request: Request<Incoming>| {
                let (held, seen, mut released) =
                    (Arc::clone(&held), Arc::clone(&seen), released.clone());
                async move {
                    seen.lock().unwrap().push(request.version());
                    held.fetch_add(1, Ordering::SeqCst);
                    let body = request.into_body().collect().await.unwrap().to_bytes();
                    let _ = released.wait_for(|go| *go).await;
                    Ok::<_, Infallible>(Response::new(Full::new(body)))
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    HoldingApp {
        address,
        held,
        versions,
        release,
    }
}

/// Sends `calls` GETs at once from picard's app to riker (each on a connection of its own to
/// picard's sidecar); once riker's app holds them all, returns riker's sidecar's open inbound
/// connections, then lets them go and checks every answer.
async fn inbound_connections_for(name: &str, program: &str, calls: usize) -> f64 {
    let app = holding_app().await;
    let mesh = Mesh::start_with_apps(name, program, &[], &[("riker", app.address)]).await;
    let outbound = mesh.sidecar("picard").outbound;
    let mut answers = Vec::new();
    for n in 0..calls {
        answers.push(tokio::spawn(async move {
            let request = Request::get(format!("http://{outbound}/reports/{n}"))
                .header("host", "riker")
                .body(Full::new(Bytes::from(format!("call {n}"))))
                .unwrap();
            // A client of its own: its own connection to picard's sidecar.
            send(&client(), request).await
        }));
    }
    eventually("riker's app holds every call", async || {
        app.held.load(Ordering::SeqCst) == calls
    })
    .await;
    let riker = &mesh.sidecar("riker").process;
    let open = metric(riker, "meshd_connections_open{side=\"inbound\"}");
    app.release.send(true).unwrap();
    for (n, answer) in answers.into_iter().enumerate() {
        let answer = answer.await.unwrap();
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body, format!("call {n}"));
    }
    // riker's sidecar speaks HTTP/1.1 to its app whatever the hop.
    assert!(app
        .versions
        .lock()
        .unwrap()
        .iter()
        .all(|v| *v == Version::HTTP_11));

    // A large body each way, cut into chunks by the client, arrives whole.
    let large: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let request = Request::post(format!("http://{outbound}/upload"))
        .header("host", "riker")
        .body(Full::new(Bytes::from(large.clone())))
        .unwrap();
    let response = client().request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let echoed = response.into_body().collect().await.unwrap().to_bytes();
    assert!(
        echoed[..] == large[..],
        "the body came back changed ({} bytes)",
        echoed.len()
    );
    open
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_to_an_http1_service_share_one_http2_connection_between_sidecars() {
    let open = inbound_connections_for("hop-h2", MESH_PERMISSIVE, 8).await;
    assert_eq!(open, 1.0, "8 calls in flight on {open} connections");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn between_sidecars_http1_keeps_a_connection_per_call_in_flight() {
    let program = MESH_PERMISSIVE.replace(
        "mtls permissive",
        "mtls permissive\n  between_sidecars http1",
    );
    let open = inbound_connections_for("hop-http1", &program, 8).await;
    assert_eq!(open, 8.0, "8 calls in flight on {open} connections");
}

/// A 32 MiB upload from picard's app to riker, whose app refuses it at once and stops reading:
/// each sidecar watches for the answer while it writes, so the 413 comes back through both.
async fn refused_upload_through(name: &str, program: &str) -> String {
    let app = upstream_answering_unread(
        b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 9\r\n\r\ntoo large",
    )
    .await;
    let mesh = Mesh::start_with_apps(name, program, &[], &[("riker", app)]).await;
    let outbound = mesh.sidecar("picard").outbound;
    tokio::task::spawn_blocking(move || {
        post_upload(outbound, "riker", 32 << 20, 32 << 20, "too large")
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_refuses_an_upload_early_is_heard_over_either_hop() {
    let answer = refused_upload_through("refused-h2", MESH_PERMISSIVE).await;
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "over HTTP/2: {answer:?}"
    );
    assert!(answer.ends_with("too large"), "over HTTP/2: {answer:?}");
    let program = MESH_PERMISSIVE.replace(
        "mtls permissive",
        "mtls permissive\n  between_sidecars http1",
    );
    let answer = refused_upload_through("refused-http1", &program).await;
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "over HTTP/1.1: {answer:?}"
    );
    assert!(answer.ends_with("too large"), "over HTTP/1.1: {answer:?}");
}
