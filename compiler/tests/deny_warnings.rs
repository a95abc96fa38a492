//! `--deny-warnings`: a program with only warnings passes by default and fails with the flag, in
//! every output format and for `build` too (which then writes no bundle).

mod scratch;
use scratch::Scratch;

use std::path::Path;
use std::process::{Command, Output};

fn meshc(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshc"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("meshc runs")
}

fn dir_with(name: &str, text: &str) -> Scratch {
    let dir = Scratch::new(&format!("deny-{name}"));
    std::fs::write(dir.join("edge.mesh"), text).expect("write");
    dir
}

/// Only warning: W0600, an open route on a wildcard listener.
const WARNS: &str = "gateway edge {\n  listen \"0.0.0.0:8080\"\n  route r { match GET \"/\" respond 200 \"hi\" }\n}\n";
const CLEAN: &str = "gateway edge {\n  listen \"0.0.0.0:8080\"\n  route r { match GET \"/\" public respond 200 \"hi\" }\n}\n";

#[test]
fn warnings_pass_without_the_flag_and_fail_with_it() {
    let dir = dir_with("check", WARNS);
    let out = meshc(&["check", "edge.mesh"], &dir);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("W0600"));
    for format in ["human", "json", "sarif", "github"] {
        let out = meshc(
            &["check", "--deny-warnings", "--format", format, "edge.mesh"],
            &dir,
        );
        assert_eq!(out.status.code(), Some(1), "--format {format}");
    }
}

#[test]
fn a_clean_program_passes_with_the_flag() {
    let dir = dir_with("clean", CLEAN);
    assert_eq!(
        meshc(&["check", "--deny-warnings", "edge.mesh"], &dir)
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn build_with_denied_warnings_writes_no_bundle() {
    let dir = dir_with("build", WARNS);
    let out = meshc(
        &["build", "--deny-warnings", "edge.mesh", "-o", "bundle.json"],
        &dir,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(!dir.join("bundle.json").exists());
    let out = meshc(&["build", "edge.mesh", "-o", "bundle.json"], &dir);
    assert_eq!(out.status.code(), Some(0));
    assert!(dir.join("bundle.json").exists());
}

#[test]
fn github_format_annotates_warnings_as_warnings() {
    let dir = dir_with("github", WARNS);
    let out = meshc(&["check", "--format", "github", "edge.mesh"], &dir);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("::warning file=edge.mesh,line=3,col=9,"),
        "{text}"
    );
}

#[test]
fn an_allowed_warning_code_is_neither_shown_nor_denied() {
    let dir = dir_with("allow", WARNS);
    let out = meshc(
        &["check", "--deny-warnings", "--allow", "W0600", "edge.mesh"],
        &dir,
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("W0600"));
    let out = meshc(
        &[
            "build",
            "--deny-warnings",
            "--allow",
            "W0600",
            "edge.mesh",
            "-o",
            "bundle.json",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(dir.join("bundle.json").exists());
    let out = meshc(
        &["check", "--deny-warnings", "--allow", "W0211", "edge.mesh"],
        &dir,
    );
    assert_eq!(out.status.code(), Some(1), "another code stays denied");
}

#[test]
fn allowing_an_error_or_an_unknown_code_is_a_usage_error() {
    let dir = dir_with("allow-error", WARNS);
    for code in ["E0200", "W9999"] {
        let out = meshc(&["check", "--allow", code, "edge.mesh"], &dir);
        assert_eq!(out.status.code(), Some(2), "{code}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(code));
    }
}
