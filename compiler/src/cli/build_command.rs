//! `meshc build`: compile, stamp the serial, write the bundle (and its signature) atomically.
//!
//! The output is deterministic: identical sources, flags and `SOURCE_DATE_EPOCH` give identical
//! bytes (the serial is the only input besides the sources, and ed25519 signatures are
//! deterministic too). With `--sign`, `<output>.sig` is written before the bundle, so a server
//! serving the directory never shows a new bundle without its signature.

use std::io::Write;
use std::path::{Path, PathBuf};

use meshwork_bundle::bundle_file::{self, BundleEncoding};
use meshwork_bundle::signature::{sign_bundle_text, SignedBundle};

use crate::pipeline::{compile_paths_for_build, Build};

use super::args::BuildArgs;
use super::output::{fails, print_diagnostics, without_allowed};
use super::{EXIT_INPUT_ERRORS, EXIT_OK, EXIT_USAGE};

/// The reproducible-builds variable a serial defaults to (seconds since the epoch of the last
/// commit, in most CI set-ups: it grows with every commit on a branch).
const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// Runs `build`; returns the exit code.
pub fn run_build(args: &BuildArgs) -> u8 {
    let serial = match serial(args.serial, std::env::var(SOURCE_DATE_EPOCH).ok()) {
        Ok(serial) => serial,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_USAGE;
        }
    };
    let private_key = match &args.sign {
        Some(_) if args.output.as_os_str() == "-" => {
            eprintln!("error: --sign needs an output file (-o FILE) to write FILE.sig beside it");
            return EXIT_USAGE;
        }
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(error) => {
                eprintln!(
                    "error: cannot read the signing key {}: {error}",
                    path.display()
                );
                return EXIT_USAGE;
            }
        },
        None => None,
    };
    let encoding = BundleEncoding::for_path(&args.output);
    let Build {
        mut compilation,
        canonical_text,
    } = match compile_paths_for_build(&args.input.paths, serial, encoding) {
        Ok(build) => build,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    let diagnostics = match without_allowed(&compilation.diagnostics, &args.input.allow) {
        Ok(diagnostics) => diagnostics,
        Err(problem) => {
            eprintln!("error: {problem}");
            return EXIT_USAGE;
        }
    };
    print_diagnostics(&compilation.sources, &diagnostics, args.input.format);
    let (bundle, canonical_text) = match (
        compilation.bundle.take(),
        canonical_text,
        fails(&diagnostics, args.input.deny_warnings),
    ) {
        (Some(bundle), Some(text), false) => (bundle, text),
        _ => return EXIT_INPUT_ERRORS,
    };
    if args.output.as_os_str() == "-" {
        return match std::io::stdout()
            .lock()
            .write_all(bundle.to_pretty_json().as_bytes())
        {
            Ok(()) => EXIT_OK,
            Err(error) => {
                eprintln!("error: cannot write the bundle: {error}");
                EXIT_USAGE
            }
        };
    }
    let bytes = match encoding {
        // The text sealed, compressed as it is (on the emitting thread): no second printing.
        BundleEncoding::Zstd => canonical_text,
        BundleEncoding::Json => {
            drop(canonical_text);
            bundle.to_pretty_json().into_bytes()
        }
    };
    // The signature vouches for the digest and the length of the file's JSON text (a reader
    // decompresses no further than that).
    let signature = match private_key {
        None => None,
        Some(key) => {
            let signed = match bundle_file::text_length(&bytes) {
                Ok(text_length) => SignedBundle {
                    digest: bundle.digest.clone(),
                    text_length,
                },
                Err(error) => {
                    eprintln!("error: cannot read back the bundle to sign: {error}");
                    return EXIT_USAGE;
                }
            };
            match sign_bundle_text(&key, &signed) {
                Ok(signature) => Some(signature),
                Err(error) => {
                    let key = args.sign.as_deref().unwrap_or(Path::new(""));
                    eprintln!("error: {} is unusable: {error}", key.display());
                    return EXIT_USAGE;
                }
            }
        }
    };
    let signature_path = suffixed(&args.output, ".sig");
    if let Some(signature) = &signature {
        if let Err(error) = write_atomically(&signature_path, signature.as_bytes()) {
            eprintln!("error: cannot write {}: {error}", signature_path.display());
            return EXIT_USAGE;
        }
    }
    if let Err(error) = write_atomically(&args.output, &bytes) {
        eprintln!("error: cannot write {}: {error}", args.output.display());
        return EXIT_USAGE;
    }
    let signed = if signature.is_some() {
        format!(", signed: {}", signature_path.display())
    } else {
        String::new()
    };
    eprintln!(
        "wrote {} ({}, serial {}{signed})",
        args.output.display(),
        bundle.digest,
        bundle.serial
    );
    // The process ends here: returning the syntax trees and the bundle to the allocator piece
    // by piece would cost a tenth of a large build's time for nothing.
    std::mem::forget(compilation);
    std::mem::forget(bundle);
    EXIT_OK
}

/// The serial: `--serial`, else `SOURCE_DATE_EPOCH`, else 0.
fn serial(flag: Option<u64>, epoch: Option<String>) -> Result<u64, String> {
    match (flag, epoch) {
        (Some(serial), _) => Ok(serial),
        (None, Some(text)) if !text.trim().is_empty() => text.trim().parse().map_err(|_| {
            format!("{SOURCE_DATE_EPOCH}={text:?} is not a number of seconds; unset it or pass --serial")
        }),
        _ => Ok(0),
    }
}

/// `path` with `suffix` appended to its file name (`a.json` + `.sig` = `a.json.sig`).
fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`: a reader (a web
/// server, a meshd watching the file) sees the old file or the new one, never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = suffixed(path, &format!(".tmp-{}", std::process::id()));
    let written = std::fs::File::create(&temporary).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&temporary, path)) {
        Ok(()) => Ok(()),
        Err(error) => {
            let _ = std::fs::remove_file(&temporary);
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_then_source_date_epoch_then_zero() {
        assert_eq!(serial(Some(7), Some("100".into())), Ok(7));
        assert_eq!(serial(None, Some("1700000000".into())), Ok(1_700_000_000));
        assert_eq!(serial(None, Some(String::new())), Ok(0));
        assert_eq!(serial(None, None), Ok(0));
        assert!(serial(None, Some("yesterday".into())).is_err());
    }
}
