//! The whole compiler as one call: load sources, parse, check, emit.

use std::path::PathBuf;

use meshwork_bundle::bundle_file::{compress, BundleEncoding};
use meshwork_bundle::Bundle;

use crate::diagnostics::{sort_diagnostics, Diagnostic};
pub use crate::input::loader::InputError;
use crate::input::loader::{load_bytes, load_paths, load_text, LoadedProgram};
use crate::source::{FileId, SourceMap};
use crate::syntax::ast;

/// Everything one compiler run produced.
#[derive(Debug)]
pub struct Compilation {
    pub sources: SourceMap,
    /// Parsed files, sorted by path (so output never depends on argument order).
    pub files: Vec<(FileId, ast::File)>,
    /// Every diagnostic, sorted by location.
    pub diagnostics: Vec<Diagnostic>,
    /// The bundle, when there were no errors.
    pub bundle: Option<Bundle>,
}

impl Compilation {
    /// True when any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// The stack of the threads the compiler runs on (`meshc`'s own, and the one that emits while
/// the checks run). The compiler's recursion is bounded, but CEL parsing of a 64-level
/// expression is deep; a large stack keeps any input from overflowing it. Reserved, not
/// committed.
pub const STACK_BYTES: usize = 256 * 1024 * 1024;

/// What [`check_while_emitting`]'s emission produced: the sealed bundle, its diagnostics and,
/// for a build, its canonical text.
type Emitted = (Bundle, Vec<Diagnostic>, Option<Vec<u8>>);

/// Runs the checks on this thread while another lowers, seals and (for a build) prints the
/// bundle: the two read the same resolved program and graph and write nothing shared, and on a
/// large program each is about a third of the work. Emission runs whatever the checks find, so
/// its result is thrown away when they find an error (emission accepts any program that
/// resolved: it never relies on a check having passed).
fn check_while_emitting(
    files: &[(FileId, ast::File)],
    program: &crate::resolve::Program<'_>,
    graph: &crate::graph::ProgramGraph,
    sealing: Sealing,
) -> (Vec<Diagnostic>, Emitted) {
    let emit = || {
        let (mut emitted, diagnostics) = crate::emit::emit_unsealed(program.sources, files, graph);
        let text = match sealing {
            Sealing::Plain => {
                emitted.seal();
                None
            }
            Sealing::ForBuild { serial, encoding } => {
                emitted.serial = serial;
                let text = emitted.seal_to_canonical();
                // Compressed here, beside the checks, which take longer on a large program.
                Some(match encoding {
                    BundleEncoding::Zstd => compress(&text),
                    BundleEncoding::Json => text,
                })
            }
        };
        (emitted, diagnostics, text)
    };
    std::thread::scope(|scope| {
        let emitter = std::thread::Builder::new()
            .name("emit".to_string())
            .stack_size(STACK_BYTES)
            .spawn_scoped(scope, emit);
        let checks = crate::checks::run_all(program, graph);
        let emitted = match emitter {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No thread to be had: emit here, after the checks.
            Err(_) => emit(),
        };
        (checks, emitted)
    })
}

/// How the bundle of a compilation is sealed.
#[derive(Debug, Clone, Copy)]
enum Sealing {
    /// Sealed as it is.
    Plain,
    /// `serial` recorded first, and the sealed compact canonical text kept, compressed when
    /// `encoding` is zstd.
    ForBuild {
        serial: u64,
        encoding: BundleEncoding,
    },
}

/// What `meshc build` writes: the compilation and, when it has a bundle, the bundle's compact
/// canonical text (digest included), printed once while sealing, and compressed when the
/// build asked for zstd.
#[derive(Debug)]
pub struct Build {
    pub compilation: Compilation,
    pub canonical_text: Option<Vec<u8>>,
}

/// Compiles files and directories (every `.mesh` file under a directory) as one program.
/// Fails only for I/O problems with the paths themselves (exit code 2).
pub fn compile_paths(paths: &[PathBuf]) -> Result<Compilation, InputError> {
    Ok(finish(load_paths(paths)?, Sealing::Plain).0)
}

/// [`compile_paths`] for `meshc build`: the bundle records `serial` and its canonical text is
/// kept (in `encoding`: compressed for zstd).
pub fn compile_paths_for_build(
    paths: &[PathBuf],
    serial: u64,
    encoding: BundleEncoding,
) -> Result<Build, InputError> {
    let sealing = Sealing::ForBuild { serial, encoding };
    let (compilation, canonical_text) = finish(load_paths(paths)?, sealing);
    Ok(Build {
        compilation,
        canonical_text,
    })
}

/// Compiles one in-memory source (includes are still read from disk, relative to `path`).
pub fn compile_text(path: &str, text: &str) -> Compilation {
    finish(load_text(path, text), Sealing::Plain).0
}

/// Compiles one in-memory file given as bytes, checked as a file read from disk would be (not
/// UTF-8, control characters and oversize are located diagnostics).
pub fn compile_bytes(path: &str, bytes: &[u8]) -> Compilation {
    finish(load_bytes(path, bytes), Sealing::Plain).0
}

fn finish(program: LoadedProgram, sealing: Sealing) -> (Compilation, Option<Vec<u8>>) {
    let LoadedProgram {
        sources,
        files,
        mut diagnostics,
    } = program;
    let mut bundle = None;
    let mut canonical_text = None;
    if !diagnostics.iter().any(Diagnostic::is_error) {
        let program = crate::resolve::Program::new(&sources, &files);
        diagnostics.extend(crate::resolve::check_names(&program));
        let graph = crate::graph::build::build_graph(&program);
        if diagnostics.iter().any(Diagnostic::is_error) {
            // Every check still runs, so one run reports every problem; nothing is emitted.
            diagnostics.extend(crate::checks::run_all(&program, &graph));
        } else {
            let (checks, emitted) = check_while_emitting(&files, &program, &graph, sealing);
            diagnostics.extend(checks);
            // The bundle is kept only when neither the checks nor the emission found an error.
            if !diagnostics.iter().any(Diagnostic::is_error) {
                let (emitted, emit_diagnostics, text) = emitted;
                diagnostics.extend(emit_diagnostics);
                if !diagnostics.iter().any(Diagnostic::is_error) {
                    bundle = Some(emitted);
                    canonical_text = text;
                }
            }
        }
    }
    sort_diagnostics(&mut diagnostics);
    let compilation = Compilation {
        sources,
        files,
        diagnostics,
        bundle,
    };
    (compilation, canonical_text)
}
