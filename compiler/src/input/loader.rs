//! Loads `.mesh` files (paths, directories, includes) into a [`SourceMap`] and parses them.
//!
//! Command-line paths that cannot be read are [`InputError`]s (exit code 2). Everything found
//! inside the program — a missing include, an include cycle, bytes that are not UTF-8 — is a
//! located diagnostic (exit code 1).

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use crate::diagnostics::{codes, Diagnostic};
use crate::source::{FileId, SourceMap, Span};
use crate::syntax::ast;
use crate::syntax::parser::parse_file;

/// The largest source file accepted.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// A command-line path that cannot be read (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: no .mesh files found")]
    Empty { path: String },
}

/// Files loaded and parsed, with the diagnostics found on the way.
#[derive(Debug, Default)]
pub struct LoadedProgram {
    pub sources: SourceMap,
    /// Sorted by path.
    pub files: Vec<(FileId, ast::File)>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Loads every path (directories recursively) and the files they include. The result does not
/// depend on the order of `paths`.
pub fn load_paths(paths: &[PathBuf]) -> Result<LoadedProgram, InputError> {
    let roots = expand_paths(paths)?;
    let mut loader = Loader::default();
    for root in &roots {
        let text = read_root(Path::new(root))?;
        loader.load(root.clone(), text, &mut Vec::new());
    }
    Ok(loader.finish())
}

/// The files named by `paths`, a directory meaning every `.mesh` file under it: sorted, without
/// duplicates, as shown to users.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<String>, InputError> {
    let mut roots = BTreeSet::new();
    for path in paths {
        let metadata = std::fs::metadata(path).map_err(|source| InputError::Io {
            path: display_path(path),
            source,
        })?;
        if metadata.is_dir() {
            let before = roots.len();
            collect_mesh_files(path, &mut roots)?;
            if roots.len() == before {
                return Err(InputError::Empty {
                    path: display_path(path),
                });
            }
        } else {
            roots.insert(display_path(path));
        }
    }
    Ok(roots.into_iter().collect())
}

/// One file read from disk, not parsed and without its includes (what `meshc fmt` works on).
#[derive(Debug)]
pub struct ReadFile {
    pub sources: SourceMap,
    pub file: FileId,
    /// Why the text cannot be used: too large, not UTF-8, or holding control characters.
    pub problem: Option<Diagnostic>,
}

/// Reads `path` with the same checks as the compiler (size, UTF-8, control characters).
pub fn read_file(path: &str) -> Result<ReadFile, InputError> {
    let (text, problem) = decode(read_root(Path::new(path))?);
    let mut sources = SourceMap::default();
    let file = sources.add(path.to_string(), text);
    Ok(ReadFile {
        sources,
        file,
        problem: problem.map(|p| p.diagnostic(file)),
    })
}

/// Loads one in-memory file and what it includes.
pub fn load_text(path: &str, text: &str) -> LoadedProgram {
    load_bytes(path, text.as_bytes())
}

/// Loads one in-memory file given as bytes (checked like a file read from disk: size, UTF-8,
/// control characters) and what it includes.
pub fn load_bytes(path: &str, bytes: &[u8]) -> LoadedProgram {
    let mut loader = Loader::default();
    let content = if bytes.len() as u64 > MAX_FILE_BYTES {
        FileBytes::TooLarge(bytes.len() as u64)
    } else {
        FileBytes::Bytes(bytes.to_vec())
    };
    loader.load(display_path(Path::new(path)), content, &mut Vec::new());
    loader.finish()
}

/// Every `.mesh` file under `dir`, recursively (hidden entries and `*.test.mesh` test files
/// skipped).
fn collect_mesh_files(dir: &Path, out: &mut BTreeSet<String>) -> Result<(), InputError> {
    let entries = std::fs::read_dir(dir).map_err(|source| InputError::Io {
        path: display_path(dir),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| InputError::Io {
            path: display_path(dir),
            source,
        })?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let file_type = entry.file_type().map_err(|source| InputError::Io {
            path: display_path(&path),
            source,
        })?;
        if file_type.is_dir() {
            collect_mesh_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "mesh")
            && !super::test_files::is_test_file(&path)
        {
            out.insert(display_path(&path));
        }
    }
    Ok(())
}

/// File content, or the reason it could not be read.
pub(crate) enum FileBytes {
    Bytes(Vec<u8>),
    TooLarge(u64),
}

pub(crate) fn read_root(path: &Path) -> Result<FileBytes, InputError> {
    use std::io::Read;
    let io = |source| InputError::Io {
        path: display_path(path),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > MAX_FILE_BYTES {
        return Ok(FileBytes::TooLarge(size));
    }
    // The size on disk can lie (`/dev/zero`, a file still growing): never read past the limit.
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Ok(FileBytes::TooLarge(bytes.len() as u64));
    }
    Ok(FileBytes::Bytes(bytes))
}

