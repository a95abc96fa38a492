//! Source files and spans: the bottom of the pipeline, shared by every stage.

pub mod source_map;
pub mod span;

pub use source_map::{LineCol, SourceFile, SourceMap};
pub use span::{FileId, Span, Spanned};
