//! The parser never panics and every span it reports lies inside its input, whatever the bytes.

use meshc::source::FileId;
use meshc::syntax::parser::parse_file;
use proptest::prelude::*;

const SEED_PROGRAM: &str = include_str!("fixtures/seed_program.mesh");

/// Edits applied to a valid program: the mutations a fuzzer would try first.
#[derive(Debug, Clone)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    Replace { at: usize, byte: u8 },
    Duplicate { at: usize, len: usize },
    Truncate { at: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    let tokens = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        "(",
        ")",
        "\"",
        "#",
        "/*",
        "*/",
        "\n",
        ",",
        "->",
        "..",
        "%",
        "/min",
        "ms",
        "route",
        "gateway",
        "when",
        "==",
        "&&",
        "9999999999999999999999",
        "env(",
        "\\",
        "é",
        "\u{0}",
    ]);
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), tokens).prop_map(|(at, t)| Edit::Insert {
            at,
            text: t.to_string()
        }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Edit::Replace { at, byte }),
        (any::<usize>(), 1usize..200).prop_map(|(at, len)| Edit::Duplicate { at, len }),
        any::<usize>().prop_map(|at| Edit::Truncate { at }),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for edit in edits {
        let n = bytes.len().max(1);
        match edit {
            Edit::Delete { at, len } => {
                let start = at % n;
                let end = (start + len).min(bytes.len());
                bytes.drain(start.min(bytes.len())..end);
            }
            Edit::Insert { at, text } => {
                let at = (at % n).min(bytes.len());
                bytes.splice(at..at, text.bytes());
            }
            Edit::Replace { at, byte } => {
                if !bytes.is_empty() {
                    let at = at % bytes.len();
                    bytes[at] = *byte;
                }
            }
            Edit::Duplicate { at, len } => {
                let start = (at % n).min(bytes.len());
                let end = (start + len).min(bytes.len());
                let copy = bytes[start..end].to_vec();
                bytes.splice(end..end, copy);
            }
            Edit::Truncate { at } => bytes.truncate(at % n),
        }
    }
    // The loader refuses invalid UTF-8 before parsing; the parser sees text.
    String::from_utf8_lossy(&bytes).into_owned()
}

fn assert_spans_inside(text: &str, edits: &[Edit]) {
    let (file, diagnostics) = parse_file(FileId(0), text);
    for diagnostic in &diagnostics {
        for label in &diagnostic.labels {
            assert!(
                label.span.end as usize <= text.len(),
                "label {:?} outside input of {} bytes ({edits:?})",
                label.span,
                text.len()
            );
            assert!(label.span.start <= label.span.end);
            assert!(
                text.is_char_boundary(label.span.start as usize),
                "label starts inside a character"
            );
        }
    }
    for item in &file.items {
        assert!(item.span().end as usize <= text.len());
    }
    for comment in &file.comments {
        assert_eq!(&text[comment.span.range()], comment.text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_programs_never_panic_and_spans_stay_inside(edits in prop::collection::vec(edit(), 1..6)) {
        let text = apply(SEED_PROGRAM, &edits);
        assert_spans_inside(&text, &edits);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        assert_spans_inside(&text, &[]);
    }
}

#[test]
fn the_seed_program_parses_cleanly() {
    let (file, diagnostics) = parse_file(FileId(0), SEED_PROGRAM);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    assert!(file.items.len() >= 5);
}
