//! `meshc test`: compile the program, parse its `*.test.mesh` files, run every test with the
//! runtime's decision code; exit 1 when a test fails.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::diagnostics::{sort_diagnostics, Diagnostic};
use crate::input::test_files::{load_tests, split_test_paths};
use crate::pipeline::compile_paths;
use crate::test_runner::render::{render_human, render_json, render_junit};
use crate::test_runner::run_tests;

use super::args::Format;
use super::output::print_diagnostics;
use super::{EXIT_INPUT_ERRORS, EXIT_OK, EXIT_USAGE};

/// `meshc test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Program files and directories; a directory's `*.test.mesh` files are its tests, and test
    /// files may also be named directly.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TestFormat::Human)]
    pub format: TestFormat,
    /// Also list the routes, mesh rules, admission steps and streams no test reached.
    #[arg(long)]
    pub coverage: bool,
    /// Exit 1 when the tests reach less than this share (in percent) of the routes, mesh rules,
    /// admission steps and streams, as `opa test --threshold` does (implies --coverage).
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent)]
    pub coverage_min: Option<f64>,
}

fn parse_percent(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if (0.0..=100.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is not between 0 and 100"))
    }
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TestFormat {
    /// Text for people.
    Human,
    /// One JSON document.
    Json,
    /// JUnit XML for CI systems.
    Junit,
}

/// Runs `test`; returns the exit code.
pub fn run_test(args: &TestArgs) -> u8 {
    let (program_paths, test_paths) = match split_test_paths(&args.paths) {
        Ok(split) => split,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    if test_paths.is_empty() {
        eprintln!(
            "error: no *.test.mesh files in {}",
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return EXIT_USAGE;
    }
    let compilation = match compile_paths(&program_paths) {
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
    let tests = match load_tests(&test_paths) {
        Ok(tests) => tests,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    if !tests.diagnostics.is_empty() {
        let mut diagnostics: Vec<Diagnostic> = tests.diagnostics.clone();
        sort_diagnostics(&mut diagnostics);
        print_diagnostics(&tests.sources, &diagnostics, Format::Human);
        return EXIT_INPUT_ERRORS;
    }
    let with_coverage = args.coverage || args.coverage_min.is_some();
    let report = match run_tests(bundle, &tests.sources, &tests.files, with_coverage) {
        Ok(report) => report,
        Err(mut diagnostics) => {
            sort_diagnostics(&mut diagnostics);
            print_diagnostics(&tests.sources, &diagnostics, Format::Human);
            return EXIT_INPUT_ERRORS;
        }
    };
    let text = match args.format {
        TestFormat::Human => render_human(&report),
        TestFormat::Json => render_json(&report),
        TestFormat::Junit => render_junit(&report),
    };
    if std::io::stdout().lock().write_all(text.as_bytes()).is_err() {
        return EXIT_USAGE;
    }
    let below_minimum = match (args.coverage_min, &report.coverage) {
        (Some(minimum), Some(coverage)) if coverage.percent() < minimum => {
            eprintln!(
                "meshc test: coverage {:.1}% is below the minimum {minimum}%",
                coverage.percent()
            );
            true
        }
        _ => false,
    };
    if report.succeeded() && !below_minimum {
        EXIT_OK
    } else {
        EXIT_INPUT_ERRORS
    }
}
