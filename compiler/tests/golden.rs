//! Golden tests: every `golden-tests/<case>.mesh` is compiled and its output compared with
//! `golden-tests/<case>.expected` — the human diagnostics (no colour) followed, when the program
//! has no errors, by the bundle JSON. Every bundle produced is also checked against
//! `schemas/bundle.schema.json`.
//!
//! Command cases live in `golden-tests/commands/<case>/`: a `cmd` file holds the arguments of
//! one `meshc` run (split at whitespace) made in that directory, next to its inputs (or in the
//! workspace root when the arguments start with `@root`, for cases about `examples/`), and
//! `expected` holds its exit code, standard output and standard error.
//!
//! Re-bless after an intended change: `MESHC_BLESS=1 cargo test -p meshc --test golden`
//! and review the diff of `golden-tests/`.

use std::path::{Path, PathBuf};

use meshc::diagnostics::render_human::render_report;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("compiler/ has a parent")
        .to_path_buf()
}

/// Every case, by path relative to the workspace root (`golden-tests/_includes/` holds only
/// files that cases include).
fn cases() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root.join("golden-tests"))
        .expect("golden-tests/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "mesh"))
        .map(|p| p.strip_prefix(&root).expect("under the root").to_path_buf())
        .collect();
    cases.sort();
    cases
}

struct CaseOutput {
    text: String,
    has_errors: bool,
    bundle_json: Option<String>,
}

fn run_case(case: &Path) -> CaseOutput {
    let compilation = meshc::compile_paths(&[case.to_path_buf()]).expect("case is readable");
    let mut text = render_report(&compilation.sources, &compilation.diagnostics, false);
    let bundle_json = compilation.bundle.as_ref().map(|b| b.to_pretty_json());
    if let Some(json) = &bundle_json {
        text.push_str(json);
    }
    CaseOutput {
        text,
        has_errors: compilation.has_errors(),
        bundle_json,
    }
}

fn diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .header("expected", "actual")
        .to_string()
}

fn schema_problems(bundle_json: &str) -> Vec<String> {
    let schema: serde_json::Value =
        serde_json::from_str(meshwork_bundle::BUNDLE_SCHEMA).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let instance: serde_json::Value = serde_json::from_str(bundle_json).expect("bundle is JSON");
    validator
        .iter_errors(&instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn golden_cases_match_their_expected_output() {
    // Paths in diagnostics and bundles are shown relative to the working directory.
    std::env::set_current_dir(workspace_root()).expect("can enter the workspace root");
    let bless = std::env::var_os("MESHC_BLESS").is_some();
    let cases = cases();
    let mut failures = Vec::new();
    for case in &cases {
        let name = case
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("UTF-8 case name")
            .to_string();
        let output = run_case(case);
        if name.starts_with("valid_") && (output.has_errors || output.bundle_json.is_none()) {
            failures.push(format!(
                "{name}: a valid_ case must compile without errors\n{}",
                output.text
            ));
        }
        if name.starts_with("invalid_") && !output.has_errors {
            failures.push(format!("{name}: an invalid_ case must report an error"));
        }
        if let Some(json) = &output.bundle_json {
            let problems = schema_problems(json);
            if !problems.is_empty() {
                failures.push(format!(
                    "{name}: bundle violates the schema:\n{}",
                    problems.join("\n")
                ));
            }
        }
        let expected_path = workspace_root().join(case.with_extension("expected"));
        if bless {
            std::fs::write(&expected_path, &output.text).expect("can write .expected");
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(expected) if expected == output.text => {}
            Ok(expected) => failures.push(format!(
                "{name}: output differs\n{}",
                diff(&expected, &output.text)
            )),
            Err(_) => failures.push(format!(
                "{name}: missing {} (bless with MESHC_BLESS=1)",
                expected_path.display()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Every command case directory.
fn command_cases() -> Vec<PathBuf> {
    let dir = workspace_root().join("golden-tests/commands");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("golden-tests/commands/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.join("cmd").is_file())
        .collect();
    cases.sort();
    cases
}

fn run_command_case(case: &Path) -> String {
    let args = std::fs::read_to_string(case.join("cmd")).expect("cmd is readable");
    let (cwd, args) = match args.trim().strip_prefix("@root") {
        Some(rest) => (workspace_root(), rest.to_string()),
        None => (case.to_path_buf(), args),
    };
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_meshc"))
        .args(args.split_whitespace())
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .expect("meshc runs");
    format!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        output
            .status
            .code()
            .map_or_else(|| "signal".to_string(), |c| c.to_string()),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn command_cases_match_their_expected_output() {
    let bless = std::env::var_os("MESHC_BLESS").is_some();
    let mut failures = Vec::new();
    let cases = command_cases();
    assert!(!cases.is_empty(), "no command cases found");
    for case in &cases {
        let name = case.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        let actual = run_command_case(case);
        let expected_path = case.join("expected");
        if bless {
            std::fs::write(&expected_path, &actual).expect("can write expected");
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!(
                "{name}: output differs\n{}",
                diff(&expected, &actual)
            )),
            Err(_) => failures.push(format!(
                "{name}: missing {} (bless with MESHC_BLESS=1)",
                expected_path.display()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} command case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn golden_cases_cover_enough_ground() {
    let cases = cases();
    assert!(
        cases.len() >= 40,
        "expected at least 40 golden cases, found {}",
        cases.len()
    );
    let invalid = cases
        .iter()
        .filter(|c| c.to_string_lossy().contains("/invalid_"))
        .count();
    assert!(
        invalid * 2 >= cases.len(),
        "at least half the cases must be invalid ({invalid} of {})",
        cases.len()
    );
}
