//! Fuzz the whole `meshc check` path: any bytes as a file through the loader (size, UTF-8,
//! control characters), the parser and the checks, then every renderer (human with and without
//! colour, JSON, SARIF, GitHub). Nothing may panic; every label lies inside the text shown.
//! Run: `cd compiler/fuzz && cargo fuzz run cli` (see compiler/fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshc::cli::args::Format;
use meshc::cli::output::render_diagnostics;

fuzz_target!(|data: &[u8]| {
    let compilation = meshc::compile_bytes("fuzz/input.mesh", data);
    let shown = compilation
        .sources
        .files()
        .map(|(_, f)| f.text.len())
        .max()
        .unwrap_or(0);
    for diagnostic in &compilation.diagnostics {
        for label in &diagnostic.labels {
            assert!(label.span.start <= label.span.end && label.span.end as usize <= shown);
        }
    }
    for format in [Format::Human, Format::Json, Format::Sarif, Format::Github] {
        for color in [false, true] {
            let text = render_diagnostics(
                &compilation.sources,
                &compilation.diagnostics,
                format,
                color,
            );
            assert!(compilation.diagnostics.is_empty() || !text.is_empty());
        }
    }
});
