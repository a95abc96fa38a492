//! Golden tests: every `golden-tests/<case>.mesh` is compiled and its output compared with
//! `golden-tests/<case>.expected` — the human diagnostics (no colour) followed, when the program
//! has no errors, by the bundle JSON. Every bundle produced is also checked against
//! `schemas/bundle.schema.json`.
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
