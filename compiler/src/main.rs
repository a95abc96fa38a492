//! The `meshc` binary: parse arguments, run the command on a thread with a roomy stack.

use std::process::ExitCode;

use clap::Parser;

use meshc::pipeline::STACK_BYTES;

fn main() -> ExitCode {
    let cli = meshc::cli::args::Cli::parse();
    let worker = std::thread::Builder::new()
        .stack_size(STACK_BYTES)
        .spawn(move || meshc::cli::run(cli));
    match worker.map(|handle| handle.join()) {
        Ok(Ok(code)) => code,
        _ => {
            eprintln!("error: internal compiler error");
            ExitCode::from(meshc::cli::EXIT_USAGE)
        }
    }
}
