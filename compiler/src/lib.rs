//! `meshc`: the Meshwork compiler. `.mesh` sources go through
//! syntax → (resolve → graph → checks) → emit and come out as one deterministic bundle.

pub mod catalog;
pub mod checks;
pub mod cli;
pub mod diagnostics;
pub mod diff;
pub mod emit;
pub mod explain;
pub mod fmt;
pub mod graph;
pub mod input;
pub mod pipeline;
pub mod reach;
pub mod resolve;
pub mod source;
pub mod syntax;
pub mod test_runner;
pub mod who_can;

pub use pipeline::{compile_bytes, compile_paths, compile_text, Compilation, InputError};
