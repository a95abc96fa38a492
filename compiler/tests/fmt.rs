//! `meshc fmt` over real programs: every example and golden case formats to a fixed point, keeps
//! its comments, and still compiles to the same bundle apart from source locations; mutated
//! programs that still parse do too. The command line is tested over the real binary.

mod scratch;
use scratch::Scratch;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use meshc::fmt::{format_source, FormatError};
use meshc::source::FileId;
use meshc::syntax::parser::parse_file;
use proptest::prelude::*;
use serde_json::Value;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("compiler/ has a parent")
        .to_path_buf()
}

/// Every `.mesh` file under `dir`, recursively.
fn mesh_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable directory") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(mesh_files(&path));
        } else if path.extension().is_some_and(|e| e == "mesh")
            && !path.to_string_lossy().ends_with(".test.mesh")
        {
            // Test files (`*.test.mesh`) are read by `meshc test`, not formatted as programs.
            out.push(path);
        }
    }
    out.sort();
    out
}

fn comment_texts(text: &str) -> Vec<String> {
    let (file, _) = parse_file(FileId(0), text);
    let mut texts: Vec<String> = file
        .comments
        .iter()
        .map(|c| c.text.trim_end().replace("\r\n", "\n"))
        .collect();
    texts.sort();
    texts
}

/// The bundle as JSON without what formatting may change: source locations, file digests and
/// the bundle digest over them.
fn bundle_without_locations(paths: &[PathBuf]) -> Value {
    let compilation = meshc::compile_paths(paths).expect("paths are readable");
    assert!(
        !compilation.has_errors(),
        "{paths:?} must compile: {:?}",
        compilation.diagnostics
    );
    let bundle = compilation
        .bundle
        .expect("a bundle when there are no errors");
    let mut json: Value = serde_json::from_str(&bundle.to_pretty_json()).expect("bundle is JSON");
    strip_locations(&mut json);
    json
}

fn strip_locations(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("source");
            map.remove("default_source");
            map.remove("sources");
            map.remove("digest");
            if map.contains_key("document") {
                // A topic schema: the file it was read from moves with the copy.
                map.remove("path");
            }
            map.values_mut().for_each(strip_locations);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_locations),
        _ => {}
    }
}

/// Writes the formatted copy of every `.mesh` file under `from` into `to`, same relative paths.
/// The text of a source file; `None` for an `invalid_` golden case that is not UTF-8 on purpose
/// (there is nothing for the formatter to do with it).
fn source_text(file: &Path) -> Option<String> {
    let bytes = std::fs::read(file).expect("readable source");
    match String::from_utf8(bytes) {
        Ok(text) => Some(text),
        Err(_) => {
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
            assert!(
                name.starts_with("invalid_"),
                "{}: not UTF-8",
                file.display()
            );
            None
        }
    }
}

fn format_tree(from: &Path, to: &Path) {
    // Files the program reads beside its sources (topic schemas) are copied as they are.
    for entry in std::fs::read_dir(from).expect("readable dir").flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "json") {
            std::fs::create_dir_all(to).expect("mkdir");
            std::fs::copy(&path, to.join(entry.file_name())).expect("copy");
        }
    }
    for file in mesh_files(from) {
        let Some(text) = source_text(&file) else {
            continue;
        };
        let formatted = match format_source(FileId(0), &text) {
            Ok(formatted) => formatted,
            Err(FormatError::Syntax(_)) => text,
            Err(error) => panic!("{}: {error}", file.display()),
        };
        let target = to.join(file.strip_prefix(from).expect("under from"));
        std::fs::create_dir_all(target.parent().expect("has a parent")).expect("mkdir");
        std::fs::write(target, formatted).expect("write");
    }
}

fn temp_dir(name: &str) -> Scratch {
    let dir = Scratch::new(&format!("fmt-{name}"));
    dir
}

#[test]
fn every_example_and_golden_case_formats_to_a_fixed_point_keeping_its_comments() {
    let root = workspace_root();
    let mut formatted_count = 0;
    let mut files = mesh_files(&root.join("examples"));
    files.extend(mesh_files(&root.join("golden-tests")));
    for file in &files {
        let Some(text) = source_text(file) else {
            continue;
        };
        match format_source(FileId(0), &text) {
            Ok(once) => {
                let twice = format_source(FileId(0), &once).expect("formatted text formats");
                assert_eq!(
                    once,
                    twice,
                    "{}: formatting twice changes the text",
                    file.display()
                );
                assert_eq!(
                    comment_texts(&text),
                    comment_texts(&once),
                    "{}: comments changed",
                    file.display()
                );
                formatted_count += 1;
            }
            Err(FormatError::Syntax(_)) => {
                let name = file
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                assert!(
                    name.starts_with("invalid_"),
                    "{}: only invalid cases may fail to parse",
                    file.display()
                );
            }
            Err(error) => panic!("{}: {error}", file.display()),
        }
    }
    assert!(
        formatted_count >= 30,
        "only {formatted_count} files formatted"
    );
}

