//! Loads `.mesh` files (paths, directories, includes) into a [`SourceMap`] and parses them.

use std::path::PathBuf;

use crate::diagnostics::Diagnostic;
use crate::source::{FileId, SourceMap};
use crate::syntax::ast;

/// A command-line path that cannot be read (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: no .mesh files found")]
    Empty { path: String },
}

/// Files loaded and parsed, with the diagnostics found on the way.
#[derive(Debug, Default)]
pub struct LoadedProgram {
    pub sources: SourceMap,
    pub files: Vec<(FileId, ast::File)>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Loads every path (directories recursively) and the files they include.
pub fn load_paths(_paths: &[PathBuf]) -> Result<LoadedProgram, InputError> {
    todo!("loader")
}

/// Loads one in-memory file and what it includes.
pub fn load_text(_path: &str, _text: &str) -> LoadedProgram {
    todo!("loader")
}
