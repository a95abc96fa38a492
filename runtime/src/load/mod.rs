//! Loading a bundle: read it, check it against the schema and its digest, deserialize it.

pub mod bundle_check;
pub mod secrets;

pub use bundle_check::{check_bundle_bytes, read_bundle_file, BundleError, SchemaViolation};
