//! The `meshc` binary: exit codes, output formats, directories and argument order.

mod scratch;
use scratch::Scratch;

use std::path::Path;
use std::process::{Command, Output};

fn meshc(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshc"))
        .args(args)
        .current_dir(cwd)
        .env_remove("NO_COLOR")
        .output()
        .expect("meshc runs")
}

fn temp_dir(name: &str) -> Scratch {
    let dir = Scratch::new(&format!("cli-{name}"));
    dir
}

const GOOD: &str = "gateway edge {\n  listen \"127.0.0.1:8080\"\n  route ping { match GET \"/ping\" public respond 200 \"pong\" }\n}\n";
const SERVICES: &str = "service picard { endpoints [\"127.0.0.1:9101\"] }\nservice riker { endpoints [\"127.0.0.1:9103\"] }\n";
const BAD: &str = "service a {\n  timeout 2\n}\n\nservce b {}\n";

#[test]
fn check_exits_0_on_a_valid_program() {
    let dir = temp_dir("ok");
    std::fs::write(dir.join("edge.mesh"), GOOD).expect("write");
    let out = meshc(&["check", "edge.mesh"], &dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty());
}

#[test]
fn check_exits_1_and_reports_every_broken_block() {
    let dir = temp_dir("bad");
    std::fs::write(dir.join("bad.mesh"), BAD).expect("write");
    let out = meshc(&["check", "bad.mesh"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("E0011") && stderr.contains("[bad.mesh:2:11]"),
        "{stderr}"
    );
    assert!(
        stderr.contains("E0001") && stderr.contains("did you mean `service`?"),
        "{stderr}"
    );
    assert!(stderr.contains("2 errors, 0 warnings"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour when stderr is not a terminal"
    );
}

#[test]
fn json_format_prints_one_object_per_diagnostic() {
    let dir = temp_dir("json");
    std::fs::write(dir.join("bad.mesh"), BAD).expect("write");
    let out = meshc(&["check", "--format", "json", "bad.mesh"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stdout).expect("UTF-8");
    let objects: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(objects.len(), 2);
    assert_eq!(objects[0]["code"], "E0011");
    assert_eq!(objects[0]["file"], "bad.mesh");
    assert_eq!(objects[0]["line"], 2);
    assert_eq!(objects[0]["column"], 11);
    assert_eq!(objects[1]["help"], "did you mean `service`?");
}

#[test]
fn missing_file_and_empty_directory_exit_2() {
    let dir = temp_dir("missing");
    let out = meshc(&["check", "nope.mesh"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.mesh"));
    std::fs::create_dir_all(dir.join("empty")).expect("mkdir");
    assert_eq!(meshc(&["check", "empty"], &dir).status.code(), Some(2));
    assert_eq!(
        meshc(&["check"], &dir).status.code(),
        Some(2),
        "usage error"
    );
}

#[test]
fn a_directory_compiles_every_mesh_file_under_it() {
    let dir = temp_dir("dir");
    std::fs::create_dir_all(dir.join("prog/nested")).expect("mkdir");
    std::fs::write(dir.join("prog/edge.mesh"), GOOD).expect("write");
    std::fs::write(dir.join("prog/nested/bad.mesh"), BAD).expect("write");
    std::fs::write(dir.join("prog/notes.txt"), "not mesh {").expect("write");
    let out = meshc(&["check", "--format", "json", "prog"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("prog/nested/bad.mesh"));
}

#[test]
fn build_is_byte_identical_whatever_the_argument_order() {
    let dir = temp_dir("order");
    std::fs::write(dir.join("a.mesh"), GOOD).expect("write");
    std::fs::write(dir.join("b.mesh"), SERVICES).expect("write");
    let first = meshc(&["build", "a.mesh", "b.mesh", "-o", "first.json"], &dir);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let second = meshc(&["build", "b.mesh", "a.mesh", "-o", "second.json"], &dir);
    assert_eq!(second.status.code(), Some(0));
    let a = std::fs::read(dir.join("first.json")).expect("bundle written");
    let b = std::fs::read(dir.join("second.json")).expect("bundle written");
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[test]
fn build_writes_nothing_when_the_program_has_errors() {
    let dir = temp_dir("nobuild");
    std::fs::write(dir.join("bad.mesh"), BAD).expect("write");
    let out = meshc(&["build", "bad.mesh", "-o", "out.json"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(!dir.join("out.json").exists());
}

#[test]
fn non_utf8_and_nul_bytes_are_located_errors() {
    let dir = temp_dir("bytes");
    std::fs::write(dir.join("latin1.mesh"), b"service caf\xe9 {}\n").expect("write");
    std::fs::write(dir.join("nul.mesh"), b"service a {\n\0}\n").expect("write");
    let out = meshc(
        &["check", "--format", "json", "latin1.mesh", "nul.mesh"],
        &dir,
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stdout);
    assert!(
        stderr.contains("\"code\":\"E0005\"") && stderr.contains("\"column\":12"),
        "{stderr}"
    );
    assert!(
        stderr.contains("\"code\":\"E0006\"") && stderr.contains("\"line\":2"),
        "{stderr}"
    );
}

#[test]
fn huge_inputs_fail_cleanly_without_overflowing_the_stack() {
    let dir = temp_dir("huge");
    let deep = format!("gateway g {{ listen \"127.0.0.1:1\" route r {{ match GET \"/\" public when {}true{} respond 200 }} }}", "(".repeat(10_000), ")".repeat(10_000));
    std::fs::write(dir.join("deep.mesh"), deep).expect("write");
    std::fs::write(dir.join("braces.mesh"), "{".repeat(10_000)).expect("write");
    std::fs::write(
        dir.join("ident.mesh"),
        format!("service {} {{}}", "a".repeat(1_000_000)),
    )
    .expect("write");
    for (file, code) in [
        ("deep.mesh", "E0007"),
        ("braces.mesh", "E0001"),
        ("ident.mesh", "E0008"),
    ] {
        let out = meshc(&["check", file], &dir);
        assert_eq!(out.status.code(), Some(1), "{file}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(code), "{file}: {stderr}");
        assert!(
            stderr.len() < 10_000,
            "{file}: the diagnostic must not quote the whole input"
        );
    }
}

#[test]
fn a_50_megabyte_file_is_checked_without_trouble() {
    let dir = temp_dir("big");
    let block = "service s { endpoints [\"127.0.0.1:9101\"] timeout 2s }\n# padding padding padding padding\n";
    let mut text = String::with_capacity(50 * 1024 * 1024 + block.len());
    while text.len() < 50 * 1024 * 1024 {
        text.push_str(block);
    }
    text.push_str("servce broken {}\n");
    std::fs::write(dir.join("big.mesh"), text).expect("write");
    let out = meshc(&["check", "--format", "json", "big.mesh"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("did you mean `service`?"));
}

#[test]
fn include_cycles_and_missing_includes_are_reported_at_the_include() {
    let dir = temp_dir("include");
    std::fs::write(dir.join("a.mesh"), "include \"b.mesh\"\n").expect("write");
    std::fs::write(
        dir.join("b.mesh"),
        "include \"a.mesh\"\ninclude \"gone.mesh\"\n",
    )
    .expect("write");
    let out = meshc(&["check", "--format", "json", "a.mesh"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stdout);
    assert!(
        stderr.contains("E0014") && stderr.contains("a.mesh → b.mesh → a.mesh"),
        "{stderr}"
    );
    assert!(
        stderr.contains("E0013") && stderr.contains("gone.mesh"),
        "{stderr}"
    );
}

#[test]
fn docs_diagnostics_md_is_generated_from_the_code_table() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let committed = std::fs::read_to_string(root.join("docs/diagnostics.md"))
        .expect("docs/diagnostics.md exists");
    let out = meshc(&["codes", "--markdown"], root);
    assert_eq!(
        committed,
        String::from_utf8_lossy(&out.stdout),
        "regenerate with `cargo run -p meshc -- codes --markdown > docs/diagnostics.md`"
    );
}

#[test]
fn test_files_are_skipped_by_check_and_fmt_of_a_directory_and_refused_by_name_by_fmt() {
    let dir = temp_dir("test-files");
    std::fs::write(dir.join("edge.mesh"), GOOD).expect("write");
    let tests = "test \"ping\" {\n  request GET \"/ping\"\n  expect status 200\n}\n";
    std::fs::write(dir.join("edge.test.mesh"), tests).expect("write");
    for args in [
        &["check", "."][..],
        &["fmt", "."][..],
        &["fmt", "--check", "."][..],
        &["test", "."][..],
    ] {
        let out = meshc(args, &dir);
        assert_eq!(
            out.status.code(),
            Some(0),
            "meshc {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = meshc(&["fmt", "edge.test.mesh"], &dir);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("test files (*.test.mesh)"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.join("edge.test.mesh")).expect("read"),
        tests,
        "left as written"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
