//! HTTP/2 to upstreams over real sockets: trailers pass both ways (a request's trailers reach
//! the upstream, the response's reach the client), a request body streams to the upstream as it
//! comes, an HTTP/1.1 client can call an `h2c` service, clients that stop reading hold back
//! only their own streams, never the others sharing meshd's connection to the upstream, and
//! long-lived streams that fill a connection send the next request on another, and a connection
//! whose peer fell silent is found by its pings and replaced (towards an upstream) or closed with
//! its streams (from a client).

mod scratch;
mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::{eventually, eventually_within, start_mesh, Scratch};

/// A body of fixed frames: data pieces, then trailers.
struct Frames {
    data: Vec<Bytes>,
    trailers: Option<HeaderMap>,
}

impl Body for Frames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if !this.data.is_empty() {
            return Poll::Ready(Some(Ok(Frame::data(this.data.remove(0)))));
        }
        Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }
}

fn trailers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    map
}

/// An h2c-only upstream: answers the request's body back, with trailers naming what it saw (the
/// request's `x-checksum` trailer and the protocol it was spoken to in).
async fn h2c_upstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = service_fn(|request: Request<Incoming>| async move {
                let version = format!("{:?}", request.version());
                let collected = request.into_body().collect().await.unwrap();
                let seen = collected
                    .trailers()
                    .and_then(|t| t.get("x-checksum"))
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_else(|| "none".to_string());
                let body = Frames {
                    data: vec![collected.to_bytes()],
                    trailers: Some(trailers(&[
                        ("x-request-trailer", &seen),
                        ("x-upstream-version", &version),
                    ])),
                };
                Ok::<_, Infallible>(Response::new(body))
            });
            tokio::spawn(
                http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    address
}

async fn gateway(dir: &Scratch, upstream: SocketAddr) -> (meshd::run::RunningServer, SocketAddr) {
    let source = format!(
        "gateway edge {{\n  listen \"127.0.0.1:0\"\n  route all {{ match * prefix \"/\" public forward h2app }}\n}}\nservice h2app {{ endpoints [\"{upstream}\"] protocol h2c }}\n"
    );
    let server = start_mesh(dir, &source).await;
    let address = server.listeners[0].address;
    (server, address)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trailers_pass_both_ways_between_an_http2_client_and_an_h2c_upstream() {
    let dir = Scratch::new("h2-trailers");
    let upstream = h2c_upstream().await;
    let (_server, address) = gateway(&dir, upstream).await;
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(connection);
    let body = Frames {
        data: vec![Bytes::from_static(b"first "), Bytes::from_static(b"second")],
        trailers: Some(trailers(&[("x-checksum", "c0ffee")])),
    };
    let request = Request::post(format!("http://{address}/upload"))
        .body(body)
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let collected = response.into_body().collect().await.unwrap();
    let answer_trailers = collected
        .trailers()
        .cloned()
        .expect("the upstream's trailers arrive");
    assert_eq!(collected.to_bytes(), "first second");
    assert_eq!(answer_trailers["x-request-trailer"], "c0ffee");
    assert_eq!(answer_trailers["x-upstream-version"], "HTTP/2.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http1_client_reaches_an_h2c_service() {
    let dir = Scratch::new("h2-from-http1");
    let upstream = h2c_upstream().await;
    let (_server, address) = gateway(&dir, upstream).await;
    let client = support::client();
    let request = Request::post(format!("http://{address}/upload"))
        .body(Full::new(Bytes::from_static(b"over http/1.1")))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "over http/1.1");
}

/// An endless body of 16 KiB pieces, counting what was taken from it: hyper's HTTP/2 server takes
/// a piece only when the stream's flow-control window has room, so the count is what the reader
/// (meshd) let through, plus one piece and the send buffer.
struct Flood {
    pulled: Arc<AtomicU64>,
}

impl Body for Flood {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        const PIECE: Bytes = Bytes::from_static(&[b'x'; 16 * 1024]);
        self.pulled.fetch_add(PIECE.len() as u64, Ordering::SeqCst);
        Poll::Ready(Some(Ok(Frame::data(PIECE))))
    }
}

