//! One request/response exchange on a connection: write the request (head and body), then read
//! until the response head is complete. The response body stays on the connection for
//! [`crate::forward::response_body::UpstreamBody`] to stream.

use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::connection::{UpstreamConn, READ_CHUNK};
use super::request_encoder::{encode_chunk, LAST_CHUNK};
use super::response_head::{parse_head, HeadError, HeadParse, ResponseHead};

/// Body bytes are written in pieces of at most this much.
const WRITE_BATCH: usize = 64 * 1024;

/// What to send.
#[derive(Debug)]
pub struct ExchangeRequest<'a> {
    /// The encoded request head (kept by the caller so a bodiless request can be sent again).
    pub head: &'a [u8],
    /// The client's body, when there is one.
    pub body: Option<Incoming>,
    /// Whether the body goes out chunked.
    pub chunked: bool,
    /// Whether the method is HEAD (the response then has no body).
    pub head_request: bool,
}

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// Writing the request failed.
    #[error("writing the request failed: {0}")]
    Write(std::io::Error),
    /// Reading the response failed.
    #[error("reading the response failed: {0}")]
    Read(std::io::Error),
    /// The upstream closed the connection before a complete response head.
    #[error("the upstream closed the connection before answering")]
    Closed {
        /// Whether any byte of a response had arrived.
        partial: bool,
    },
    /// The response head is unusable.
    #[error(transparent)]
    Head(#[from] HeadError),
    /// The client's body could not be read (the client went away or sent a malformed body).
    #[error("the request body could not be read: {0}")]
    ClientBody(hyper::Error),
}

impl ExchangeError {
    /// Whether the upstream sent nothing back, so a stale keep-alive connection may be the cause.
    pub fn nothing_received(&self) -> bool {
        matches!(
            self,
            ExchangeError::Write(_) | ExchangeError::Closed { partial: false }
        ) || matches!(self, ExchangeError::Read(e) if e.kind() == std::io::ErrorKind::ConnectionReset)
    }
}

/// Sends `request` on `conn` and reads the response head.
pub async fn exchange(
    conn: &mut UpstreamConn,
    request: ExchangeRequest<'_>,
) -> Result<ResponseHead, ExchangeError> {
    match request.body {
        None => conn
            .stream
            .write_all(request.head)
            .await
            .map_err(ExchangeError::Write)?,
        Some(body) => write_with_body(conn, request.head, body, request.chunked).await?,
    }
    read_head(conn, request.head_request).await
}

async fn write_with_body(
    conn: &mut UpstreamConn,
    head: &[u8],
    mut body: Incoming,
    chunked: bool,
) -> Result<(), ExchangeError> {
    let mut out = Vec::with_capacity(head.len() + 4096);
    out.extend_from_slice(head);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(ExchangeError::ClientBody)?;
        if let Ok(data) = frame.into_data() {
            if chunked {
                encode_chunk(&data, &mut out);
            } else {
                out.extend_from_slice(&data);
            }
        }
        if out.len() >= WRITE_BATCH {
            conn.stream
                .write_all(&out)
                .await
                .map_err(ExchangeError::Write)?;
            out.clear();
        }
    }
    if chunked {
        out.extend_from_slice(LAST_CHUNK);
    }
    conn.stream
        .write_all(&out)
        .await
        .map_err(ExchangeError::Write)
}

async fn read_head(
    conn: &mut UpstreamConn,
    head_request: bool,
) -> Result<ResponseHead, ExchangeError> {
    loop {
        if !conn.read.is_empty() {
            if let HeadParse::Complete(head) = parse_head(&mut conn.read, head_request)? {
                return Ok(head);
            }
        }
        conn.read.reserve(READ_CHUNK);
        let read = conn
            .stream
            .read_buf(&mut conn.read)
            .await
            .map_err(ExchangeError::Read)?;
        if read == 0 {
            return Err(ExchangeError::Closed {
                partial: !conn.read.is_empty(),
            });
        }
    }
}
