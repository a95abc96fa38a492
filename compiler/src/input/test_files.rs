//! Test files (`*.test.mesh`): found beside the program (a directory's test files are its
//! tests), read with the same checks as program files, and parsed with the test grammar.
//! Program loading skips them, so `meshc check`, `meshc build` and `meshd run` never see tests.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::diagnostics::Diagnostic;
use crate::source::{FileId, SourceMap};
use crate::syntax::parser::test_file::parse_test_file;
use crate::syntax::test_ast::TestFile;

use super::loader::{decode, display_path, read_root, InputError};

/// The file name ending that marks a test file.
pub const TEST_SUFFIX: &str = ".test.mesh";

/// Whether `path` names a test file.
pub fn is_test_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(TEST_SUFFIX))
}

/// Splits command-line paths into the program's (files and directories) and the test files:
/// those named directly and those under the directories.
pub fn split_test_paths(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<String>), InputError> {
    let mut program = Vec::new();
    let mut tests = BTreeSet::new();
    for path in paths {
        let metadata = std::fs::metadata(path).map_err(|source| InputError::Io {
            path: display_path(path),
            source,
        })?;
        if metadata.is_dir() {
            collect_test_files(path, &mut tests)?;
            program.push(path.clone());
        } else if is_test_file(path) {
            tests.insert(display_path(path));
        } else {
            program.push(path.clone());
        }
    }
    Ok((program, tests.into_iter().collect()))
}

fn collect_test_files(dir: &Path, out: &mut BTreeSet<String>) -> Result<(), InputError> {
    let io = |source| InputError::Io {
        path: display_path(dir),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type().map_err(io)?.is_dir() {
            collect_test_files(&path, out)?;
        } else if is_test_file(&path) {
            out.insert(display_path(&path));
        }
    }
    Ok(())
}

/// Test files read and parsed.
#[derive(Debug, Default)]
pub struct LoadedTests {
    pub sources: SourceMap,
    /// Sorted by path.
    pub files: Vec<(FileId, TestFile)>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads and parses every test file (paths as [`split_test_paths`] returns them).
pub fn load_tests(paths: &[String]) -> Result<LoadedTests, InputError> {
    let mut loaded = LoadedTests::default();
    for path in paths {
        let (text, problem) = decode(read_root(Path::new(path))?);
        let id = loaded.sources.add(path.clone(), text);
        if let Some(problem) = problem {
            loaded.diagnostics.push(problem.diagnostic(id));
            continue;
        }
        let (file, diagnostics) = parse_test_file(id, &loaded.sources.file(id).text);
        loaded.diagnostics.extend(diagnostics);
        loaded.files.push((id, file));
    }
    Ok(loaded)
}
