//! HTTP/2's send timeout: a stream whose client takes nothing of its response for the send
//! timeout is reset (`RST_STREAM` with `CANCEL`), and the upstream exchange behind it ends, as
//! nginx's `send_timeout` does for its HTTP/2 streams. HTTP/1.1 connections have the same bound
//! in [`super::http1::response_writer`]. Without it, a client that kept its connection alive
//! (answering pings) but never opened a stream's window held that stream, up to its window of
//! response, and the upstream exchange behind it for as long as it liked: 100 streams a
//! connection.
//!
//! hyper sends each stream's response from a task of its own, spawned on the listener's
//! executor. While the client's window is shut, that task waits for window and does not poll the
//! body, so the body cannot time itself out. The executor here wraps each stream's task instead:
//! the stream's body says, through its [`SendPace`], when it handed hyper a piece that hyper has
//! not asked past since, and the task ends (which resets the stream and drops the upstream body)
//! once that piece has waited the send timeout. A body waiting for its upstream is not waiting
//! for the client: the route's timeouts bound that.
//!
//! The stream's pace reaches its task through the worker thread: hyper calls the service for a
//! new stream, which leaves the pace with [`SendPace::for_next_stream`], and at once gives the
//! stream's task to the executor, which takes it.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use crate::forward::clock::coarse_now_ms;

thread_local! {
    /// The pace of the stream whose service was just called on this thread, for its task.
    static NEXT_PACE: Cell<Option<Arc<SendPace>>> = const { Cell::new(None) };
}

/// When a stream's body last handed hyper a piece hyper has not asked past since.
#[derive(Debug, Default)]
pub struct SendPace {
    /// [`coarse_now_ms`] at the hand-over; 0 while the body is not waiting on the client.
    handed_ms: AtomicU64,
}

impl SendPace {
    /// A pace for the stream whose service is being called, left for the executor that hyper
    /// gives the stream's task to next.
    pub fn for_next_stream() -> Arc<SendPace> {
        let pace = Arc::new(SendPace::default());
        NEXT_PACE.set(Some(Arc::clone(&pace)));
        pace
    }

    /// The body handed hyper a piece: it waits on the client until hyper asks for the next.
    pub fn handed(&self) {
        self.handed_ms
            .store(coarse_now_ms().max(1), Ordering::Relaxed);
    }

    /// hyper asked for the next piece (or the body ended): nothing waits on the client.
    pub fn asked(&self) {
        self.handed_ms.store(0, Ordering::Relaxed);
    }

    fn waiting_since_ms(&self) -> Option<u64> {
        match self.handed_ms.load(Ordering::Relaxed) {
            0 => None,
            handed => Some(handed),
        }
    }
}

/// The executor of a listener's HTTP/2 connections: spawns each stream's task on the worker's
/// runtime, ended once its client has taken nothing for `send_timeout`.
#[derive(Debug, Clone, Copy)]
pub struct StreamExecutor {
    send_timeout: Duration,
}

impl StreamExecutor {
    pub fn new(send_timeout: Duration) -> Self {
        StreamExecutor { send_timeout }
    }
}

impl<F> hyper::rt::Executor<F> for StreamExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, task: F) {
        match NEXT_PACE.take() {
            Some(pace) => {
                tokio::spawn(PacedStream {
                    task,
                    pace,
                    timeout_ms: u64::try_from(self.send_timeout.as_millis()).unwrap_or(u64::MAX),
                    due_ms: 0,
                    wait: None,
                });
            }
            // Not a stream's task (hyper spawns nothing else on a server connection today).
            None => {
                tokio::spawn(task);
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// A stream's task, ended once the piece its body handed hyper has waited `timeout_ms`.
    struct PacedStream<F> {
        #[pin]
        task: F,
        pace: Arc<SendPace>,
        timeout_ms: u64,
        // When `wait` fires (0: not armed).
        due_ms: u64,
        wait: Option<Pin<Box<Sleep>>>,
    }
}

impl<F: Future> Future for PacedStream<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        if this.task.poll(cx).is_ready() {
            return Poll::Ready(());
        }
        loop {
            let Some(handed) = this.pace.waiting_since_ms() else {
                return Poll::Pending;
            };
            let due = handed.saturating_add(*this.timeout_ms);
            let now = coarse_now_ms();
            if now >= due {
                // Dropping the task drops hyper's handle on the stream, which resets it, and the
                // body, which ends the upstream exchange.
                tracing::debug!(
                    "an HTTP/2 client took nothing of a response for {}ms: stream reset",
                    this.timeout_ms
                );
                return Poll::Ready(());
            }
            if *this.due_ms != due {
                let at = Instant::now() + Duration::from_millis(due - now);
                match this.wait.as_mut() {
                    Some(wait) => wait.as_mut().reset(at),
                    None => *this.wait = Some(Box::pin(tokio::time::sleep_until(at))),
                }
                *this.due_ms = due;
            }
            if let Some(wait) = this.wait.as_mut() {
                ready!(wait.as_mut().poll(cx));
            }
            // The timer fired: look again (the coarse clock may be a tick behind it).
            *this.due_ms = 0;
        }
    }
}
