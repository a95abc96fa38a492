//! `meshc graph`: compile, then draw the verified graph (only a program without errors has one).

use std::io::Write;

use crate::graph::render_dot::render_dot;
use crate::graph::render_mermaid::render_mermaid;
use crate::pipeline::compile_paths;

use super::args::{Format, GraphArgs, GraphFormat};
use super::output::print_diagnostics;
use super::{EXIT_INPUT_ERRORS, EXIT_OK, EXIT_USAGE};

/// Runs `graph`; returns the exit code.
pub fn run_graph(args: &GraphArgs) -> u8 {
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
    let Some(bundle) = &compilation.bundle else {
        return EXIT_INPUT_ERRORS;
    };
    let picture = match args.format {
        GraphFormat::Dot => render_dot(&bundle.graph),
        GraphFormat::Mermaid => render_mermaid(&bundle.graph),
    };
    match std::io::stdout().lock().write_all(picture.as_bytes()) {
        Ok(()) => EXIT_OK,
        Err(_) => EXIT_USAGE,
    }
}
