//! Outputs of a stream finishing elsewhere (the producer's delivery-report thread, HTTP delivery
//! tasks) and reported back to the stream's own thread, which alone touches the offset tracker.
//!
//! The queue is a mutex-guarded vector the stream thread swaps out whole, so each report costs one
//! uncontended lock; the stream thread can also sleep on it until the next report arrives, and a
//! reporter wakes it only when it is actually asleep.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use rdkafka::message::{OwnedHeaders, OwnedMessage};
use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::ClientContext;

use super::offset_tracker::Sequence;
use crate::stream::deliver::{DeliverFailure, DeliveryRequest};

/// Something that finished: a delivery report or an HTTP delivery.
pub(crate) enum Completion {
    /// The broker acknowledged a republished record or a dead letter.
    Acknowledged {
        sequence: Sequence,
        dead_letter: bool,
    },
    /// A republished record failed for good.
    TargetFailed {
        sequence: Sequence,
        error: String,
        record: OwnedMessage,
    },
    /// A dead letter failed for good.
    DeadLetterFailed { sequence: Sequence, error: String },
    /// The service took the record.
    Delivered { sequence: Sequence },
    /// Every delivery attempt failed, or the service refused the record.
    DeliverFailed {
        sequence: Sequence,
        failure: DeliverFailure,
        record: Box<DeliveredRecord>,
    },
}

impl Completion {
    /// The record the completion is about.
    pub(crate) fn sequence(&self) -> Sequence {
        match self {
            Completion::Acknowledged { sequence, .. }
            | Completion::TargetFailed { sequence, .. }
            | Completion::DeadLetterFailed { sequence, .. }
            | Completion::Delivered { sequence }
            | Completion::DeliverFailed { sequence, .. } => *sequence,
        }
    }
}

/// What a dead letter needs of a record sent over HTTP.
pub(crate) struct DeliveredRecord {
    pub(crate) key: Option<Vec<u8>>,
    pub(crate) headers: Option<OwnedHeaders>,
    pub(crate) request: DeliveryRequest,
}

/// Completions waiting for the stream thread.
#[derive(Default)]
pub(crate) struct CompletionQueue {
    items: Mutex<Vec<Completion>>,
    arrived: Condvar,
    sleeping: AtomicBool,
}

impl CompletionQueue {
    /// Reports one completion, waking the stream thread if it waits for one.
    pub(crate) fn push(&self, completion: Completion) {
        // A poisoned lock means a panic already tore the run down; nothing to report then.
        if let Ok(mut items) = self.items.lock() {
            items.push(completion);
        }
        if self.sleeping.load(Ordering::Acquire) {
            self.arrived.notify_one();
        }
    }

    /// Moves every waiting completion into `into` (which should be empty).
    pub(crate) fn take_into(&self, into: &mut Vec<Completion>) {
        if let Ok(mut items) = self.items.lock() {
            std::mem::swap(&mut *items, into);
        }
    }

    /// Sleeps until a completion is waiting or `timeout` passes.
    pub(crate) fn wait(&self, timeout: Duration) {
        let Ok(items) = self.items.lock() else {
            return;
        };
        if !items.is_empty() {
            return;
        }
        self.sleeping.store(true, Ordering::Release);
        let _ = self.arrived.wait_timeout(items, timeout);
        self.sleeping.store(false, Ordering::Release);
    }
}

/// The producer's context: turns delivery reports into completions.
pub(crate) struct OutputReports {
    pub(crate) completions: std::sync::Arc<CompletionQueue>,
}

impl ClientContext for OutputReports {}

impl ProducerContext for OutputReports {
    /// See [`opaque`].
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: usize) {
        let (sequence, dead_letter) = from_opaque(opaque);
        let completion = match result {
            Ok(_) => Completion::Acknowledged {
                sequence,
                dead_letter,
            },
            Err((error, _)) if dead_letter => Completion::DeadLetterFailed {
                sequence,
                error: error.to_string(),
            },
            Err((error, message)) => Completion::TargetFailed {
                sequence,
                error: error.to_string(),
                record: message.detach(),
            },
        };
        self.completions.push(completion);
    }
}

/// A record's delivery opaque: `sequence << 1`, plus 1 for a dead letter. No allocation.
pub(crate) fn opaque(sequence: Sequence, dead_letter: bool) -> usize {
    ((sequence as usize) << 1) | usize::from(dead_letter)
}

/// The inverse of [`opaque`].
pub(crate) fn from_opaque(opaque: usize) -> (Sequence, bool) {
    ((opaque >> 1) as Sequence, opaque & 1 == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn opaques_round_trip() {
        assert_eq!(from_opaque(opaque(41, true)), (41, true));
        assert_eq!(from_opaque(opaque(0, false)), (0, false));
    }

    #[test]
    fn a_push_wakes_a_waiting_stream_thread() {
        let queue = Arc::new(CompletionQueue::default());
        let reporter = Arc::clone(&queue);
        let started = Instant::now();
        let thread = std::thread::spawn(move || {
            while !reporter.sleeping.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
            reporter.push(Completion::Delivered { sequence: 7 });
        });
        queue.wait(Duration::from_secs(30));
        thread.join().unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "woken by the push"
        );
        let mut taken = Vec::new();
        queue.take_into(&mut taken);
        assert!(matches!(
            taken.as_slice(),
            [Completion::Delivered { sequence: 7 }]
        ));
    }
}
