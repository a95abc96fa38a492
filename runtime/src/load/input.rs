//! What `meshd run` was given, and turning it into a checked bundle: a bundle file is checked
//! (schema, digest, and signature when a key is given); `.mesh` sources are compiled in-process
//! with the `meshc` library. Anything else is refused with a clear message.

use std::path::{Path, PathBuf};

use meshwork_bundle::Bundle;

use super::bundle_check::{
    read_bundle_file_to_serve, read_signed_bundle_file_to_serve, BundleError,
};
use super::remote::{BundleUrl, BundleUrlError};
use super::signature::{signature_path, SignatureError, SignedReadError, VerifyKey};

/// The program `meshd` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgramInput {
    /// A compiled bundle (`*.json`, or `*.json.zst` compressed).
    Bundle(PathBuf),
    /// `.mesh` files and directories of them, compiled as one program.
    Sources(Vec<PathBuf>),
    /// A bundle served over HTTP(S), polled (see [`super::remote`]).
    Remote(BundleUrl),
}

/// Why the input cannot be turned into a bundle.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Nothing was given.
    #[error(
        "no input: give a bundle (.json or .json.zst), a directory of .mesh files, or .mesh files"
    )]
    Empty,
    /// A path that does not exist.
    #[error("{} does not exist", .0.display())]
    Missing(PathBuf),
    /// A file that is neither a bundle nor a `.mesh` source.
    #[error("{} is neither a bundle (.json, .json.zst) nor a .mesh source", .0.display())]
    Unsupported(PathBuf),
    /// A bundle mixed with other inputs.
    #[error("a bundle runs alone: {} cannot be combined with other inputs", .0.display())]
    BundleNotAlone(PathBuf),
    /// A bundle URL that cannot be used.
    #[error(transparent)]
    Url(#[from] BundleUrlError),
    /// A bundle URL is loaded by fetching it (the reloader does), not read like a file.
    #[error("{0} is fetched over HTTP, not read from disk")]
    RemoteNotReadable(String),
    /// `--verify-key` given for sources, which carry no signature.
    #[error("--verify-key needs a signed bundle, but the input is .mesh sources")]
    SignatureNeedsBundle,
    /// The bundle file fails its checks.
    #[error("{} is not a usable bundle", path.display())]
    Bundle {
        /// The bundle file.
        path: PathBuf,
        /// What failed.
        source: BundleError,
    },
    /// The bundle's signature does not hold.
    #[error("{} is refused", path.display())]
    Signature {
        /// The bundle file.
        path: PathBuf,
        /// What failed.
        source: SignatureError,
    },
    /// The sources could not be read.
    #[error("cannot read the sources")]
    SourcesUnreadable(#[source] meshc::InputError),
    /// The sources have errors; `report` holds the rendered diagnostics.
    #[error("the sources do not compile ({errors} error(s))\n{report}")]
    Compile {
        /// The number of errors.
        errors: usize,
        /// The diagnostics as meshc prints them.
        report: String,
    },
}

impl InputError {
    /// The error of a bundle at `path` read under its signature.
    pub fn signed_read(path: &Path, error: SignedReadError<BundleError>) -> InputError {
        let path = path.to_path_buf();
        match error {
            SignedReadError::Signature(source) => InputError::Signature { path, source },
            SignedReadError::Bundle(source) => InputError::Bundle { path, source },
        }
    }
}

impl ProgramInput {
    /// Classifies command-line paths: one `.json` or `.zst` file is a bundle; directories and
    /// `.mesh` files are sources.
    pub fn classify(paths: &[PathBuf]) -> Result<ProgramInput, InputError> {
        if paths.is_empty() {
            return Err(InputError::Empty);
        }
        if let Some(url) = paths
            .iter()
            .find(|p| p.to_str().is_some_and(BundleUrl::is_url))
        {
            if paths.len() > 1 {
                return Err(InputError::BundleNotAlone(url.clone()));
            }
            return Ok(ProgramInput::Remote(BundleUrl::parse(
                url.to_str().unwrap_or_default(),
            )?));
        }
        for path in paths {
            if !path.exists() {
                return Err(InputError::Missing(path.clone()));
            }
            let is_bundle =
                path.is_file() && (has_extension(path, "json") || has_extension(path, "zst"));
            if is_bundle && paths.len() > 1 {
                return Err(InputError::BundleNotAlone(path.clone()));
            }
            if is_bundle {
                return Ok(ProgramInput::Bundle(path.clone()));
            }
            if path.is_file() && !has_extension(path, "mesh") {
                return Err(InputError::Unsupported(path.clone()));
            }
        }
        Ok(ProgramInput::Sources(paths.to_vec()))
    }

    /// The directory relative `file("…")` secrets are read from: the bundle file's directory, or
    /// the first source directory (or the first source file's directory); for a bundle URL,
    /// meshd's working directory.
    pub fn base_dir(&self) -> PathBuf {
        let first = match self {
            ProgramInput::Remote(_) => None,
            ProgramInput::Bundle(path) => path.parent(),
            ProgramInput::Sources(paths) => paths.first().map(|p| {
                if p.is_dir() {
                    p.as_path()
                } else {
                    p.parent().unwrap_or(p)
                }
            }),
        };
        match first {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// Produces the checked bundle, and the files it came from (for change detection).
    pub fn load(&self, verify_key: Option<&VerifyKey>) -> Result<LoadedInput, InputError> {
        match self {
            ProgramInput::Bundle(path) => {
                let bundle = match verify_key {
                    None => {
                        read_bundle_file_to_serve(path).map_err(|source| InputError::Bundle {
                            path: path.clone(),
                            source,
                        })?
                    }
                    // The signature first, on its own: the bundle is then read no further than
                    // what it vouches for.
                    Some(key) => key
                        .read_file_under(path, |signed| {
                            read_signed_bundle_file_to_serve(path, signed)
                        })
                        .map_err(|error| InputError::signed_read(path, error))?,
                };
                let mut files = vec![path.clone()];
                if verify_key.is_some() {
                    files.push(signature_path(path));
                }
                Ok(LoadedInput {
                    bundle,
                    files,
                    warnings: String::new(),
                })
            }
            ProgramInput::Sources(paths) => {
                if verify_key.is_some() {
                    return Err(InputError::SignatureNeedsBundle);
                }
                compile_sources(paths)
            }
            ProgramInput::Remote(url) => Err(InputError::RemoteNotReadable(url.to_string())),
        }
    }

    /// How the input is named in logs, metrics and the admin endpoint: the URL, the bundle
    /// file, or the source paths.
    pub fn describe(&self) -> String {
        match self {
            ProgramInput::Remote(url) => url.to_string(),
            ProgramInput::Bundle(path) => path.display().to_string(),
            ProgramInput::Sources(paths) => paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// A bundle ready to build runtime state from.
#[derive(Debug)]
pub struct LoadedInput {
    /// The checked bundle.
    pub bundle: Bundle,
    /// The files read (bundle and signature, or every source including includes).
    pub files: Vec<PathBuf>,
    /// Compiler warnings, rendered (empty for bundles or clean sources).
    pub warnings: String,
}

fn has_extension(path: &Path, extension: &str) -> bool {
    path.extension().is_some_and(|e| e == extension)
}

fn compile_sources(paths: &[PathBuf]) -> Result<LoadedInput, InputError> {
    let compilation = meshc::compile_paths(paths).map_err(InputError::SourcesUnreadable)?;
    let report = meshc::diagnostics::render_human::render_report(
        &compilation.sources,
        &compilation.diagnostics,
        false,
    );
    let files = compilation
        .sources
        .files()
        .map(|(_, file)| PathBuf::from(&file.path))
        .collect();
    match compilation.bundle {
        Some(bundle) if !compilation.has_errors() => Ok(LoadedInput {
            bundle,
            files,
            warnings: report,
        }),
        _ => Err(InputError::Compile {
            errors: compilation
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .count(),
            report,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_file_is_a_bundle_and_mesh_files_or_directories_are_sources() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let bundle = dir.join("b.json");
        let source = dir.join("a.mesh");
        std::fs::write(&bundle, "{}").unwrap();
        std::fs::write(&source, "").unwrap();
        assert_eq!(
            ProgramInput::classify(std::slice::from_ref(&bundle)).unwrap(),
            ProgramInput::Bundle(bundle.clone())
        );
        assert_eq!(
            ProgramInput::classify(&[source.clone(), dir.to_path_buf()]).unwrap(),
            ProgramInput::Sources(vec![source.clone(), dir.to_path_buf()])
        );
        assert!(matches!(
            ProgramInput::classify(&[bundle.clone(), source.clone()]),
            Err(InputError::BundleNotAlone(_))
        ));
    }

    #[test]
    fn other_files_and_missing_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let text = dir.join("notes.txt");
        std::fs::write(&text, "").unwrap();
        assert!(matches!(
            ProgramInput::classify(&[text]),
            Err(InputError::Unsupported(_))
        ));
        assert!(matches!(
            ProgramInput::classify(&[dir.join("nope.json")]),
            Err(InputError::Missing(_))
        ));
        assert!(matches!(
            ProgramInput::classify(&[]),
            Err(InputError::Empty)
        ));
    }

    #[test]
    fn sources_with_errors_are_refused_with_the_diagnostics() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let source = dir.join("broken.mesh");
        std::fs::write(&source, "gateway {").unwrap();
        let error = ProgramInput::Sources(vec![source]).load(None).unwrap_err();
        let InputError::Compile { errors, report } = error else {
            panic!("expected a compile error, got {error:?}");
        };
        assert!(errors > 0);
        assert!(report.contains("broken.mesh"), "{report}");
    }
}
