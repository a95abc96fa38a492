//! `meshc fmt`: one canonical layout for `.mesh` sources.

use crate::syntax::ast;

/// Prints `file` (parsed from `source`) in canonical layout, keeping comments.
pub fn format_file(_file: &ast::File, _source: &str) -> String {
    todo!("fmt")
}
