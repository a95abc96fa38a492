//! `meshc build --serial` / `SOURCE_DATE_EPOCH` and `--sign`: the one-step CI build, still
//! deterministic.

mod scratch;
use scratch::Scratch;

use std::path::Path;
use std::process::{Command, Output};

use meshwork_bundle::signature::{key_pair_texts, PublicKey};
use meshwork_bundle::Bundle;

const GOOD: &str = "gateway edge {\n  listen \"127.0.0.1:8080\"\n  route ping { match GET \"/ping\" public respond 200 \"pong\" }\n}\n";

fn meshc(args: &[&str], cwd: &Path, epoch: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_meshc"));
    command
        .args(args)
        .current_dir(cwd)
        .env_remove("SOURCE_DATE_EPOCH");
    if let Some(epoch) = epoch {
        command.env("SOURCE_DATE_EPOCH", epoch);
    }
    command.output().expect("meshc runs")
}

fn program(name: &str) -> Scratch {
    let dir = Scratch::new(&format!("serial-{name}"));
    std::fs::write(dir.join("edge.mesh"), GOOD).unwrap();
    dir
}

fn bundle(path: &Path) -> Bundle {
    let bundle = Bundle::from_json(&std::fs::read_to_string(path).unwrap()).unwrap();
    bundle.verify_digest().unwrap();
    bundle
}

fn ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn serial_comes_from_the_flag_then_source_date_epoch_and_builds_stay_identical() {
    let dir = program("serial");
    ok(&meshc(
        &["build", "edge.mesh", "-o", "plain.json"],
        &dir,
        None,
    ));
    assert_eq!(bundle(&dir.join("plain.json")).serial, 0);
    let plain = std::fs::read_to_string(dir.join("plain.json")).unwrap();
    assert!(!plain.contains("serial"), "serial 0 is left out: {plain}");

    ok(&meshc(
        &["build", "edge.mesh", "-o", "a.json"],
        &dir,
        Some("1700000000"),
    ));
    ok(&meshc(
        &[
            "build",
            "edge.mesh",
            "-o",
            "b.json",
            "--serial",
            "1700000000",
        ],
        &dir,
        None,
    ));
    ok(&meshc(
        &["build", "edge.mesh", "-o", "c.json"],
        &dir,
        Some("1700000000"),
    ));
    let a = std::fs::read(dir.join("a.json")).unwrap();
    assert_eq!(a, std::fs::read(dir.join("b.json")).unwrap());
    assert_eq!(a, std::fs::read(dir.join("c.json")).unwrap());
    let stamped = bundle(&dir.join("a.json"));
    assert_eq!(stamped.serial, 1_700_000_000);
    assert_ne!(stamped.digest, bundle(&dir.join("plain.json")).digest);

    ok(&meshc(
        &["build", "edge.mesh", "-o", "d.json", "--serial", "5"],
        &dir,
        Some("9"),
    ));
    assert_eq!(bundle(&dir.join("d.json")).serial, 5, "the flag wins");

    let refused = meshc(
        &["build", "edge.mesh", "-o", "e.json"],
        &dir,
        Some("last tuesday"),
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(!dir.join("e.json").exists());
}

#[test]
fn sign_writes_a_signature_that_verifies_and_the_same_bytes_each_time() {
    let dir = program("sign");
    let (private, public) = key_pair_texts([9; 32]);
    std::fs::write(dir.join("ops.key"), private).unwrap();
    let args = [
        "build",
        "edge.mesh",
        "-o",
        "edge.json",
        "--serial",
        "3",
        "--sign",
        "ops.key",
    ];
    ok(&meshc(&args, &dir, None));
    let signature = std::fs::read_to_string(dir.join("edge.json.sig")).unwrap();
    let built = bundle(&dir.join("edge.json"));
    let signed = PublicKey::parse(&public)
        .unwrap()
        .verify(&signature)
        .unwrap();
    assert_eq!(signed.digest, built.digest);
    let text = std::fs::read(dir.join("edge.json")).unwrap();
    assert_eq!(signed.text_length, text.len() as u64);
    let first = std::fs::read(dir.join("edge.json")).unwrap();
    ok(&meshc(&args, &dir, None));
    assert_eq!(std::fs::read(dir.join("edge.json")).unwrap(), first);
    assert_eq!(
        std::fs::read_to_string(dir.join("edge.json.sig")).unwrap(),
        signature,
        "ed25519 signatures are deterministic"
    );
    // Compressed: the signature vouches for the text inside, the compact canonical form.
    let compressed_args = args.map(|arg| {
        if arg == "edge.json" {
            "edge.json.zst"
        } else {
            arg
        }
    });
    ok(&meshc(&compressed_args, &dir, None));
    let zst_signature = std::fs::read_to_string(dir.join("edge.json.zst.sig")).unwrap();
    let signed = PublicKey::parse(&public)
        .unwrap()
        .verify(&zst_signature)
        .unwrap();
    assert_eq!(signed.digest, built.digest);
    assert_eq!(signed.text_length, built.to_canonical_json().len() as u64);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn a_bad_key_or_standard_output_with_sign_writes_nothing() {
    let dir = program("badkey");
    std::fs::write(dir.join("bad.key"), "not a key\n").unwrap();
    let (_, public) = key_pair_texts([4; 32]);
    std::fs::write(dir.join("ops.pub"), public).unwrap();
    for key in ["bad.key", "ops.pub", "missing.key"] {
        let out = meshc(
            &["build", "edge.mesh", "-o", "edge.json", "--sign", key],
            &dir,
            None,
        );
        assert_eq!(out.status.code(), Some(2), "{key}");
        assert!(!dir.join("edge.json").exists(), "{key}");
        assert!(!dir.join("edge.json.sig").exists(), "{key}");
    }
    let out = meshc(
        &["build", "edge.mesh", "-o", "-", "--sign", "bad.key"],
        &dir,
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--sign needs an output file"));
}
