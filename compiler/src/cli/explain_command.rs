//! `meshc explain`: compile, then explain one request against the bundle.

use std::io::Write;

use crate::explain::{explain, ExplainRequest};
use crate::pipeline::compile_paths;

use super::args::{ExplainArgs, Format};
use super::output::print_diagnostics;
use super::{EXIT_INPUT_ERRORS, EXIT_OK, EXIT_USAGE};

/// Runs `explain`; returns the exit code.
pub fn run_explain(args: &ExplainArgs) -> u8 {
    let request = match ExplainRequest::parse(&args.request, &args.headers) {
        Ok(request) => request,
        Err(error) => {
            eprintln!("error: --request: {error}");
            return EXIT_USAGE;
        }
    };
    let compilation = match compile_paths(&args.paths) {
        Ok(c) => c,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    print_diagnostics(
        &compilation.sources,
        &compilation.diagnostics,
        Format::Human,
    );
    let Some(text) = explain(&compilation, &request) else {
        return EXIT_INPUT_ERRORS;
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => EXIT_OK,
        Err(_) => EXIT_USAGE,
    }
}
