//! The meshd binary: exit codes and messages of `run` on bad input, and the signing tools.

use std::process::{Command, Stdio};

fn meshd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_meshd"))
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("meshd-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run_and_fail(args: &[&str]) -> String {
    let output = meshd()
        .arg("run")
        .args(args)
        .args(["--admin", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn run_refuses_a_tampered_bundle_with_exit_1() {
    let dir = temp_dir("tampered");
    let compilation = meshc::compile_text("t.mesh", "gateway edge { listen \"127.0.0.1:0\" route a { match GET \"/\" public respond 200 \"x\" } }");
    let mut bundle = compilation.bundle.unwrap();
    bundle.gateways[0].routes[0].name.push('x');
    let path = dir.join("edge.json");
    std::fs::write(&path, bundle.to_pretty_json()).unwrap();
    let stderr = run_and_fail(&[path.to_str().unwrap()]);
    assert!(stderr.contains("digest mismatch"), "{stderr}");
}

#[test]
fn run_refuses_what_is_neither_a_bundle_nor_sources() {
    let dir = temp_dir("other");
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "hello").unwrap();
    let stderr = run_and_fail(&[notes.to_str().unwrap()]);
    assert!(
        stderr.contains("neither a bundle (.json) nor a .mesh source"),
        "{stderr}"
    );
    let stderr = run_and_fail(&[dir.join("missing.json").to_str().unwrap()]);
    assert!(stderr.contains("does not exist"), "{stderr}");
}

#[test]
fn run_shows_the_diagnostics_of_sources_that_do_not_compile() {
    let dir = temp_dir("broken");
    let source = dir.join("broken.mesh");
    std::fs::write(&source, "gateway edge { route {").unwrap();
    let stderr = run_and_fail(&[source.to_str().unwrap()]);
    assert!(
        stderr.contains("do not compile") && stderr.contains("broken.mesh"),
        "{stderr}"
    );
}

#[test]
fn keygen_sign_and_validate_with_a_key_round_trip() {
    let dir = temp_dir("sign");
    let compilation = meshc::compile_text("t.mesh", "gateway edge { listen \"127.0.0.1:0\" route a { match GET \"/\" public respond 200 \"x\" } }");
    let bundle = dir.join("edge.json");
    std::fs::write(&bundle, compilation.bundle.unwrap().to_pretty_json()).unwrap();
    let prefix = dir.join("ops");
    assert!(meshd()
        .args(["keygen", "--out", prefix.to_str().unwrap()])
        .status()
        .unwrap()
        .success());
    let key = dir.join("ops.key");
    let public = dir.join("ops.pub");
    let validate = |b: &std::path::Path| {
        meshd()
            .args([
                "validate",
                b.to_str().unwrap(),
                "--verify-key",
                public.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    assert_eq!(
        validate(&bundle).status.code(),
        Some(1),
        "an unsigned bundle passed"
    );
    assert!(meshd()
        .args([
            "sign",
            bundle.to_str().unwrap(),
            "--key",
            key.to_str().unwrap()
        ])
        .status()
        .unwrap()
        .success());
    let output = validate(&bundle);
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("signature verified"));
}
