//! `meshc check`: compile and report, write nothing.

use crate::pipeline::compile_paths;

use super::args::CheckArgs;
use super::output::{fails, print_diagnostics, without_allowed};
use super::{EXIT_INPUT_ERRORS, EXIT_OK, EXIT_USAGE};

/// Runs `check`; returns the exit code.
pub fn run_check(args: &CheckArgs) -> u8 {
    let compilation = match compile_paths(&args.input.paths) {
        Ok(c) => c,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    let diagnostics = match without_allowed(&compilation.diagnostics, &args.input.allow) {
        Ok(diagnostics) => diagnostics,
        Err(problem) => {
            eprintln!("error: {problem}");
            return EXIT_USAGE;
        }
    };
    print_diagnostics(&compilation.sources, &diagnostics, args.input.format);
    if fails(&diagnostics, args.input.deny_warnings) {
        EXIT_INPUT_ERRORS
    } else {
        EXIT_OK
    }
}
