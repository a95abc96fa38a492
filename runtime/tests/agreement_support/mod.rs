//! The two ends of the agreement test's wire: plain HTTP/1.1 upstreams that record what they
//! are sent, and a client that sends a `meshc test` case's request from the client address the
//! case names.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meshc::test_runner::ReplayCase;

pub mod stream_output;

/// A request an upstream received.
#[derive(Debug, Clone)]
pub struct Received {
    pub service: String,
    pub headers: Vec<(String, String)>,
}

/// A plain HTTP/1.1 upstream on an ephemeral port: answers 200 with its name and records what
/// it was sent.
pub fn upstream(name: &'static str, log: Arc<Mutex<Vec<Received>>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let log = Arc::clone(&log);
            std::thread::spawn(move || serve_upstream(name, stream, &log));
        }
    });
    address
}

fn serve_upstream(name: &str, stream: TcpStream, log: &Mutex<Vec<Received>>) {
    let mut writer = stream.try_clone().expect("clone stream");
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((n, v)) = header.split_once(':') {
                headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        log.lock().unwrap().push(Received {
            service: name.to_string(),
            headers,
        });
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{name}",
            name.len()
        );
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// What meshd answered.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

/// Sends the case's request to the gateway over a fresh connection.
pub fn send(gateway: SocketAddr, case: &ReplayCase) -> Answer {
    let request = &case.request;
    let target = if request.query.is_empty() {
        request.path.clone()
    } else {
        format!("{}?{}", request.path, request.query)
    };
    let mut head = format!("{} {target} HTTP/1.1\r\n", request.method);
    if !request.headers.contains_key(http::header::HOST) {
        head.push_str(&format!("host: {gateway}\r\n"));
    }
    for (name, value) in &request.headers {
        head.push_str(&format!(
            "{name}: {}\r\n",
            value.to_str().expect("test headers are text")
        ));
    }
    if !request.headers.contains_key(http::header::CONTENT_LENGTH) {
        head.push_str(&format!("content-length: {}\r\n", request.body.len()));
    }
    head.push_str("connection: close\r\n\r\n");
    // From the client address the test names: any 127/8 address is this host's loopback.
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("a socket");
    let from = SocketAddr::new(request.client.ip(), 0);
    socket.bind(&from.into()).expect("bind the client address");
    socket.connect(&gateway.into()).expect("connect to meshd");
    let mut stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    // meshd may refuse before reading a large body (413): a failed write is its answer.
    let _ = stream.write_all(&request.body);
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{}: no answer head from meshd", case.name));
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: bytes[split + 4..].to_vec(),
    }
}
