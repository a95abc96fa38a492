//! The `meshc` command line: `check`, `build`, `fmt`, `graph`, `explain`, `who-can`, `diff`, `test`, `codes`.

pub mod args;
pub mod build_command;
pub mod check_command;
pub mod diff_command;
pub mod explain_command;
pub mod fmt_command;
pub mod graph_command;
pub mod output;
pub mod program_input;
pub mod test_command;
pub mod who_can_command;

use std::process::ExitCode;

use args::{Cli, Command};

/// Exit code: success (warnings allowed).
pub const EXIT_OK: u8 = 0;
/// Exit code: the input has errors.
pub const EXIT_INPUT_ERRORS: u8 = 1;
/// Exit code: usage or I/O error.
pub const EXIT_USAGE: u8 = 2;

/// Runs one parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let code = match cli.command {
        Command::Check(args) => check_command::run_check(&args),
        Command::Build(args) => build_command::run_build(&args),
        Command::Fmt(args) => fmt_command::run_fmt(&args),
        Command::Explain(args) => explain_command::run_explain(&args),
        Command::Graph(args) => graph_command::run_graph(&args),
        Command::WhoCan(args) => who_can_command::run_who_can(&args),
        Command::Diff(args) => diff_command::run_diff(&args),
        Command::Test(args) => test_command::run_test(&args),
        Command::Codes { markdown } => {
            print!("{}", crate::catalog::render_table(markdown));
            EXIT_OK
        }
    };
    ExitCode::from(code)
}
