//! The front end: text → [`ast::File`], with every independent syntax error reported.

pub mod ast;
pub mod ast_queries;
pub use meshwork_policy::cel_scan;
pub mod parser;
pub mod test_ast;
