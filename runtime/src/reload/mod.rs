//! Hot reload: file changes, bundle URL polls, SIGHUP and `POST /reload` rebuild the state off the
//! request path and swap it atomically; in-flight requests finish on the state they started with.

pub mod file_watch;
pub mod poll_url;
pub mod reloader;
mod remote_reload;
pub mod state_cell;
pub mod watched_files;

pub use reloader::{error_chain, LoadFailure, ReloadOutcome, Reloader};
pub use state_cell::StateCell;
