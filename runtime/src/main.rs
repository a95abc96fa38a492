//! The `meshd` command line. The work lives in the library; this file parses arguments,
//! prints results and chooses the exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use meshd::load::{read_bundle_file, BundleError};

/// The Meshwork runtime.
#[derive(Debug, Parser)]
#[command(name = "meshd", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a bundle against the schema and its digest without running it.
    Validate {
        /// The bundle file (JSON).
        bundle: PathBuf,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Validate { bundle } => validate(&bundle),
    }
}

fn validate(path: &std::path::Path) -> ExitCode {
    match read_bundle_file(path) {
        Ok(bundle) => {
            println!(
                "ok: {} {} ({} gateways, {} routes, {} services, {} streams)",
                path.display(),
                bundle.digest,
                bundle.gateways.len(),
                bundle.route_count(),
                bundle.services.len(),
                bundle.streams.len()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            let code = error.exit_code();
            report(path, error);
            ExitCode::from(code)
        }
    }
}

fn report(path: &std::path::Path, error: BundleError) {
    let violations = match &error {
        BundleError::Schema(violations) => violations.clone(),
        _ => Vec::new(),
    };
    let error =
        anyhow::Error::new(error).context(format!("{} is not a usable bundle", path.display()));
    eprintln!("error: {error:#}");
    for violation in violations {
        let pointer = if violation.pointer.is_empty() {
            "/"
        } else {
            &violation.pointer
        };
        eprintln!("  at {pointer}: {}", violation.message);
    }
}
