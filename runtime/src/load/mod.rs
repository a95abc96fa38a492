//! Loading a bundle: from a bundle file (schema, digest and optional signature checks), from a
//! URL polled over HTTP ([`remote`]) or from `.mesh` sources compiled in-process, and the
//! secrets they name.

pub mod bundle_check;
pub mod input;
pub mod memory_trim;
pub mod program_check;
pub mod remote;
pub mod signature;

/// Secrets are read with the decision core, which builds admission from them.
pub use meshwork_policy::secrets;

pub use bundle_check::{
    check_bundle_bytes, check_bundle_bytes_to_serve, check_signed_bytes_to_serve, read_bundle_file,
    read_bundle_file_to_serve, read_signed_bundle_file, read_signed_bundle_file_to_serve,
    BundleError, SchemaViolation,
};
pub use input::{InputError, LoadedInput, ProgramInput};
pub use signature::{generate_key_pair, sign_bundle, signature_path, SignatureError, VerifyKey};
