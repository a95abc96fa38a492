//! The nom parser: text → [`ast::File`] plus syntax diagnostics.

use crate::diagnostics::Diagnostic;
use crate::source::FileId;
use crate::syntax::ast;

/// Parses one file. Always returns a tree (possibly partial) and every independent error found.
pub fn parse_file(_file: FileId, _text: &str) -> (ast::File, Vec<Diagnostic>) {
    todo!("parser")
}
