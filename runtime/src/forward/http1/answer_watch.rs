//! Watching for the upstream's answer while the request is still being written. An upstream may
//! answer an upload before it has read the body (a 413 or 401 to a large body, a redirect to a
//! login page) and then neither read the rest nor close: a proxy that only writes would wait on a
//! full socket buffer until its try timed out, and the client would get a 504 instead of the
//! answer. RFC 9112 §9.3 asks a client sending a body to watch for such a response and stop
//! sending; nginx reads while it writes too.
//!
//! Whenever the write (or the client's body) is not ready, the watch reads what has arrived. A
//! complete final answer that is not a success (3xx, 4xx, 5xx) ends the upload: the upstream does
//! not want the body. A success that arrives early (a server streaming its answer while it reads)
//! is kept and the body is written whole, as before; it is returned once the write is done.

use std::pin::Pin;
use std::task::{Context, Poll};

use super::connection::{UpstreamConn, READ_CHUNK};
use super::response_head::{parse_head, HeadParse, ResponseHead};

/// What the upstream has answered while its request was being written.
#[derive(Debug)]
pub struct AnswerWatch {
    head_request: bool,
    /// An early success's head, once it is complete.
    answer: Option<ResponseHead>,
    /// Nothing more is read: an answer is complete, or the upstream closed, failed or sent
    /// something unparsable (the read after the write reports those, from the same buffer).
    done: bool,
}

impl AnswerWatch {
    /// A watch for the answer to a request (`head_request`: the method is HEAD).
    pub fn new(head_request: bool) -> AnswerWatch {
        AnswerWatch {
            head_request,
            answer: None,
            done: false,
        }
    }

    /// Reads what the upstream has sent so far: `Ready` with the answer's head when it refuses
    /// the body, `Pending` otherwise (the caller is waiting on something else too, whose waker
    /// is registered as well). An early success is kept for [`AnswerWatch::take`].
    pub fn poll_refusal(
        &mut self,
        conn: &mut UpstreamConn,
        cx: &mut Context<'_>,
    ) -> Poll<ResponseHead> {
        while !self.done {
            if !conn.read.is_empty() {
                match parse_head(&mut conn.read, self.head_request) {
                    Ok(HeadParse::Complete(head)) => {
                        self.done = true;
                        if !head.status.is_success() {
                            return Poll::Ready(head);
                        }
                        self.answer = Some(head);
                        break;
                    }
                    Ok(HeadParse::Partial) => {}
                    Err(_) => {
                        self.done = true;
                        break;
                    }
                }
            }
            conn.read.reserve(READ_CHUNK);
            match tokio_util::io::poll_read_buf(Pin::new(&mut conn.stream), cx, &mut conn.read) {
                Poll::Pending => break,
                Poll::Ready(Ok(0) | Err(_)) => self.done = true,
                Poll::Ready(Ok(_)) => {}
            }
        }
        Poll::Pending
    }

    /// The early success read while writing, if one is complete.
    pub fn take(&mut self) -> Option<ResponseHead> {
        self.answer.take()
    }
}
