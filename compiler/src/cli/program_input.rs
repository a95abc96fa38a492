//! The program a command reads: `.mesh` files and directories (compiled here, diagnostics
//! printed), or one bundle written by `meshc build` (its digest checked).

use std::path::{Path, PathBuf};

use meshwork_bundle::Bundle;

use crate::pipeline::compile_paths;

use super::args::Format;
use super::output::print_diagnostics;
use super::{EXIT_INPUT_ERRORS, EXIT_USAGE};

/// Whether `paths` name one bundle file rather than sources.
pub fn is_bundle_path(paths: &[PathBuf]) -> bool {
    matches!(paths, [one] if one.extension().is_some_and(|e| e == "json") && one.is_file())
}

/// Reads a bundle file: JSON of the bundle's types with a digest that matches its content.
pub fn read_bundle(path: &Path) -> Result<Bundle, (u8, String)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| (EXIT_USAGE, format!("{}: {e}", path.display())))?;
    let bundle = Bundle::from_json(&text).map_err(|e| {
        (
            EXIT_INPUT_ERRORS,
            format!("{}: not a Meshwork bundle: {e}", path.display()),
        )
    })?;
    bundle
        .verify_digest()
        .map_err(|e| (EXIT_INPUT_ERRORS, format!("{}: {e}", path.display())))?;
    Ok(bundle)
}

/// The bundle of `paths` (sources or one bundle file), or the exit code after printing why
/// there is none (diagnostics in human form on standard error).
pub fn load_bundle(paths: &[PathBuf]) -> Result<Bundle, u8> {
    if is_bundle_path(paths) {
        return read_bundle(&paths[0]).map_err(|(code, message)| {
            eprintln!("error: {message}");
            code
        });
    }
    let compilation = compile_paths(paths).map_err(|error| {
        eprintln!("error: {error}");
        EXIT_USAGE
    })?;
    print_diagnostics(
        &compilation.sources,
        &compilation.diagnostics,
        Format::Human,
    );
    compilation.bundle.ok_or(EXIT_INPUT_ERRORS)
}
