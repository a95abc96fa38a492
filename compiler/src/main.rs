//! The `meshc` binary: parse arguments, run the command on a thread with a roomy stack.

use std::process::ExitCode;

use clap::Parser;

use meshc::pipeline::STACK_BYTES;

fn main() -> ExitCode {
    grow_the_heap_in_large_steps();
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

/// glibc extends a thread's heap by what one allocation needs plus 128 KiB, with an `mprotect`
/// call each time: a build of 100 000 routes touches about 700 MB and spent a tenth of its CPU
/// growing heaps that way. 64 MiB steps cost no memory until touched (meshc is short-lived).
fn grow_the_heap_in_large_steps() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of the allocator; no allocation has a pointer to it.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}
