//! Writes the generated benchmark program (see `benches/support/generated_program.rs`) to standard output.
//!
//! `cargo run --release -p meshc --example generate_program -- ROUTES [--listen ADDR]
//! [--upstream ADDR] [--rate RATE] [--timeout DURATION]`
//! `--upstream` points every service at one address (for runs that forward for real); `--rate`
//! replaces `100/min` (a load run needs more); `--timeout` replaces the services' `2s` (two
//! bundles of the same routes for reload runs).

#[path = "../benches/support/generated_program.rs"]
mod generated_program;

use std::io::Write;
use std::process::ExitCode;

use generated_program::{generate_program, ProgramShape};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let usage = "usage: generate_program ROUTES [--listen ADDR] [--upstream ADDR] [--rate RATE] [--timeout DURATION]";
    let Some(routes) = args.next().and_then(|n| n.parse().ok()) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let mut shape = ProgramShape::new(routes);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--listen", Some(address)) => shape.listen = address,
            ("--upstream", Some(address)) => shape.upstream = Some(address),
            ("--rate", Some(rate)) => shape.rate = rate,
            ("--timeout", Some(timeout)) => shape.timeout = timeout,
            _ => {
                eprintln!("{usage}");
                return ExitCode::from(2);
            }
        }
    }
    let text = generate_program(&shape);
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(1)
        }
    }
}
