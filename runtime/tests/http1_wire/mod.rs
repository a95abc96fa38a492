//! The raw side of the HTTP/1.1 wire tests: a client that writes bytes and reads responses
//! exactly as meshd framed them, the gateway every test serves, and scripted raw upstreams.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::*;

/// A response as read off the wire.
#[derive(Debug)]
pub struct WireResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// How the body was delimited: "length", "chunked", "close" or "none".
    pub framing: &'static str,
}

impl WireResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// A raw client connection with its read buffer.
pub struct Wire {
    pub stream: TcpStream,
    pub buffer: Vec<u8>,
}

impl Wire {
    pub async fn connect(address: SocketAddr) -> Wire {
        Wire {
            stream: TcpStream::connect(address).await.unwrap(),
            buffer: Vec::new(),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Reads more bytes; false at end of stream.
    pub async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        let read = tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut chunk))
            .await
            .expect("meshd did not answer within 10 s")
            .unwrap_or(0);
        self.buffer.extend_from_slice(&chunk[..read]);
        read > 0
    }

    /// Waits until the buffer holds `needle`.
    pub async fn read_until(&mut self, needle: &[u8]) {
        while !self.buffer.windows(needle.len()).any(|w| w == needle) {
            assert!(
                self.fill().await,
                "closed before {:?}",
                String::from_utf8_lossy(needle)
            );
        }
    }

    /// Whether meshd closes the connection (reading nothing more).
    pub async fn closes(&mut self) -> bool {
        self.buffer.clear();
        !self.fill().await && self.buffer.is_empty()
    }

    /// Reads one response (`head_request` for the answer to HEAD).
    pub async fn response(&mut self, head_request: bool) -> WireResponse {
        let (status, headers, head_length) = loop {
            let mut slots = [httparse::EMPTY_HEADER; 64];
            let mut parsed = httparse::Response::new(&mut slots);
            if let httparse::Status::Complete(length) = parsed.parse(&self.buffer).unwrap() {
                let headers = parsed
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_string(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect::<Vec<_>>();
                break (parsed.code.unwrap(), headers, length);
            }
            assert!(self.fill().await, "closed mid-head");
        };
        self.buffer.drain(..head_length);
        let mut response = WireResponse {
            status,
            headers,
            body: Vec::new(),
            framing: "none",
        };
        if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
            return response;
        }
        if response
            .header("transfer-encoding")
            .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
        {
            response.framing = "chunked";
            response.body = self.chunked_body().await;
        } else if let Some(length) = response.header("content-length") {
            let length: usize = length.parse().unwrap();
            response.framing = "length";
            while self.buffer.len() < length {
                assert!(self.fill().await, "closed mid-body");
            }
            response.body = self.buffer.drain(..length).collect();
        } else {
            response.framing = "close";
            while self.fill().await {}
            response.body = std::mem::take(&mut self.buffer);
        }
        response
    }

    pub async fn line(&mut self) -> String {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buffer.drain(..end + 2).collect();
                return String::from_utf8_lossy(&line[..end]).into_owned();
            }
            assert!(self.fill().await, "closed mid-line");
        }
    }

    pub async fn chunked_body(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let size_line = self.line().await;
            let size = usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16)
                .unwrap_or_else(|_| panic!("bad chunk size {size_line:?}"));
            if size == 0 {
                while !self.line().await.is_empty() {}
                return body;
            }
            while self.buffer.len() < size + 2 {
                assert!(self.fill().await, "closed mid-chunk");
            }
            body.extend(self.buffer.drain(..size));
            assert_eq!(self.buffer.drain(..2).collect::<Vec<_>>(), b"\r\n");
        }
    }
}

pub const GATEWAY: &str = r#"
gateway edge {
  listen "127.0.0.1:0"
  route ping { match GET "/ping" public respond 200 "pong" }
  route limited { match POST "/limited" public body_limit 16B forward crew }
  route all { match * prefix "/" public forward crew }
}
"#;

pub async fn gateway_to(dir: &Scratch, upstream: SocketAddr) -> meshd::RunningServer {
    let source = format!("{GATEWAY}\nservice crew {{ endpoints [\"{upstream}\"] }}");
    start_mesh(dir, &source).await
}

/// A raw upstream answering every request with `answer(request head)`; counts connections.
pub async fn scripted_upstream(
    answer: impl Fn(&str) -> Vec<u8> + Send + Sync + 'static,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let answer = Arc::clone(&answer);
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let end = buffer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    let head: Vec<u8> = buffer.drain(..end).collect();
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let reply = answer(&head);
                    let closes = String::from_utf8_lossy(&reply)
                        .to_ascii_lowercase()
                        .contains("connection: close");
                    if stream.write_all(&reply).await.is_err() || closes {
                        return;
                    }
                }
            });
        }
    });
    (address, connections)
}
