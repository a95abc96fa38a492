//! The demo's `protocol tcp` pieces: the app of a tcp service (a line server answering each line
//! it receives with `SERVICE@ENDPOINT: LINE`), and an HTTP demo app's `/tcp/SERVICE`, which sends
//! the request's body through its sidecar's `--tcp` listener for SERVICE and answers with what
//! came back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::demo_upstreams::{json, DemoApp};

/// The most a line app reads from one connection, and a `/tcp/` call from one answer.
const MOST_BYTES: u64 = 1 << 20;
/// How long a `/tcp/` call may take, connecting and reading the answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the line app of tcp service `service` on `socket` (non-blocking) on `runtime`.
pub fn serve_demo_line_app(
    socket: std::net::TcpListener,
    service: &str,
    endpoint: &str,
    runtime: &tokio::runtime::Handle,
) -> std::io::Result<()> {
    let _guard = runtime.enter();
    let listener = TcpListener::from_std(socket)?;
    let who: Arc<str> = format!("{service}@{endpoint}").into();
    runtime.spawn(serve_lines(listener, who));
    Ok(())
}

async fn serve_lines(listener: TcpListener, who: Arc<str>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let who = Arc::clone(&who);
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read.take(MOST_BYTES)).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if write
                    .write_all(format!("{who}: {line}\n").as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
    }
}

/// `/tcp/SERVICE` → `SERVICE`.
pub fn tcp_target(path: &str) -> Option<&str> {
    path.strip_prefix("/tcp/")
        .filter(|service| !service.is_empty() && !service.contains('/'))
}

/// Sends `body` to `service` through the sidecar's `--tcp` listener for it, closes the sending
/// side, and answers with what came back before the connection ended: 200 with the text, 502
/// when nothing came back (the service's sidecar refused the caller, or no endpoint took it).
pub async fn tcp_call(app: &DemoApp, service: &str, body: Bytes) -> Response<Full<Bytes>> {
    let Some(listener) = app.tcp.iter().find(|(s, _)| s == service).map(|(_, a)| *a) else {
        return json(
            StatusCode::NOT_FOUND,
            serde_json::json!({
                "error": format!("this app's sidecar has no --tcp listener for `{service}` (a protocol tcp service)")
            }),
        );
    };
    match tokio::time::timeout(CALL_TIMEOUT, exchange(listener, &body)).await {
        Ok(Ok(received)) if !received.is_empty() => json(
            StatusCode::OK,
            serde_json::json!({
                "service": service,
                "via": listener.to_string(),
                "sent": body.len(),
                "received": String::from_utf8_lossy(&received),
            }),
        ),
        outcome => {
            let error = match outcome {
                Ok(Ok(_)) => "the connection ended with nothing received: the service's sidecar refused it, or no endpoint took it".to_string(),
                Ok(Err(error)) => format!("the sidecar's tcp listener failed: {error}"),
                Err(_) => format!("no end of the answer within {CALL_TIMEOUT:?}"),
            };
            json(
                StatusCode::BAD_GATEWAY,
                serde_json::json!({"service": service, "via": listener.to_string(), "error": error}),
            )
        }
    }
}

async fn exchange(listener: SocketAddr, body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(listener).await?;
    stream.write_all(body).await?;
    stream.shutdown().await?;
    let mut received = Vec::new();
    // A connection the sidecar closes with the body unread ends in a reset: it ended.
    match stream.take(MOST_BYTES).read_to_end(&mut received).await {
        Err(error) if error.kind() != std::io::ErrorKind::ConnectionReset => Err(error),
        _ => Ok(received),
    }
}