#[test]
fn the_formatted_example_checks_clean_and_builds_the_same_bundle() {
    let root = workspace_root();
    let original = root.join("examples/starfleet");
    let scratch = temp_dir("starfleet");
    let copy = scratch.join("starfleet");
    format_tree(&original, &copy);
    let compilation = meshc::compile_paths(std::slice::from_ref(&copy)).expect("readable");
    assert!(
        compilation.diagnostics.is_empty(),
        "{:?}",
        compilation.diagnostics
    );
    assert_eq!(
        bundle_without_locations(&[original]),
        bundle_without_locations(&[copy])
    );
}

#[test]
fn formatted_valid_golden_cases_build_the_same_bundles() {
    let root = workspace_root();
    let original = root.join("golden-tests");
    let scratch = temp_dir("golden");
    let copy = scratch.join("golden-tests");
    format_tree(&original, &copy);
    let mut compared = 0;
    for case in mesh_files(&original) {
        let name = case
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if !name.starts_with("valid_") {
            continue;
        }
        let formatted = copy.join(&name);
        assert_eq!(
            bundle_without_locations(&[case]),
            bundle_without_locations(&[formatted]),
            "{name}"
        );
        compared += 1;
    }
    assert!(compared >= 20, "only {compared} valid cases compared");
}

// ---------------------------------------------------------------------------------------------
// Mutated programs
// ---------------------------------------------------------------------------------------------

const SEED_PROGRAM: &str = include_str!("fixtures/seed_program.mesh");

