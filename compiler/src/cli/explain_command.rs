//! `meshc explain`: compile, then explain one request against the bundle.

use std::io::Write;

use std::path::PathBuf;

use meshwork_bundle::mesh_policy::ServiceHosts;

use crate::explain::{explain, explain_call, ExplainRequest};
use crate::pipeline::compile_paths;

use super::args::{ExplainArgs, Format};
use super::output::print_diagnostics;
use super::{EXIT_INPUT_ERRORS, EXIT_OK, EXIT_USAGE};

/// The hosts that name services for `--from`: with `--search-domains`, as the sidecar reads them.
fn hosts(args: &ExplainArgs) -> ServiceHosts {
    let list = args.search_domains.as_deref().unwrap_or_default();
    ServiceHosts::new(&ServiceHosts::search_domains_in_list(list))
}

/// Runs `explain`; returns the exit code.
pub fn run_explain(args: &ExplainArgs) -> u8 {
    let Some((line, paths)) = request_and_paths(args) else {
        eprintln!(
            "error: no request: give --request \"METHOD URL\" (or the request after the files)"
        );
        return EXIT_USAGE;
    };
    let request = match ExplainRequest::parse(line, &args.headers) {
        Ok(request) => request,
        Err(error) => {
            eprintln!("error: --request: {error}");
            return EXIT_USAGE;
        }
    };
    let compilation = match compile_paths(paths) {
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
    let text = match &args.from {
        None => explain(&compilation, &request),
        Some(from) => match explain_call(&compilation, &request, from, &hosts(args)) {
            None => None,
            Some(Ok(text)) => Some(text),
            Some(Err(error)) => {
                eprintln!("error: {error}");
                return EXIT_USAGE;
            }
        },
    };
    let Some(text) = text else {
        return EXIT_INPUT_ERRORS;
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => EXIT_OK,
        Err(_) => EXIT_USAGE,
    }
}

/// The request line and the program's paths: `--request`, or else the last positional argument
/// when it reads as "METHOD URL" (a path never holds a space after an upper-case word).
fn request_and_paths(args: &ExplainArgs) -> Option<(&str, &[PathBuf])> {
    if let Some(line) = &args.request {
        return Some((line, &args.paths));
    }
    let (last, paths) = args.paths.split_last()?;
    let line = last.to_str()?;
    let (method, rest) = line.split_once(' ')?;
    let looks_like_request = !method.is_empty()
        && method.bytes().all(|b| b.is_ascii_uppercase())
        && !rest.trim().is_empty()
        && !paths.is_empty();
    looks_like_request.then_some((line, paths))
}
