//! The access log writer: JSON lines on stdout, buffered per worker thread and written in large
//! chunks (when a buffer passes 32 KiB, and by a periodic flush), not one syscall per request.

use std::io::Write;
use std::sync::Mutex;
use std::time::SystemTime;

use crate::forward::worker_slot::current_slot;

use serde::Serialize;

/// A worker's buffer is written out once it holds this much.
const FLUSH_AT: usize = 32 * 1024;

/// Where access records go.
#[derive(Debug)]
pub struct AccessLog {
    enabled: bool,
    buffers: Box<[Mutex<Vec<u8>>]>,
}

impl AccessLog {
    /// A log for `workers` workers (plus a slot for other threads); `enabled` false drops records.
    pub fn new(workers: usize, enabled: bool) -> Self {
        AccessLog {
            enabled,
            buffers: (0..=workers)
                .map(|_| Mutex::new(Vec::with_capacity(if enabled { FLUSH_AT * 2 } else { 0 })))
                .collect(),
        }
    }

    /// Whether records are kept (callers skip building them otherwise).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Appends one record as a JSON line (a gateway's
    /// [`super::AccessRecord`], or a sidecar's).
    pub fn write<R: Serialize + ?Sized>(&self, record: &R) {
        if !self.enabled {
            return;
        }
        let slot = &self.buffers[current_slot(self.buffers.len())];
        let mut buffer = slot.lock().unwrap_or_else(|p| p.into_inner());
        if serde_json::to_writer(&mut *buffer, record).is_ok() {
            buffer.push(b'\n');
        }
        if buffer.len() >= FLUSH_AT {
            write_out(&mut buffer);
        }
    }

    /// Writes every buffered line out (periodically and at shutdown).
    pub fn flush(&self) {
        for slot in self.buffers.iter() {
            let mut buffer = slot.lock().unwrap_or_else(|p| p.into_inner());
            if !buffer.is_empty() {
                write_out(&mut buffer);
            }
        }
    }
}

fn write_out(buffer: &mut Vec<u8>) {
    let mut stdout = std::io::stdout().lock();
    // A closed stdout must not take the gateway down; the lines are dropped.
    let _ = stdout.write_all(buffer);
    let _ = stdout.flush();
    buffer.clear();
}

/// The current time for a record.
pub fn timestamp() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}
