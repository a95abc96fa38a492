//! Diagnostics: the model (code, severity, spans, help), the code table, and the renderers
//! for people (miette), machines (JSON) and CI.

pub mod codes;
pub mod diagnostic;
pub mod render_github;
pub mod render_human;
pub mod render_json;
pub mod render_sarif;
pub mod suggest;

pub use codes::Code;
pub use diagnostic::{sort_diagnostics, Diagnostic, Label, Severity};
