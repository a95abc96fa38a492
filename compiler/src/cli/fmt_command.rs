//! `meshc fmt`: rewrite `.mesh` files in the canonical layout, or with `--check` show what
//! would change.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::fmt::{format_source, FormatError};
use crate::input::loader::{expand_paths, read_file, ReadFile};

use super::args::Format;
use super::output::print_diagnostics;
use super::{EXIT_INPUT_ERRORS, EXIT_OK, EXIT_USAGE};

/// `meshc fmt`.
#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Files or directories (every .mesh file under a directory).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Write nothing: print a unified diff of what would change, exit 1 if any file would.
    #[arg(long)]
    pub check: bool,
    /// How diagnostics of files that do not parse are printed.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// What happened to one file.
enum Outcome {
    Unchanged,
    /// Rewritten, or with `--check` would be.
    Changed,
    /// Not parsed; diagnostics printed, nothing written.
    Errors,
    /// Could not be read or written, or the formatter refused its own output.
    Failed,
}

/// Runs `fmt`; returns the exit code.
pub fn run_fmt(args: &FmtArgs) -> u8 {
    let files = match expand_paths(&args.paths) {
        Ok(files) => files,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    let outcomes: Vec<Outcome> = files.iter().map(|path| format_one(path, args)).collect();
    let changed = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Changed))
        .count();
    if args.check && changed > 0 {
        eprintln!("{changed} of {} file(s) would be reformatted", files.len());
    } else if !args.check && changed > 0 {
        eprintln!("reformatted {changed} of {} file(s)", files.len());
    }
    if outcomes.iter().any(|o| matches!(o, Outcome::Failed)) {
        EXIT_USAGE
    } else if outcomes.iter().any(|o| matches!(o, Outcome::Errors)) || (args.check && changed > 0) {
        EXIT_INPUT_ERRORS
    } else {
        EXIT_OK
    }
}

fn format_one(path: &str, args: &FmtArgs) -> Outcome {
    if crate::input::test_files::is_test_file(std::path::Path::new(path)) {
        // Named directly (a directory's test files are skipped): say so rather than report every
        // `test` block as a syntax error of a program.
        eprintln!("error: {path}: meshc fmt formats programs; test files (*.test.mesh) are left as written");
        return Outcome::Failed;
    }
    let ReadFile {
        sources,
        file,
        problem,
    } = match read_file(path) {
        Ok(read) => read,
        Err(error) => {
            eprintln!("error: {error}");
            return Outcome::Failed;
        }
    };
    if let Some(problem) = problem {
        print_diagnostics(&sources, &[problem], args.format);
        return Outcome::Errors;
    }
    let original = &sources.file(file).text;
    let formatted = match format_source(file, original) {
        Ok(formatted) => formatted,
        Err(FormatError::Syntax(mut diagnostics)) => {
            crate::diagnostics::sort_diagnostics(&mut diagnostics);
            print_diagnostics(&sources, &diagnostics, args.format);
            return Outcome::Errors;
        }
        Err(error @ FormatError::Unstable(_)) => {
            eprintln!("error: {path}: {error}");
            return Outcome::Failed;
        }
    };
    if formatted == *original {
        return Outcome::Unchanged;
    }
    if args.check {
        let diff = similar::TextDiff::from_lines(original.as_str(), formatted.as_str())
            .unified_diff()
            .context_radius(3)
            .header(path, &format!("{path} (formatted)"))
            .to_string();
        let _ = std::io::stdout().lock().write_all(diff.as_bytes());
        return Outcome::Changed;
    }
    match replace_file(Path::new(path), &formatted) {
        Ok(()) => Outcome::Changed,
        Err(error) => {
            eprintln!("error: cannot write {path}: {error}");
            Outcome::Failed
        }
    }
}

/// Writes `text` beside `path` and renames it over, so a crash never leaves half a file; the
/// file keeps its permissions.
fn replace_file(path: &Path, text: &str) -> std::io::Result<()> {
    let permissions = std::fs::metadata(path)?.permissions();
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".meshc-fmt.tmp");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, text)?;
    std::fs::set_permissions(&temporary, permissions)?;
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}
