//! Parses a bundle file (JSON, or JSON compressed with zstd) with the typed parse, as `meshd`'s
//! load does, and prints its route count: the reader's cost alone, for callgrind or perf.
//!
//! `cargo build --release -p meshwork-bundle --example parse_bundle &&
//! valgrind --tool=callgrind target/release/examples/parse_bundle bundle.json`

use std::process::ExitCode;

use meshwork_bundle::{bundle_file, Bundle};

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: parse_bundle BUNDLE");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("{path}: {error}");
            return ExitCode::from(2);
        }
    };
    let text = bundle_file::decode(&bytes).expect("a readable bundle file");
    let text = std::str::from_utf8(&text).expect("a UTF-8 bundle");
    match Bundle::from_json(text) {
        Ok(bundle) => {
            println!("{} routes", bundle.route_count());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{path}: {error}");
            ExitCode::FAILURE
        }
    }
}