/// An h2c upstream: `/flood` answers an endless body; `/sink` never reads its request's body nor
/// answers; `/echo` answers the length of the body it read; everything else a short body. Its own
/// connection window is the largest, as meshd's is, so that only meshd's windows are under test.
async fn flooding_upstream(pulled: Arc<AtomicU64>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let pulled = Arc::clone(&pulled);
            let service = service_fn(move |request: Request<Incoming>| {
                let pulled = Arc::clone(&pulled);
                async move {
                    let body = match request.uri().path() {
                        "/flood" => Flood { pulled }.boxed(),
                        "/sink" => {
                            let _unread = request;
                            std::future::pending::<()>().await;
                            unreachable!()
                        }
                        "/echo" => {
                            let read = request.into_body().collect().await;
                            let length = read.map_or(0, |body| body.to_bytes().len());
                            Full::new(Bytes::from(length.to_string())).boxed()
                        }
                        _ => Full::new(Bytes::from_static(b"still answering")).boxed(),
                    };
                    Ok::<_, Infallible>(Response::new(body))
                }
            });
            tokio::spawn(
                http2::Builder::new(TokioExecutor::new())
                    .initial_connection_window_size((1 << 31) - 1)
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    address
}

type AnyBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// A request body hyper's HTTP/2 client can send.
trait ClientBody:
    Body<Data: Send, Error: Into<Box<dyn std::error::Error + Send + Sync>>> + Send + Unpin + 'static
{
}

impl<B> ClientBody for B where
    B: Body<Data: Send, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
        + Unpin
        + 'static
{
}

/// An HTTP/2 client connection of its own to `address`.
async fn h2_client<B: ClientBody>(address: SocketAddr) -> SendRequest<B> {
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(connection);
    sender
}

/// A GET of `path` on `address`, without a body.
fn get(address: SocketAddr, path: &str) -> Request<Full<Bytes>> {
    Request::get(format!("http://{address}{path}"))
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// Sends `request` on `sender` and reads the answer's body whole.
async fn body_of<B: ClientBody>(sender: &mut SendRequest<B>, request: Request<B>) -> Bytes {
    let response = sender.send_request(request).await.unwrap();
    response.into_body().collect().await.unwrap().to_bytes()
}

/// [`body_of`] within 10 s; `waited` says what it means when the answer does not come.
async fn answered_within_10s<B: ClientBody>(
    sender: &mut SendRequest<B>,
    request: Request<B>,
    waited: &str,
) -> Bytes {
    tokio::time::timeout(Duration::from_secs(10), body_of(sender, request))
        .await
        .expect(waited)
}

/// Waits until `counter` grew and then stopped growing (two readings 20 ms apart agree); its
/// value then.
async fn settled(what: &str, counter: &AtomicU64) -> u64 {
    let mut last = u64::MAX;
    eventually(what, async || {
        let now = counter.load(Ordering::SeqCst);
        let settled = now == last && now > 0;
        last = now;
        settled
    })
    .await;
    counter.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_stop_reading_hold_back_their_own_streams_not_the_shared_upstream_connection()
{
    let dir = Scratch::new("h2-stalled-readers");
    let pulled = Arc::new(AtomicU64::new(0));
    let upstream = flooding_upstream(Arc::clone(&pulled)).await;
    let (_server, address) = gateway(&dir, upstream).await;
    // Eight clients, each on its own connection, start an endless download and read none of it.
    // meshd carries all eight streams on its one connection to the upstream.
    let mut stalled = Vec::new();
    for _ in 0..8 {
        let mut sender = h2_client::<Full<Bytes>>(address).await;
        let response = sender.send_request(get(address, "/flood")).await.unwrap();
        assert_eq!(response.status(), 200);
        stalled.push((sender, response));
    }
    // Back-pressure reaches the upstream: what it could send stops growing, each stream held to
    // its flow-control windows (the clients', meshd's own, the upstream's send buffer).
    let held = settled("the upstream to be held back", &pulled).await;
    eprintln!("the upstream sent {held} bytes into eight stalled streams");
    // Each stream filled at least meshd's window towards the upstream: more than the old
    // connection window held for all of them together.
    assert!(
        held > 8 * 1024 * 1024,
        "the streams never filled: {held} bytes"
    );
    // Per stream: the client's window (hyper's 2 MiB), meshd's send buffer towards it, meshd's
    // window towards the upstream (1 MiB) and the upstream's send buffer: under 4 MiB.
    assert!(
        held < 8 * 4 * 1024 * 1024,
        "meshd let {held} bytes through for eight readers that read nothing"
    );
    // Another client on the same service is answered in full: the stalled streams hold their own
    // windows, not the upstream connection's.
    let mut sender = h2_client::<Full<Bytes>>(address).await;
    let answered = answered_within_10s(
        &mut sender,
        get(address, "/small"),
        "a request to the same upstream waited behind streams whose readers stalled",
    )
    .await;
    assert_eq!(answered, "still answering");
    // And the stalled readers still get their bytes once they read.
    let (_sender, response) = stalled.pop().unwrap();
    let mut body = response.into_body();
    let mut read = 0;
    while read < 4 * 1024 * 1024 {
        let frame = body.frame().await.expect("the flood goes on").unwrap();
        read += frame.data_ref().map_or(0, |d| d.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upload_holds_back_its_own_stream_not_the_clients_connection() {
    let dir = Scratch::new("h2-stalled-uploads");
    let upstream = flooding_upstream(Arc::new(AtomicU64::new(0))).await;
    let (_server, address) = gateway(&dir, upstream).await;
    let mut sender = h2_client::<AnyBody>(address).await;
    // Four endless uploads on one client connection, to an upstream that reads none of them.
    let sent = Arc::new(AtomicU64::new(0));
    let mut stalled = Vec::new();
    for _ in 0..4 {
        let body = Flood {
            pulled: Arc::clone(&sent),
        };
        let request = Request::post(format!("http://{address}/sink"))
            .body(body.boxed())
            .unwrap();
        stalled.push(tokio::spawn(sender.send_request(request)));
    }
    let held = settled("the uploads to be held back", &sent).await;
    eprintln!("the client sent {held} bytes into four stalled uploads");
    // Each upload filled at least meshd's window for it: more than the old connection window.
    assert!(
        held > 4 * 256 * 1024,
        "the uploads never filled: {held} bytes"
    );
    // Per upload: meshd's listener window (256 KiB), its send buffer towards the upstream and the
    // upstream's window (1 MiB): under 2 MiB.
    assert!(
        held < 4 * 2 * 1024 * 1024,
        "meshd took {held} bytes of uploads its upstream read none of"
    );
    // Another upload on the same connection goes through whole: the stalled streams hold their
    // own windows, not the connection's.
    let request = Request::post(format!("http://{address}/echo"))
        .body(Full::new(Bytes::from(vec![b'y'; 512 * 1024])).boxed())
        .unwrap();
    let answered = answered_within_10s(
        &mut sender,
        request,
        "an upload waited behind uploads stalled on the same connection",
    )
    .await;
    assert_eq!(answered, "524288");
    for upload in stalled {
        upload.abort();
    }
}

/// A body that never ends nor sends anything: a long-lived stream (a subscription). Counts
/// itself in `ended` when it is dropped (its stream was reset or closed).
struct Endless {
    ended: Arc<AtomicU64>,
}

impl Drop for Endless {
    fn drop(&mut self) {
        self.ended.fetch_add(1, Ordering::SeqCst);
    }
}

impl Body for Endless {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Pending
    }
}

/// An h2c upstream allowing a number of streams per connection: `/hold` answers a body that
/// never ends, anything else a short one.
struct HoldingUpstream {
    address: SocketAddr,
    /// Connections accepted.
    accepted: Arc<AtomicU64>,
    /// `/hold` streams that ended.
    ended: Arc<AtomicU64>,
}

impl HoldingUpstream {
    async fn start(max_streams: u32) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicU64::new(0));
        let ended = Arc::new(AtomicU64::new(0));
        let (count, ends) = (Arc::clone(&accepted), Arc::clone(&ended));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let ends = Arc::clone(&ends);
                let service = service_fn(move |request: Request<Incoming>| {
                    let ended = Arc::clone(&ends);
                    async move {
                        let body = if request.uri().path() == "/hold" {
                            Endless { ended }.boxed()
                        } else {
                            Full::new(Bytes::from_static(b"still answering")).boxed()
                        };
                        Ok::<_, Infallible>(Response::new(body))
                    }
                });
                tokio::spawn(
                    http2::Builder::new(TokioExecutor::new())
                        .max_concurrent_streams(max_streams)
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        HoldingUpstream {
            address,
            accepted,
            ended,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_lived_streams_that_fill_a_connection_send_the_next_request_on_another() {
    let dir = Scratch::new("h2-full-connection");
    // 100 streams per connection: the least RFC 9113 advises a server to allow.
    let upstream = HoldingUpstream::start(100).await;
    let accepted = upstream.accepted;
    let (_server, address) = gateway(&dir, upstream.address).await;
    let mut first = h2_client::<Full<Bytes>>(address).await;
    assert_eq!(
        body_of(&mut first, get(address, "/small")).await,
        "still answering"
    );
    // 100 long-lived streams, from four client connections (meshd's listeners allow 100 each).
    let mut held = Vec::new();
    for _ in 0..4 {
        let sender = h2_client::<Full<Bytes>>(address).await;
        for _ in 0..25 {
            let mut sender = sender.clone();
            let request = get(address, "/hold");
            held.push(tokio::spawn(
                async move { sender.send_request(request).await },
            ));
        }
    }
    let mut responses = Vec::new();
    for call in held {
        let response = call.await.unwrap().unwrap();
        assert_eq!(response.status(), 200);
        responses.push(response);
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "one connection carried the first 100"
    );
    // The 101st does not wait for one of them to end: meshd opens another connection.
    let mut sender = h2_client::<Full<Bytes>>(address).await;
    let answered = answered_within_10s(
        &mut sender,
        get(address, "/small"),
        "the request waited for a stream on the full connection",
    )
    .await;
    assert_eq!(answered, "still answering");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    // As the long-lived streams end, the first connection takes requests again.
    drop(responses);
    let mut sender = h2_client::<Full<Bytes>>(address).await;
    for _ in 0..3 {
        assert_eq!(
            body_of(&mut sender, get(address, "/small")).await,
            "still answering"
        );
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "no third connection");
}

/// A TCP relay to `upstream` that can go silent: after [`SilentRelay::silence`], the connections
/// it carries take bytes in and pass nothing on, and close never, as when a NAT or a firewall
/// forgets a flow or the peer's host loses power. Connections accepted later relay as before.
struct SilentRelay {
    address: SocketAddr,
    /// Connections numbered below this are silent.
    silent_below: Arc<AtomicU64>,
    accepted: Arc<AtomicU64>,
}

impl SilentRelay {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let silent_below = Arc::new(AtomicU64::new(0));
        let accepted = Arc::new(AtomicU64::new(0));
        let (silent, count) = (Arc::clone(&silent_below), Arc::clone(&accepted));
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let number = count.fetch_add(1, Ordering::SeqCst);
                let server = tokio::net::TcpStream::connect(upstream).await.unwrap();
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                for (from, to) in [(client_read, server_write), (server_read, client_write)] {
                    tokio::spawn(relay_until_silent(from, to, number, Arc::clone(&silent)));
                }
            }
        });
        SilentRelay {
            address,
            silent_below,
            accepted,
        }
    }

    /// Every connection open now goes silent.
    fn silence(&self) {
        let open = self.accepted.load(Ordering::SeqCst);
        self.silent_below.store(open, Ordering::SeqCst);
    }
}

async fn relay_until_silent(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    number: u64,
    silent_below: Arc<AtomicU64>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = from.read(&mut buffer).await;
        if number < silent_below.load(Ordering::SeqCst) {
            // Swallow everything from now on, holding both sockets open.
            let _held = to;
            while from.read(&mut buffer).await.is_ok_and(|n| n > 0) {}
            return std::future::pending().await;
        }
        match read {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if to.write_all(&buffer[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_whose_upstream_fell_silent_is_found_by_its_pings_and_replaced() {
    let dir = Scratch::new("h2-silent-upstream");
    let upstream = HoldingUpstream::start(100).await;
    let relay = SilentRelay::start(upstream.address).await;
    // The service's timeout bounds each try: a request into the silent connection fails in 1 s.
    let source = format!(
        "gateway edge {{\n  listen \"127.0.0.1:0\"\n  route all {{ match * prefix \"/\" public forward h2app }}\n}}\nservice h2app {{ endpoints [\"{}\"] protocol h2c timeout 1s }}\n",
        relay.address
    );
    let server = start_mesh(&dir, &source).await;
    let address = server.listeners[0].address;
    let mut sender = h2_client::<Full<Bytes>>(address).await;
    let mut call = async || {
        let response = sender.send_request(get(address, "/small")).await.unwrap();
        let status = response.status();
        (
            status,
            response.into_body().collect().await.unwrap().to_bytes(),
        )
    };
    assert_eq!(call().await.1, "still answering");
    relay.silence();
    let (status, _) = call().await;
    assert_eq!(
        status, 504,
        "a request into the silent connection times out"
    );
    // Within the ping interval and timeout (15 s), meshd finds the connection dead, drops it, and
    // the next request opens another.
    let answered = async || {
        let (status, body) = call().await;
        status == 200 && body == "still answering"
    };
    let limit = Duration::from_secs(30);
    let what = "a request answered over a new connection";
    eventually_within(limit, what, answered).await;
    assert_eq!(relay.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_connection_that_fell_silent_is_found_by_its_pings_and_its_streams_end() {
    let dir = Scratch::new("h2-silent-client");
    let upstream = HoldingUpstream::start(100).await;
    let (_server, address) = gateway(&dir, upstream.address).await;
    // The client reaches meshd through a relay, and opens a long-lived, quiet stream.
    let relay = SilentRelay::start(address).await;
    let mut sender = h2_client::<Full<Bytes>>(relay.address).await;
    let response = sender.send_request(get(address, "/hold")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(upstream.ended.load(Ordering::SeqCst), 0);
    // The client's side falls silent. meshd's pings go unanswered: within 15 s it closes the
    // connection and resets the upstream stream it held for the client.
    relay.silence();
    let ended = async || upstream.ended.load(Ordering::SeqCst) > 0;
    let what = "meshd to end the stream of a client that fell silent";
    eventually_within(Duration::from_secs(30), what, ended).await;
    drop(response);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_past_max_requests_is_answered_503_until_one_ends() {
    let dir = Scratch::new("h2-max-requests");
    let upstream = HoldingUpstream::start(100).await;
    let source = format!(
        "gateway edge {{\n  listen \"127.0.0.1:0\"\n  route all {{ match * prefix \"/\" public forward h2app }}\n}}\nservice h2app {{ endpoints [\"{}\"] protocol h2c circuit_breaker {{ max_requests 1 }} }}\n",
        upstream.address
    );
    let server = start_mesh(&dir, &source).await;
    let address = server.listeners[0].address;
    let mut client = h2_client::<Full<Bytes>>(address).await;
    // A response whose body never ends holds the one request allowed.
    let held = client.send_request(get(address, "/hold")).await.unwrap();
    assert_eq!(held.status(), 200);
    let refused = client.send_request(get(address, "/small")).await.unwrap();
    assert_eq!(refused.status(), 503);
    let body = refused.into_body().collect().await.unwrap().to_bytes();
    assert!(
        String::from_utf8_lossy(&body).contains("max_requests (1)"),
        "{body:?}"
    );
    drop(held);
    settled("the held stream ends upstream", &upstream.ended).await;
    eventually("a request is answered again", async || {
        let response = client.send_request(get(address, "/small")).await.unwrap();
        response.status() == 200
    })
    .await;
}
