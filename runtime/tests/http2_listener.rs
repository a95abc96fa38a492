//! `--http2-max-streams`: how many streams one HTTP/2 client connection may have open at once.
//! A client that holds 150 streams on one connection (a gRPC channel with 150 subscriptions)
//! gets all of them to the upstream at once with `--http2-max-streams 200`; with the default, 100
//! are held and the rest go through as those end (SETTINGS_MAX_CONCURRENT_STREAMS).

mod scratch;
mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::{eventually, start_with, test_options, Scratch};
use tokio::sync::watch;

/// An HTTP/1.1 upstream that counts the requests it holds, answering none until `release`.
async fn holding_upstream(held: Arc<AtomicUsize>, release: watch::Receiver<bool>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (held, release) = (Arc::clone(&held), release.clone());
            let service = service_fn(move |_: Request<Incoming>| {
                let (held, mut release) = (Arc::clone(&held), release.clone());
                async move {
                    held.fetch_add(1, Ordering::SeqCst);
                    let _ = release.wait_for(|go| *go).await;
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    address
}

/// Opens `count` streams on one HTTP/2 connection to a gateway started with `max_streams` (the
/// default when `None`); waits until the upstream holds as many as that allows, returns how many
/// it holds then, and checks that every stream is answered once the upstream lets them go.
async fn streams_held_at_once(name: &str, max_streams: Option<u32>, count: usize) -> usize {
    let held = Arc::new(AtomicUsize::new(0));
    let (release, gate) = watch::channel(false);
    let upstream = holding_upstream(Arc::clone(&held), gate).await;
    let dir = Scratch::new(name);
    std::fs::write(
        dir.path("edge.mesh"),
        format!(
            "gateway edge {{\n  listen \"127.0.0.1:0\"\n  route all {{ match * prefix \"/\" public forward app }}\n}}\nservice app {{ endpoints [\"{upstream}\"] timeout 60s }}\n"
        ),
    )
    .unwrap();
    let mut options = test_options(vec![dir.path("edge.mesh")]);
    if let Some(max) = max_streams {
        options.http2_max_streams = max;
    }
    let server = start_with(options).await;
    let edge = server.listener("edge").unwrap();
    let tcp = tokio::net::TcpStream::connect(edge).await.unwrap();
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(connection);
    let calls: Vec<_> = (0..count)
        .map(|i| {
            let mut sender = sender.clone();
            tokio::spawn(async move {
                let request = Request::get(format!("http://edge/stream/{i}"))
                    .body(Empty::<Bytes>::new())
                    .unwrap();
                let response = sender.send_request(request).await.unwrap();
                assert_eq!(response.status(), 200);
                response.into_body().collect().await.unwrap().to_bytes()
            })
        })
        .collect();
    let expected = max_streams.map_or(100, |max| (max as usize).min(count));
    eventually(
        "the streams the connection allows reach the upstream",
        async || held.load(Ordering::SeqCst) >= expected,
    )
    .await;
    let at_once = held.load(Ordering::SeqCst);
    release.send(true).unwrap();
    for call in calls {
        assert_eq!(call.await.unwrap(), "ok");
    }
    assert_eq!(
        held.load(Ordering::SeqCst),
        count,
        "every stream went through"
    );
    at_once
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_holds_as_many_streams_as_http2_max_streams_allows() {
    // 150 at once: with the default this waits for ever at 100 (the client opens no more than
    // the server's SETTINGS allow), so the test fails without the option.
    assert_eq!(
        streams_held_at_once("h2-streams-200", Some(200), 150).await,
        150
    );
    // The default holds 100 at once and lets the rest through as those end.
    assert!(streams_held_at_once("h2-streams-default", None, 150).await >= 100);
}
