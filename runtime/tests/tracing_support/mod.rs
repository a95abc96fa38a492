//! The OTLP receiver of the tracing tests: `otlp_receiver.py` (the official opentelemetry-proto
//! classes decoding real protobuf over HTTP) as its own process, killed when dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::support::{client, get, send};

/// A running receiver.
pub struct Receiver {
    child: Child,
    /// Where it listens (`--otlp-endpoint http://ADDRESS`).
    pub address: SocketAddr,
    /// Where it takes exports over TLS, when started with a certificate.
    pub tls_port: Option<u16>,
}

impl Receiver {
    /// Starts the receiver and waits for its `listening PORT` line.
    pub fn start() -> Receiver {
        Receiver::start_with(&[])
    }

    /// Starts the receiver taking exports over TLS too, with this certificate and key (PEM).
    pub fn start_tls(cert: &std::path::Path, key: &std::path::Path) -> Receiver {
        Receiver::start_with(&["--tls", cert.to_str().unwrap(), key.to_str().unwrap()])
    }

    fn start_with(args: &[&str]) -> Receiver {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/tracing_support/otlp_receiver.py"
        );
        let mut child = Command::new("python3")
            .arg(script)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the OTLP receiver");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the receiver says where it listens");
        let words: Vec<&str> = line.split_whitespace().collect();
        let port: u16 = match words.as_slice() {
            ["listening", port, ..] => port.parse().ok(),
            _ => None,
        }
        .unwrap_or_else(|| {
            panic!("unexpected receiver line {line:?} (is opentelemetry-proto installed?)")
        });
        let tls_port = match words.as_slice() {
            [_, _, "tls", port] => port.parse().ok(),
            _ => None,
        };
        Receiver {
            child,
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            tls_port,
        }
    }

    /// The `--otlp-endpoint` value of its TLS port, named `localhost` (its certificate's name).
    pub fn tls_endpoint(&self) -> String {
        format!(
            "https://localhost:{}",
            self.tls_port.expect("started with TLS")
        )
    }

    /// The `--otlp-endpoint` value.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every span received so far.
    pub async fn spans(&self) -> Vec<Value> {
        let answer = get(self.address, "/spans", &[]).await;
        answer.json()["spans"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Sets how exports are answered: `ok`, `hang` or `fail`.
    pub async fn set_mode(&self, mode: &str) {
        let request = http::Request::post(format!("http://{}/mode/{mode}", self.address))
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        let answer = send(&client(), request).await;
        assert_eq!(answer.status, 200);
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The headers of every request a service received.
pub type Seen = Arc<Mutex<Vec<BTreeMap<String, String>>>>;

/// A service that records the headers of every delivery and answers 200.
pub async fn recording_service() -> (std::net::SocketAddr, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let store = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let headers = request
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                        .collect();
                    store.lock().unwrap().push(headers);
                    async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("ok")))) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (address, seen)
}
