//! The whole compiler as one call: load sources, parse, check, emit.

use std::path::PathBuf;

use meshwork_bundle::Bundle;

use crate::diagnostics::{sort_diagnostics, Diagnostic};
pub use crate::input::loader::InputError;
use crate::input::loader::{load_bytes, load_paths, load_text, LoadedProgram};
use crate::source::{FileId, SourceMap};
use crate::syntax::ast;

/// Everything one compiler run produced.
#[derive(Debug)]
pub struct Compilation {
    pub sources: SourceMap,
    /// Parsed files, sorted by path (so output never depends on argument order).
    pub files: Vec<(FileId, ast::File)>,
    /// Every diagnostic, sorted by location.
    pub diagnostics: Vec<Diagnostic>,
    /// The bundle, when there were no errors.
    pub bundle: Option<Bundle>,
}

impl Compilation {
    /// True when any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Compiles files and directories (every `.mesh` file under a directory) as one program.
/// Fails only for I/O problems with the paths themselves (exit code 2).
pub fn compile_paths(paths: &[PathBuf]) -> Result<Compilation, InputError> {
    Ok(finish(load_paths(paths)?))
}

/// Compiles one in-memory source (includes are still read from disk, relative to `path`).
pub fn compile_text(path: &str, text: &str) -> Compilation {
    finish(load_text(path, text))
}

/// Compiles one in-memory file given as bytes, checked as a file read from disk would be (not
/// UTF-8, control characters and oversize are located diagnostics).
pub fn compile_bytes(path: &str, bytes: &[u8]) -> Compilation {
    finish(load_bytes(path, bytes))
}

fn finish(program: LoadedProgram) -> Compilation {
    let LoadedProgram {
        sources,
        files,
        mut diagnostics,
    } = program;
    let mut bundle = None;
    if !diagnostics.iter().any(Diagnostic::is_error) {
        let program = crate::resolve::Program::new(&sources, &files);
        diagnostics.extend(crate::resolve::check_names(&program));
        let graph = crate::graph::build::build_graph(&program);
        diagnostics.extend(crate::checks::run_all(&program, &graph));
        if !diagnostics.iter().any(Diagnostic::is_error) {
            let (emitted, emit_diagnostics) =
                crate::emit::emit_bundle_with_graph(&sources, &files, &graph);
            diagnostics.extend(emit_diagnostics);
            if !diagnostics.iter().any(Diagnostic::is_error) {
                bundle = Some(emitted);
            }
        }
    }
    sort_diagnostics(&mut diagnostics);
    Compilation {
        sources,
        files,
        diagnostics,
        bundle,
    }
}
