//! Any bytes through the whole front end and every renderer (human with and without colour,
//! JSON, SARIF, GitHub), in process: nothing panics, every error is located inside the file, and
//! every renderer produces well-formed output. `bad_input.rs` does the same through the binary.

use meshc::cli::args::Format;
use meshc::cli::output::render_diagnostics;
use meshc::Compilation;
use proptest::prelude::*;

const SEED_PROGRAM: &[u8] = include_bytes!("fixtures/seed_program.mesh");
const FORMATS: [Format; 4] = [Format::Human, Format::Json, Format::Sarif, Format::Github];

/// Compiles `bytes` as an in-memory file and renders its diagnostics every way.
fn check_every_renderer(bytes: &[u8]) {
    let path = std::env::temp_dir().join("meshc-any-bytes/input.mesh");
    let compilation = meshc::compile_bytes(&path.to_string_lossy(), bytes);
    let text_len = compilation
        .sources
        .files()
        .map(|(_, file)| file.text.len())
        .max()
        .unwrap_or(0);
    for diagnostic in &compilation.diagnostics {
        for label in &diagnostic.labels {
            assert!(
                label.span.start <= label.span.end && label.span.end as usize <= text_len,
                "label {:?} outside the shown text of {text_len} bytes",
                label.span
            );
        }
    }
    for format in FORMATS {
        for color in [false, true] {
            let text = render_diagnostics(
                &compilation.sources,
                &compilation.diagnostics,
                format,
                color,
            );
            assert_well_formed(&compilation, format, &text);
        }
    }
}

fn assert_well_formed(compilation: &Compilation, format: Format, text: &str) {
    let diagnostics = &compilation.diagnostics;
    match format {
        Format::Human => {
            for diagnostic in diagnostics {
                assert!(text.contains(diagnostic.code.id), "{text}");
            }
        }
        Format::Json => {
            let lines: Vec<serde_json::Value> = text
                .lines()
                .map(|line| serde_json::from_str(line).expect("each line is JSON"))
                .collect();
            assert_eq!(lines.len(), diagnostics.len());
            for line in &lines {
                assert!(line["line"].as_u64().is_some_and(|l| l >= 1), "{line}");
                assert!(line["column"].as_u64().is_some_and(|c| c >= 1), "{line}");
            }
        }
        Format::Sarif => {
            let log: serde_json::Value = serde_json::from_str(text).expect("SARIF is JSON");
            let results = log["runs"][0]["results"].as_array().expect("results");
            assert_eq!(results.len(), diagnostics.len());
        }
        Format::Github => {
            assert_eq!(text.lines().count(), diagnostics.len(), "{text}");
            assert!(text.lines().all(|l| l.starts_with("::")), "{text}");
        }
    }
}

/// The seed program with `bytes` written over it at `at` (so the result is mostly valid
/// syntax with invalid UTF-8, control bytes or truncated characters somewhere inside).
fn splice(at: usize, bytes: &[u8], cut: usize) -> Vec<u8> {
    let mut program = SEED_PROGRAM.to_vec();
    let at = at % (program.len() + 1);
    let end = (at + cut).min(program.len());
    program.splice(at..end, bytes.iter().copied());
    program
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_render_every_way_without_panicking(
        bytes in prop::collection::vec(any::<u8>(), 0..2048)
    ) {
        check_every_renderer(&bytes);
    }

    #[test]
    fn a_program_with_arbitrary_bytes_spliced_in_renders_every_way(
        at in any::<usize>(),
        bytes in prop::collection::vec(any::<u8>(), 1..8),
        cut in 0usize..4,
    ) {
        check_every_renderer(&splice(at, &bytes, cut));
    }
}

#[test]
fn an_invalid_byte_inside_a_line_is_located_on_the_replacement_character() {
    // The original panic: the label pointed into the middle of the U+FFFD the byte is shown as.
    let path = std::env::temp_dir().join("meshc-any-bytes/latin1.mesh");
    let compilation = meshc::compile_bytes(
        &path.to_string_lossy(),
        b"gateway g {\n  listen \"\xff\xfe:80\" }\n\xc3",
    );
    let [diagnostic] = compilation.diagnostics.as_slice() else {
        panic!("{:?}", compilation.diagnostics);
    };
    assert_eq!(diagnostic.code.id, "E0005");
    assert!(diagnostic.message.contains("byte 0xFF at offset 22"));
    let at = compilation.sources.line_col(diagnostic.labels[0].span);
    assert_eq!((at.line, at.column), (2, 11));
    let human = render_diagnostics(
        &compilation.sources,
        &compilation.diagnostics,
        Format::Human,
        false,
    );
    assert!(human.contains("latin1.mesh:2:11"), "{human}");
    assert!(human.contains("invalid byte here"), "{human}");
}

#[test]
fn every_single_byte_and_every_truncated_character_renders() {
    for byte in 0..=255u8 {
        check_every_renderer(&[byte]);
        check_every_renderer(&splice(40, &[byte], 1));
    }
    for character in ['é', '€', '𝄞'] {
        let mut encoded = [0u8; 4];
        let encoded = character.encode_utf8(&mut encoded).as_bytes();
        for cut in 1..encoded.len() {
            check_every_renderer(&splice(12, &encoded[..cut], 0));
        }
    }
}
