//! The front end: text → [`ast::File`], with every independent syntax error reported.

pub mod ast;
pub mod cel_scan;
pub mod lexical;
pub mod literals;
pub mod parser;