/// The starfleet example as one file (its include dropped: the topics are part of it).
fn starfleet_program() -> String {
    let dir = workspace_root().join("examples/starfleet");
    let files: Vec<String> = mesh_files(&dir)
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("UTF-8 source"))
        .collect();
    files
        .join("\n")
        .lines()
        .filter(|l| !l.starts_with("include"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Edits that usually keep a program parseable: blanks, comments and line breaks next to
/// blanks and punctuation, and whole lines duplicated, dropped or swapped.
#[derive(Debug, Clone)]
enum Edit {
    Insert { at: usize, text: &'static str },
    DuplicateLine { line: usize },
    DeleteLine { line: usize },
    SwapLines { line: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    let texts = prop::sample::select(vec![
        " ",
        "   ",
        "\t",
        "\n",
        "\n\n",
        "/* note */",
        "/* two\n lines */",
        " # note\n",
        "\n# note\n",
        "\r\n",
    ]);
    prop_oneof![
        4 => (any::<usize>(), texts).prop_map(|(at, text)| Edit::Insert { at, text }),
        1 => any::<usize>().prop_map(|line| Edit::DuplicateLine { line }),
        1 => any::<usize>().prop_map(|line| Edit::DeleteLine { line }),
        1 => any::<usize>().prop_map(|line| Edit::SwapLines { line }),
    ]
}

/// Offsets next to a blank or a bracket or comma: before a blank, `}` or `]`; after `{`, `[` or `,`.
fn insertion_points(text: &str) -> Vec<usize> {
    text.char_indices()
        .filter_map(|(i, c)| match c {
            ' ' | '}' | ']' => Some(i),
            '{' | '[' | ',' => Some(i + 1),
            _ => None,
        })
        .collect()
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut text = text.to_string();
    for edit in edits {
        match edit {
            Edit::Insert { at, text: insert } => {
                let points = insertion_points(&text);
                if let Some(&i) = points.get(at % points.len().max(1)) {
                    text.insert_str(i, insert);
                }
            }
            Edit::DuplicateLine { line } | Edit::DeleteLine { line } | Edit::SwapLines { line } => {
                let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
                if lines.len() < 2 {
                    continue;
                }
                let i = line % (lines.len() - 1);
                match edit {
                    Edit::DuplicateLine { .. } => lines.insert(i, lines[i].clone()),
                    Edit::DeleteLine { .. } => {
                        lines.remove(i);
                    }
                    _ => lines.swap(i, i + 1),
                }
                text = lines.join("\n");
            }
        }
    }
    text
}

fn bundle_of_text(text: &str) -> Option<Value> {
    let compilation = meshc::compile_text("mutated.mesh", text);
    let bundle = compilation.bundle?;
    let mut json: Value = serde_json::from_str(&bundle.to_pretty_json()).expect("bundle is JSON");
    strip_locations(&mut json);
    Some(json)
}

fn assert_formats_to_the_same_program(text: &str) -> Result<(), TestCaseError> {
    let once = format_source(FileId(0), text).map_err(|e| TestCaseError::fail(format!("{e}")))?;
    let twice = format_source(FileId(0), &once).map_err(|e| TestCaseError::fail(format!("{e}")))?;
    prop_assert_eq!(&once, &twice);
    prop_assert_eq!(comment_texts(text), comment_texts(&once));
    prop_assert_eq!(bundle_of_text(text), bundle_of_text(&once));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, max_global_rejects: 20_000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_programs_that_parse_format_to_a_fixed_point_with_the_same_meaning(
        starfleet in any::<bool>(),
        edits in prop::collection::vec(edit(), 1..8),
    ) {
        let base = if starfleet { starfleet_program() } else { SEED_PROGRAM.to_string() };
        let text = apply(&base, &edits);
        let (_, diagnostics) = parse_file(FileId(0), &text);
        prop_assume!(diagnostics.is_empty());
        assert_formats_to_the_same_program(&text)?;
    }
}

// ---------------------------------------------------------------------------------------------
// The command line
// ---------------------------------------------------------------------------------------------

fn meshc(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshc"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("meshc runs")
}

const MESSY: &str = "gateway edge{listen \"127.0.0.1:8080\" # loopback\nroute ping{match GET \"/ping\" public respond 200 \"pong\"}}\n";
const TIDY: &str = "gateway edge {\n  listen \"127.0.0.1:8080\" # loopback\n  route ping { match GET \"/ping\"  public  respond 200 \"pong\" }\n}\n";

#[test]
fn fmt_check_prints_a_diff_exits_1_and_writes_nothing() {
    let dir = temp_dir("cli-check");
    std::fs::write(dir.join("edge.mesh"), MESSY).expect("write");
    let out = meshc(&["fmt", "--check", "edge.mesh"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let diff = String::from_utf8_lossy(&out.stdout);
    assert!(
        diff.contains("--- edge.mesh") && diff.contains("+++ edge.mesh (formatted)"),
        "{diff}"
    );
    assert!(
        diff.contains("-gateway edge{listen") && diff.contains("+  route ping { match GET"),
        "{diff}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 of 1 file(s) would be reformatted"));
    assert_eq!(
        std::fs::read_to_string(dir.join("edge.mesh")).expect("read"),
        MESSY
    );
}

#[test]
fn fmt_rewrites_files_in_place_and_then_check_passes() {
    let dir = temp_dir("cli-write");
    std::fs::create_dir_all(dir.join("prog/nested")).expect("mkdir");
    std::fs::write(dir.join("prog/edge.mesh"), MESSY).expect("write");
    std::fs::write(dir.join("prog/nested/tidy.mesh"), TIDY).expect("write");
    let out = meshc(&["fmt", "prog"], &dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("prog/edge.mesh")).expect("read"),
        TIDY
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("prog/nested/tidy.mesh")).expect("read"),
        TIDY
    );
    let check = meshc(&["fmt", "--check", "prog"], &dir);
    assert_eq!(check.status.code(), Some(0));
    assert!(check.stdout.is_empty());
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("prog"))
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

#[test]
fn fmt_leaves_a_file_with_syntax_errors_alone_and_exits_1() {
    let dir = temp_dir("cli-broken");
    let broken = "service a {\n  timeout 2\n}\n";
    std::fs::write(dir.join("broken.mesh"), broken).expect("write");
    std::fs::write(dir.join("edge.mesh"), MESSY).expect("write");
    let out = meshc(&["fmt", "broken.mesh", "edge.mesh"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("E0011") && stderr.contains("[broken.mesh:2:11]"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("broken.mesh")).expect("read"),
        broken
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("edge.mesh")).expect("read"),
        TIDY,
        "the other file is still formatted"
    );
}

#[test]
fn fmt_of_a_missing_path_exits_2() {
    let dir = temp_dir("cli-missing");
    let out = meshc(&["fmt", "nope.mesh"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.mesh"));
}

#[test]
fn fmt_refuses_bytes_that_are_not_utf8_with_a_located_error() {
    let dir = temp_dir("cli-latin1");
    std::fs::write(dir.join("latin1.mesh"), b"service caf\xe9 {}\n").expect("write");
    let out = meshc(&["fmt", "--format", "json", "latin1.mesh"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("\"code\":\"E0005\"") && stdout.contains("\"column\":12"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read(dir.join("latin1.mesh")).expect("read"),
        b"service caf\xe9 {}\n"
    );
}
