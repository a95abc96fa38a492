//! A response body that meshd itself writes while the response is being sent (Server-Sent
//! Events), through a bounded queue: the producer side learns at once when the client is too slow
//! (the queue holds `max_frames` frames or `max_bytes` bytes) and cuts the response, so a client
//! that stops reading can never make meshd hold more than the bound.
//!
//! Cutting wakes the response writer even while it waits on a full socket (see
//! [`StreamedBody::cut_signal`]), so the connection closes instead of hanging on a client that
//! reads nothing.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::{mpsc, Notify};

/// Shared between the two ends: bytes queued and whether the response was cut.
#[derive(Debug, Default)]
pub struct CutSignal {
    queued_bytes: AtomicUsize,
    cut: AtomicBool,
    notify: Notify,
}

impl CutSignal {
    /// Whether the response was cut.
    pub fn is_cut(&self) -> bool {
        self.cut.load(Ordering::Acquire)
    }

    /// Resolves once the response is cut (at once if it already was).
    pub async fn cut_notified(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_cut() {
                return;
            }
            notified.await;
        }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }
}

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendRefused {
    /// The queue is at its bound: the client reads too slowly. The response is now cut.
    TooSlow,
    /// The client is gone (the body was dropped) or the response was cut.
    Closed,
}

/// The writing end.
#[derive(Debug)]
pub struct StreamedSender {
    frames: mpsc::Sender<Bytes>,
    signal: Arc<CutSignal>,
    max_bytes: usize,
}

impl StreamedSender {
    /// Queues one frame, or cuts the response when the queue is at its bound.
    pub fn send(&self, frame: Bytes) -> Result<(), SendRefused> {
        if self.signal.is_cut() {
            return Err(SendRefused::Closed);
        }
        let len = frame.len();
        let queued = self.signal.queued_bytes.load(Ordering::Acquire);
        if queued > 0 && queued + len > self.max_bytes {
            self.signal.cut();
            return Err(SendRefused::TooSlow);
        }
        self.signal.queued_bytes.fetch_add(len, Ordering::AcqRel);
        match self.frames.try_send(frame) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.signal.cut();
                Err(SendRefused::TooSlow)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(SendRefused::Closed),
        }
    }

    /// Resolves when the client is gone (the body was dropped).
    pub async fn closed(&self) {
        self.frames.closed().await;
    }
}

/// The reading end, polled by the response writer.
#[derive(Debug)]
pub struct StreamedBody {
    frames: mpsc::Receiver<Bytes>,
    signal: Arc<CutSignal>,
}

impl StreamedBody {
    /// What cuts this response, for the writer to watch while it waits on the socket.
    pub fn cut_signal(&self) -> Arc<CutSignal> {
        Arc::clone(&self.signal)
    }
}

/// A queue of at most `max_frames` frames and `max_bytes` bytes (one frame larger than
/// `max_bytes` still passes when nothing else is queued, so no record is unsendable).
pub fn streamed_body(max_frames: usize, max_bytes: usize) -> (StreamedSender, StreamedBody) {
    let (tx, rx) = mpsc::channel(max_frames.max(1));
    let signal = Arc::new(CutSignal::default());
    (
        StreamedSender {
            frames: tx,
            signal: Arc::clone(&signal),
            max_bytes,
        },
        StreamedBody { frames: rx, signal },
    )
}

impl Body for StreamedBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        if this.signal.is_cut() {
            this.frames.close();
            return Poll::Ready(Some(Err(cut_error())));
        }
        match this.frames.poll_recv(cx) {
            Poll::Ready(Some(frame)) => {
                this.signal
                    .queued_bytes
                    .fetch_sub(frame.len(), Ordering::AcqRel);
                Poll::Ready(Some(Ok(Frame::data(frame))))
            }
            Poll::Ready(None) if this.signal.is_cut() => Poll::Ready(Some(Err(cut_error()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

fn cut_error() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "the client read too slowly: its queue reached the route's bound",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_cuts_the_response() {
        let (tx, _rx) = streamed_body(2, 1 << 20);
        assert_eq!(tx.send(Bytes::from_static(b"a")), Ok(()));
        assert_eq!(tx.send(Bytes::from_static(b"b")), Ok(()));
        assert_eq!(tx.send(Bytes::from_static(b"c")), Err(SendRefused::TooSlow));
        assert_eq!(tx.send(Bytes::from_static(b"d")), Err(SendRefused::Closed));
    }

    #[test]
    fn the_byte_bound_cuts_before_the_frame_bound() {
        let (tx, _rx) = streamed_body(100, 10);
        assert_eq!(tx.send(Bytes::from_static(b"0123456789abc")), Ok(()));
        assert_eq!(tx.send(Bytes::from_static(b"x")), Err(SendRefused::TooSlow));
    }

    #[tokio::test]
    async fn read_frames_free_their_bytes() {
        use http_body_util::BodyExt;
        let (tx, mut rx) = streamed_body(100, 10);
        tx.send(Bytes::from_static(b"0123456789")).unwrap();
        let frame = rx.frame().await.unwrap().unwrap();
        assert_eq!(
            frame.into_data().unwrap(),
            Bytes::from_static(b"0123456789")
        );
        assert_eq!(tx.send(Bytes::from_static(b"0123456789")), Ok(()));
    }
}
