//! An upstream that reads every request with meshd's strict HTTP/1.1 parsers (CRLF lines, one
//! framing, a body that ends where its framing says), records any it cannot read whole, and
//! answers the rest `200` marked `x-upstream`: whatever meshd forwards must pass it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use meshd::forward::http1::body_decoder::{BodyDecoder, Decoded};
use meshd::server::http1::request_head::{parse_request_head, RequestFraming};

/// The upstream (see the module).
pub struct StrictUpstream {
    /// Where it listens.
    pub address: SocketAddr,
    /// Requests read whole and answered.
    pub answered: Arc<AtomicUsize>,
    /// Requests it could not read, with why.
    pub unreadable: Arc<Mutex<Vec<String>>>,
}

impl StrictUpstream {
    /// Starts it on an ephemeral loopback port.
    pub fn start() -> StrictUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let answered = Arc::new(AtomicUsize::new(0));
        let unreadable = Arc::new(Mutex::new(Vec::new()));
        let (count, record) = (Arc::clone(&answered), Arc::clone(&unreadable));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (count, record) = (Arc::clone(&count), Arc::clone(&record));
                std::thread::spawn(move || serve_strictly(stream, &count, &record));
            }
        });
        StrictUpstream {
            address,
            answered,
            unreadable,
        }
    }
}

/// Reads more into `buffer`; false at end of stream or on an error.
fn read_more(stream: &mut TcpStream, buffer: &mut BytesMut) -> bool {
    let mut chunk = [0u8; 16 * 1024];
    match stream.read(&mut chunk) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buffer.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

/// One connection from meshd. A request cut short (meshd gave up on its client) is not an
/// error; one that cannot be read is.
fn serve_strictly(mut stream: TcpStream, answered: &AtomicUsize, unreadable: &Mutex<Vec<String>>) {
    let mut buffer = BytesMut::new();
    loop {
        let head = loop {
            match parse_request_head(&mut buffer) {
                Ok(Some(head)) => break head,
                Ok(None) if read_more(&mut stream, &mut buffer) => {}
                Ok(None) => return,
                Err(refusal) => {
                    unreadable.lock().unwrap().push(format!(
                        "{}: {:?}",
                        refusal.reason,
                        String::from_utf8_lossy(&buffer)
                    ));
                    return;
                }
            }
        };
        let mut body = match head.framing {
            RequestFraming::Empty => BodyDecoder::empty(),
            RequestFraming::Length(n) => BodyDecoder::with_length(n),
            RequestFraming::Chunked => BodyDecoder::chunked(),
        };
        loop {
            match body.decode(&mut buffer) {
                Ok(Decoded::Data(_)) => {}
                Ok(Decoded::Done) => break,
                Ok(Decoded::NeedMore) if read_more(&mut stream, &mut buffer) => {}
                Ok(Decoded::NeedMore) => return,
                Err(_) => {
                    unreadable
                        .lock()
                        .unwrap()
                        .push(format!("a malformed body after {:?}", head.target));
                    return;
                }
            }
        }
        answered.fetch_add(1, Ordering::SeqCst);
        let reply: &[u8] = match head.method == http::Method::HEAD {
            true => b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-upstream: 1\r\n\r\n",
            false => b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-upstream: 1\r\n\r\nok",
        };
        if stream.write_all(reply).is_err() || !head.keep_alive {
            return;
        }
    }
}
