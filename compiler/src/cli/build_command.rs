//! `meshc build`: compile and write the bundle.

use std::io::Write;

use meshwork_bundle::bundle_file::{encode, BundleEncoding};

use crate::pipeline::compile_paths;

use super::args::BuildArgs;
use super::output::{fails, print_diagnostics};
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
    print_diagnostics(
        &compilation.sources,
        &compilation.diagnostics,
        args.input.format,
    );
    let bundle = match (
        &compilation.bundle,
        fails(&compilation.diagnostics, args.input.deny_warnings),
    ) {
        (Some(bundle), false) => bundle,
        _ => return EXIT_INPUT_ERRORS,
    };
    let written = if args.output.as_os_str() == "-" {
        std::io::stdout()
            .lock()
            .write_all(bundle.to_pretty_json().as_bytes())
    } else {
        let encoding = BundleEncoding::for_path(&args.output);
        std::fs::write(&args.output, encode(bundle, encoding))
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
