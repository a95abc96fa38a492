//! Test files given any text: the test grammar never panics and locates every error inside the
//! file, and whatever parses runs against the starfleet program without a panic (a bad test is
//! a diagnostic or a failed or errored case, never a crash). The binary turns bytes that are not
//! text into a located diagnostic and exit 1.

mod scratch;
use scratch::Scratch;

use std::path::{Path, PathBuf};
use std::process::Command;

use meshc::source::{FileId, SourceMap};
use meshc::syntax::parser::test_file::parse_test_file;
use meshc::test_runner::run_tests;
use proptest::prelude::*;

const STARFLEET_TESTS: &str = include_str!("../../examples/starfleet/starfleet.test.mesh");

fn starfleet() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/starfleet")
}

/// Parses `text` as a test file and, when it parses, runs it against `bundle`.
fn parse_and_run(bundle: &meshwork_bundle::Bundle, text: &str) {
    let (file, diagnostics) = parse_test_file(FileId(0), text);
    for diagnostic in &diagnostics {
        for label in &diagnostic.labels {
            assert!(
                label.span.start <= label.span.end && label.span.end as usize <= text.len(),
                "label {:?} outside the {} bytes of the file",
                label.span,
                text.len()
            );
        }
    }
    if diagnostics.is_empty() {
        let mut sources = SourceMap::default();
        let id = sources.add("mutated.test.mesh".to_string(), text.to_string());
        // Diagnostics about names are an answer too; only a panic would fail here.
        let _ = run_tests(bundle, &sources, &[(id, file)], true);
    }
}

/// A mutation of the starfleet tests: a span replaced by `insert`.
fn mutated(start: usize, len: usize, insert: &str) -> String {
    let text = STARFLEET_TESTS;
    let mut start = start % (text.len() + 1);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (start + len).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    format!("{}{insert}{}", &text[..start], &text[end..])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn mutated_test_files_never_panic(
        start in 0usize..8_000,
        len in 0usize..40,
        insert in prop_oneof![
            Just(String::new()),
            Just("}".to_string()),
            Just("{".to_string()),
            Just("\"".to_string()),
            Just("expect ".to_string()),
            Just("repeat 100000 every 1ms\n".to_string()),
            Just("call picard -> picard\n".to_string()),
            Just("call \"spiffe://\" -> riker\n".to_string()),
            Just("as data claims \"{\\\"exp\\\": -1}\"\n".to_string()),
            Just("request GET \"http://[::1\"\n".to_string()),
            Just("body_size 64MiB\n".to_string()),
            Just("at \"not a time\"\n".to_string()),
            Just("header \"bad name\" \"v\"\n".to_string()),
            "[ -~\n]{0,12}",
        ],
    ) {
        let compilation = meshc::compile_paths(&[starfleet()]).expect("readable");
        let bundle = compilation.bundle.expect("the example compiles");
        parse_and_run(&bundle, &mutated(start, len, &insert));
    }

    #[test]
    fn any_text_parses_or_fails_located(text in "\\PC{0,200}") {
        let (_, diagnostics) = parse_test_file(FileId(0), &text);
        for diagnostic in &diagnostics {
            for label in &diagnostic.labels {
                prop_assert!(label.span.end as usize <= text.len());
            }
        }
    }
}

#[test]
fn bytes_that_are_not_text_are_a_located_error_and_exit_1() {
    let dir = Scratch::new("test-bytes");
    std::fs::write(
        dir.join("edge.mesh"),
        "gateway edge {\n  listen \"127.0.0.1:8080\"\n  route ping { match GET \"/ping\"  public  respond 200 \"pong\" }\n}\n",
    )
    .unwrap();
    for (name, bytes) in [
        ("utf8", &b"test \"a\" {\n  request GET \"/\xff\"\n}\n"[..]),
        ("nul", &b"test \"a\" {\n  request GET \"/ping\"\0\n}\n"[..]),
        ("deep", "{".repeat(100_000).as_bytes()),
    ] {
        let file = dir.join("edge.test.mesh");
        std::fs::write(&file, bytes).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_meshc"))
            .args(["test", "."])
            .current_dir(&dir)
            .env("NO_COLOR", "1")
            .output()
            .expect("meshc runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            stderr.contains("edge.test.mesh:"),
            "{name}: located: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