/// A path as shown to users: relative to the working directory when under it, `/` separators,
/// `.` and `..` folded.
pub fn display_path(path: &Path) -> String {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let normal = normalize(&absolute);
    let shown = match std::env::current_dir() {
        Ok(cwd) => normal
            .strip_prefix(normalize(&cwd))
            .map(Path::to_path_buf)
            .unwrap_or(normal),
        Err(_) => normal,
    };
    shown.to_string_lossy().replace('\\', "/")
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[derive(Default)]
struct Loader {
    sources: SourceMap,
    files: Vec<(FileId, ast::File)>,
    diagnostics: Vec<Diagnostic>,
}

impl Loader {
    /// Loads `path` (already read as `bytes`) unless loaded before; `stack` holds the includes
    /// being followed, to find cycles.
    fn load(&mut self, path: String, bytes: FileBytes, stack: &mut Vec<String>) -> FileId {
        if let Some(id) = self.sources.find(&path) {
            return id;
        }
        let (text, problem) = decode(bytes);
        let id = self.sources.add(path.clone(), text);
        if let Some(problem) = problem {
            self.diagnostics.push(problem.diagnostic(id));
            self.files.push((
                id,
                ast::File {
                    items: vec![],
                    comments: vec![],
                },
            ));
            return id;
        }
        let (file, diagnostics) = parse_file(id, &self.sources.file(id).text);
        self.diagnostics.extend(diagnostics);
        stack.push(path.clone());
        for item in &file.items {
            if let ast::Item::Include(include) = item {
                self.include(&path, include, stack);
            }
        }
        stack.pop();
        self.files.push((id, file));
        id
    }

    fn include(&mut self, from: &str, include: &ast::Include, stack: &mut Vec<String>) {
        let base = Path::new(from).parent().unwrap_or(Path::new(""));
        let target = display_path(&base.join(&include.path.node));
        if let Some(position) = stack.iter().position(|p| *p == target) {
            let chain = stack[position..]
                .iter()
                .chain([&target])
                .cloned()
                .collect::<Vec<_>>()
                .join(" → ");
            self.diagnostics.push(
                Diagnostic::error(&codes::INCLUDE_CYCLE, format!("include cycle: {chain}"))
                    .with_label(include.path.span, "this include leads back here")
                    .with_help("remove one of the includes; each file is compiled once"),
            );
            return;
        }
        if self.sources.find(&target).is_some() {
            return;
        }
        match read_root(Path::new(&target)) {
            Ok(bytes) => {
                self.load(target, bytes, stack);
            }
            Err(error) => {
                let reason = match &error {
                    InputError::Io { source, .. } => source.to_string(),
                    InputError::Empty { .. } => "no .mesh files".to_string(),
                };
                self.diagnostics.push(
                    Diagnostic::error(
                        &codes::INCLUDE_NOT_FOUND,
                        format!("cannot include \"{}\": {reason}", include.path.node),
                    )
                    .with_label(include.path.span, format!("looked for {target}"))
                    .with_help("include paths are relative to the including file"),
                );
            }
        }
    }

    fn finish(mut self) -> LoadedProgram {
        let sources = &self.sources;
        self.files
            .sort_by(|a, b| sources.file(a.0).path.cmp(&sources.file(b.0).path));
        LoadedProgram {
            sources: self.sources,
            files: self.files,
            diagnostics: self.diagnostics,
        }
    }
}

/// The text of a file, or the reason it cannot be compiled (with replacement characters so the
/// diagnostic can still show it).
pub(crate) fn decode(bytes: FileBytes) -> (String, Option<Problem>) {
    match bytes {
        FileBytes::TooLarge(size) => (String::new(), Some(Problem::TooLarge(size))),
        FileBytes::Bytes(bytes) => match String::from_utf8(bytes) {
            Ok(text) => {
                let control = text
                    .char_indices()
                    .find(|(_, c)| c.is_control() && !matches!(c, '\n' | '\r' | '\t'));
                (text, control.map(|(at, c)| Problem::Control(at, c)))
            }
            Err(error) => {
                // Everything before the first invalid byte is the same in the shown text, so
                // `at` is an offset into both; the byte itself is shown as U+FFFD.
                let at = error.utf8_error().valid_up_to();
                let byte = error.as_bytes()[at];
                (
                    String::from_utf8_lossy(error.as_bytes()).into_owned(),
                    Some(Problem::Utf8 { at, byte }),
                )
            }
        },
    }
}

/// Why a file's text cannot be compiled.
pub(crate) enum Problem {
    TooLarge(u64),
    /// The first invalid byte: its offset and value.
    Utf8 {
        at: usize,
        byte: u8,
    },
    Control(usize, char),
}

impl Problem {
    pub(crate) fn diagnostic(&self, file: FileId) -> Diagnostic {
        match self {
            Problem::TooLarge(size) => Diagnostic::error(
                &codes::FILE_TOO_LARGE,
                format!("file is larger than the limit of {MAX_FILE_BYTES} bytes"),
            )
            .with_label(Span::new(file, 0, 0), format!("{size} bytes or more"))
            .with_help("split the program into several files"),
            Problem::Utf8 { at, byte } => Diagnostic::error(
                &codes::INVALID_UTF8,
                format!("file is not valid UTF-8: byte 0x{byte:02X} at offset {at}"),
            )
            .with_label(
                Span::new(file, *at, *at + char::REPLACEMENT_CHARACTER.len_utf8()),
                "invalid byte here (shown as U+FFFD)",
            )
            .with_help("save the file as UTF-8"),
            Problem::Control(at, c) => Diagnostic::error(
                &codes::CONTROL_CHARACTER,
                format!("control character U+{:04X} in source", *c as u32),
            )
            .with_label(Span::new(file, *at, *at + c.len_utf8()), "here")
            .with_help("remove it; is this a binary file?"),
        }
    }
}
