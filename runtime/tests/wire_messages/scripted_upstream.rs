//! An upstream that answers each request with the bytes the test gives it, then closes (or, for
//! uploads, reads the body after answering); and the status meshd must give its client for them,
//! by meshd's own response parser.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{mpsc, Arc, Mutex};

use bytes::BytesMut;
use meshd::forward::http1::body_decoder::{BodyDecoder, Decoded};
use meshd::forward::http1::response_head::{parse_head, HeadError, HeadParse, ResponseFraming};

/// An upstream that reads a request head, writes the bytes it was given, and closes.
pub fn scripted_upstream(next: Arc<Mutex<Vec<u8>>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut chunk = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&chunk[..n]),
                }
            }
            let answer = next.lock().unwrap().clone();
            let _ = stream.write_all(&answer);
        }
    });
    address
}

/// An upstream that reads a request head, writes the bytes it was given and ends its side (FIN),
/// says so on the receiver, then reads the request's body (`body` bytes, or until meshd closes) and
/// closes: a server that answers an upload before reading it, and reads it afterwards.
pub fn scripted_upload_upstream(
    next: Arc<Mutex<Vec<u8>>>,
    body: usize,
) -> (SocketAddr, mpsc::Receiver<()>) {
    let (answered, answers) = mpsc::channel();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut seen = Vec::new();
            let mut chunk = vec![0u8; 64 * 1024];
            let head_end = loop {
                if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(end + 4);
                }
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break None,
                    Ok(n) => seen.extend_from_slice(&chunk[..n]),
                }
            };
            let Some(head_end) = head_end else { continue };
            let answer = next.lock().unwrap().clone();
            let _ = stream.write_all(&answer);
            let _ = stream.shutdown(std::net::Shutdown::Write);
            let _ = answered.send(());
            let mut read = seen.len() - head_end;
            while read < body {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => read += n,
                }
            }
        }
    });
    (address, answers)
}

/// The status meshd must give for an upstream that sent `bytes`: the upstream's when meshd's own
/// parser reads a head there (1xx interim responses skipped), else 502. An upgrade request may
/// also get the upstream's `101 Switching Protocols` (any other request a 502 for it).
pub fn expected_status(bytes: &[u8], upgrade: bool) -> u16 {
    let mut buffer = BytesMut::from(bytes);
    match parse_head(&mut buffer, false) {
        Ok(HeadParse::Complete(head)) => head.status.as_u16(),
        Err(HeadError::Upgrade) if upgrade && switches_to_websocket(&buffer) => 101,
        _ => 502,
    }
}

/// Whether an upstream that sent `bytes` (and closed) breaks off its response's body, by meshd's
/// own parser: a head meshd reads, then a body shorter than its length or chunks that are cut
/// short or malformed.
pub fn body_breaks(bytes: &[u8]) -> bool {
    let mut buffer = BytesMut::from(bytes);
    let Ok(HeadParse::Complete(head)) = parse_head(&mut buffer, false) else {
        return false;
    };
    let mut decoder = match head.framing {
        ResponseFraming::Length(length) => BodyDecoder::with_length(length),
        ResponseFraming::Chunked => BodyDecoder::chunked(),
        ResponseFraming::Empty | ResponseFraming::UntilClose => return false,
    };
    loop {
        match decoder.decode(&mut buffer) {
            Ok(Decoded::Data(_)) => {}
            Ok(Decoded::Done) => return false,
            Ok(Decoded::NeedMore) | Err(_) => return true,
        }
    }
}

/// Whether `head` (a 101, interim responses before it already taken) is complete and names
/// only `websocket`, the protocol the request asked for, in its `Upgrade`.
fn switches_to_websocket(head: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut response = httparse::Response::new(&mut headers);
    if !matches!(response.parse(head), Ok(httparse::Status::Complete(_))) {
        return false;
    }
    let Some(upgrade) = response
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("upgrade"))
    else {
        return false;
    };
    let tokens: Vec<&[u8]> = upgrade
        .value
        .split(|b| *b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
        .collect();
    !tokens.is_empty() && tokens.iter().all(|t| t.eq_ignore_ascii_case(b"websocket"))
}
