//! `meshc build`: compile and write the bundle.

use std::io::Write;

use crate::pipeline::compile_paths;

use super::args::BuildArgs;
use super::output::{fails, print_diagnostics, without_allowed};
use super::{EXIT_INPUT_ERRORS, EXIT_OK, EXIT_USAGE};

/// Runs `build`; returns the exit code.
pub fn run_build(args: &BuildArgs) -> u8 {
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
    let bundle = match (
        &compilation.bundle,
        fails(&diagnostics, args.input.deny_warnings),
    ) {
        (Some(bundle), false) => bundle,
        _ => return EXIT_INPUT_ERRORS,
    };
    let json = bundle.to_pretty_json();
    let written = if args.output.as_os_str() == "-" {
        std::io::stdout().lock().write_all(json.as_bytes())
    } else {
        std::fs::write(&args.output, json.as_bytes())
    };
    match written {
        Ok(()) => {
            if args.output.as_os_str() != "-" {
                eprintln!("wrote {} ({})", args.output.display(), bundle.digest);
            }
            EXIT_OK
        }
        Err(error) => {
            eprintln!("error: cannot write {}: {error}", args.output.display());
            EXIT_USAGE
        }
    }
}
