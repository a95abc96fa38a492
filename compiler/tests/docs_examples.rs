//! Every ```mesh example in docs/language.md parses (statements are wrapped in the block they
//! belong to), and every complete example is already in `meshc fmt`'s layout.

use std::path::Path;

use meshc::fmt::format_source;
use meshc::source::FileId;
use meshc::syntax::parser::{parse_file, TOP_LEVEL_KEYWORDS};

const GATEWAY_STATEMENTS: &[&str] = &[
    "listen",
    "consumer",
    "route",
    "merge_slashes",
    "escaped_slashes",
    "method_mismatch",
];
const ROUTE_STATEMENTS: &[&str] = &[
    "match",
    "auth",
    "public",
    "allow",
    "deny",
    "rate_limit",
    "when",
    "set_header",
    "remove_header",
    "set_response_header",
    "remove_response_header",
    "cors",
    "body_limit",
    "timeout",
    "idempotent",
    "forward",
    "produce",
    "respond",
];
const SERVICE_STATEMENTS: &[&str] = &[
    "endpoints",
    "balance",
    "retry",
    "circuit_breaker",
    "health_check",
    "identity",
];

fn examples() -> Vec<String> {
    fenced("```mesh")
}

/// The blocks fenced with `fence` in docs/language.md.
fn fenced(fence: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/language.md");
    let text = std::fs::read_to_string(path).expect("docs/language.md exists");
    let mut examples = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line) {
            (None, line) if line == fence => current = Some(String::new()),
            (Some(example), "```") => {
                examples.push(std::mem::take(example));
                current = None;
            }
            (Some(example), line) => {
                example.push_str(line);
                example.push('\n');
            }
            (None, _) => {}
        }
    }
    examples
}

/// The example as a whole file, and whether it was one already.
fn as_file(example: &str) -> (String, bool) {
    let (parsed, _) = parse_file(FileId(0), example);
    let code_start = parsed.items.first().map(|i| i.span().start as usize);
    let after_comments = parsed
        .comments
        .iter()
        .take_while(|c| Some(c.span.start as usize) < code_start.or(Some(usize::MAX)))
        .last()
        .map(|c| c.span.end as usize)
        .unwrap_or(0);
    let first = example[after_comments..]
        .split_whitespace()
        .next()
        .unwrap_or_default();
    if TOP_LEVEL_KEYWORDS.contains(&first) || first.is_empty() {
        (example.to_string(), true)
    } else if GATEWAY_STATEMENTS.contains(&first) {
        (
            format!("gateway g {{\n  listen \"127.0.0.1:1\"\n{example}}}\n"),
            false,
        )
    } else if ROUTE_STATEMENTS.contains(&first) {
        (
            format!("gateway g {{\n  listen \"127.0.0.1:1\"\n  route r {{\n{example}}}\n}}\n"),
            false,
        )
    } else if SERVICE_STATEMENTS.contains(&first) {
        (format!("service s {{\n{example}}}\n"), false)
    } else {
        panic!("no block for an example starting with `{first}`:\n{example}");
    }
}

#[test]
fn every_example_in_the_language_reference_parses() {
    let examples = examples();
    assert!(
        examples.len() >= 20,
        "expected an example per construct, found {}",
        examples.len()
    );
    for example in &examples {
        let (file, whole) = as_file(example);
        let (_, diagnostics) = parse_file(FileId(0), &file);
        // A statement shown alone (or several variants of one) leaves its block incomplete.
        let tolerated = |code: &str| !whole && matches!(code, "E0015" | "E0016" | "E0017");
        let problems: Vec<_> = diagnostics
            .iter()
            .filter(|d| !tolerated(d.code.id))
            .map(|d| &d.message)
            .collect();
        assert!(
            problems.is_empty(),
            "example does not parse: {problems:?}\n{example}"
        );
    }
}

#[test]
fn complete_examples_are_in_fmt_layout() {
    for example in examples() {
        let (file, whole) = as_file(&example);
        if whole {
            let formatted =
                format_source(FileId(0), &file).unwrap_or_else(|e| panic!("{e}:\n{file}"));
            assert_eq!(formatted, file, "not in fmt layout");
        }
    }
}

#[test]
fn every_test_file_example_parses() {
    let examples = fenced("```mesh-test");
    assert!(!examples.is_empty(), "docs/language.md shows a test file");
    for example in &examples {
        let (file, diagnostics) =
            meshc::syntax::parser::test_file::parse_test_file(FileId(0), example);
        assert!(
            diagnostics.is_empty() && !file.tests.is_empty(),
            "test example does not parse: {:?}\n{example}",
            diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>()
        );
    }
}
