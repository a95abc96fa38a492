//! The access log: one JSON line per request on stdout.

pub mod record;
pub mod writer;

pub use record::{AccessRecord, DenialRecord};
pub use writer::{timestamp, AccessLog};
