//! `meshd validate` end to end: the real binary on bundles written through the bundle types.

use std::path::Path;
use std::process::{Command, Output};

use meshwork_bundle::sample::starfleet_bundle;
use meshwork_bundle::Bundle;

mod scratch;
use scratch::Scratch;

fn validate(path: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshd"))
        .arg("validate")
        .arg(path)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_valid_bundle_prints_ok_with_digest_and_counts() {
    let scratch = Scratch::new("valid");
    let bundle = starfleet_bundle();
    let path = scratch.write("bundle.json", bundle.to_pretty_json().as_bytes());
    let output = validate(&path);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.starts_with("ok: "), "{stdout}");
    assert!(stdout.contains(&bundle.digest), "{stdout}");
    assert!(
        stdout.contains("(1 gateways, 3 routes, 2 services, 1 streams)"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1);
}

#[test]
fn an_empty_sealed_bundle_is_valid() {
    let scratch = Scratch::new("empty");
    let mut bundle = Bundle::new(meshwork_bundle::CompilerInfo {
        name: "meshc".to_string(),
        version: "0.0.0".to_string(),
    });
    bundle.seal();
    let path = scratch.write("bundle.json", bundle.to_canonical_json().as_bytes());
    assert_eq!(validate(&path).status.code(), Some(0));
}

#[test]
fn a_tampered_digest_exits_1() {
    let scratch = Scratch::new("tampered");
    let mut bundle = starfleet_bundle();
    bundle.gateways[0].routes[0].name = "admirals".to_string();
    let path = scratch.write("bundle.json", bundle.to_pretty_json().as_bytes());
    let output = validate(&path);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("digest mismatch"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn a_schema_violation_exits_1_and_prints_the_pointer() {
    let scratch = Scratch::new("schema");
    let mut document: serde_json::Value =
        serde_json::from_str(&starfleet_bundle().to_canonical_json()).unwrap();
    document["gateways"][0]["routes"][2]["action"]["status"] = serde_json::Value::from(42);
    document["mesh"]["surprise"] = serde_json::Value::Bool(true);
    let path = scratch.write("bundle.json", serde_json::to_vec(&document).unwrap());
    let output = validate(&path);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("at /gateways/0/routes/2/action"),
        "{stderr}"
    );
    assert!(stderr.contains("at /mesh:"), "{stderr}");
    assert!(stderr.contains("does not match the schema"), "{stderr}");
}

/// A value of the wrong type where a tag belongs makes the typed reader say "expected value",
/// the words of a syntax error; the document is JSON, so it is refused for what it holds.
#[test]
fn a_wrongly_typed_tag_is_a_schema_violation_not_malformed_json() {
    let scratch = Scratch::new("tag");
    let mut document: serde_json::Value =
        serde_json::from_str(&starfleet_bundle().to_canonical_json()).unwrap();
    document["graph"]["nodes"][0]["kind"] = serde_json::Value::Array(vec![]);
    let path = scratch.write("bundle.json", serde_json::to_vec(&document).unwrap());
    let output = validate(&path);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("does not match the schema"), "{stderr}");
    assert!(stderr.contains("at /graph/nodes/0"), "{stderr}");
    assert!(!stderr.contains("not valid JSON"), "{stderr}");
}

#[test]
fn malformed_json_exits_1() {
    let scratch = Scratch::new("malformed");
    let path = scratch.write("bundle.json", b"{\"format_version\": 1,");
    let output = validate(&path);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("not valid JSON"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn non_utf8_exits_1() {
    let scratch = Scratch::new("utf8");
    let path = scratch.write("bundle.json", b"{\"digest\": \"\xff\"}");
    let output = validate(&path);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("not UTF-8"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn a_missing_file_exits_2() {
    let scratch = Scratch::new("missing");
    let output = validate(&scratch.path("absent.json"));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("cannot read"),
        "{}",
        text(&output.stderr)
    );
}

/// A bundle that matches the schema and its digest but whose program does not build (meshc
/// never writes one; another tool or a hand edit can) is refused as `meshd run` would refuse
/// it, every reason listed with its place: each part meshd compiles at load is reached.
#[test]
fn a_bundle_whose_program_does_not_build_is_refused_listing_every_reason() {
    use meshwork_bundle::{AdmissionStep, Balance, RouteAction, TopicSchema};

    let scratch = Scratch::new("program");
    let mut bundle = starfleet_bundle();
    let deep = format!("{}true{}", "(".repeat(100), ")".repeat(100));
    for route in &mut bundle.gateways[0].routes {
        for step in &mut route.admission {
            if let AdmissionStep::Condition { cel, .. } = step {
                *cel = "request.method ==".to_string();
            }
        }
        if let RouteAction::Produce { key, .. } = &mut route.action {
            *key = Some(deep.clone());
        }
    }
    for service in &mut bundle.services {
        if let Balance::Hash { cel } = &mut service.balance {
            *cel = "request.headers[".to_string();
        }
    }
    bundle.mesh.rules[0].when = Some("source.service ==".to_string());
    bundle.mesh.faults[0].when = Some(deep);
    bundle.streams[0].when = Some("event.value ==".to_string());
    bundle.topics[0].schema = Some(TopicSchema {
        path: "captains-log.schema.json".to_string(),
        document: serde_json::json!({"type": "strng"}),
    });
    bundle.seal();
    let path = scratch.write("bundle.json", bundle.to_pretty_json().as_bytes());
    let output = validate(&path);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("its program does not build (7 error(s))"),
        "{stderr}"
    );
    for expected in [
        "route `officers`: condition",
        "route `captains_log`: record key",
        "nests deeper than 64 levels",
        "balance hash(request.headers[)",
        "mesh rule at edge.mesh:38: `when source.service ==`",
        "mesh pair `edge -> riker`: fault condition",
        "stream `red_alerts`",
        "topic `captains-log`: its schema",
    ] {
        assert!(stderr.contains(expected), "{expected} in {stderr}");
    }
    assert!(output.stdout.is_empty());
}

/// A fleet moving from first-format signatures (over the digest alone): refused with a message
/// saying to sign again, accepted with `--accept-v1-signatures` (checked on the digest of the
/// bundle read whole), and a first-format signature of another bundle is refused either way.
#[test]
fn first_format_signatures_are_refused_unless_a_fleet_is_moving_from_them() {
    use meshwork_bundle::signature::{key_pair_texts, sign_first_format};

    let scratch = Scratch::new("first-format");
    let (private, public) = key_pair_texts([31; 32]);
    let key = scratch.write("ops.pub", public.as_bytes());
    let bundle = starfleet_bundle();
    let path = scratch.write("bundle.json", bundle.to_pretty_json().as_bytes());
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_meshd"))
            .arg("validate")
            .arg(&path)
            .arg("--verify-key")
            .arg(&key)
            .args(extra)
            .output()
            .unwrap()
    };
    let signature = sign_first_format(&private, &bundle.digest).unwrap();
    scratch.write("bundle.json.sig", signature.as_bytes());
    let refused = run(&[]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("sign the bundle again"),
        "{}",
        text(&refused.stderr)
    );
    let accepted = run(&["--accept-v1-signatures"]);
    assert_eq!(
        accepted.status.code(),
        Some(0),
        "{}",
        text(&accepted.stderr)
    );
    assert!(text(&accepted.stdout).contains("signature verified"));
    let other = sign_first_format(&private, &format!("sha256:{}", "1".repeat(64))).unwrap();
    scratch.write("bundle.json.sig", other.as_bytes());
    let forged = run(&["--accept-v1-signatures"]);
    assert_eq!(forged.status.code(), Some(1));
    assert!(
        text(&forged.stderr).contains("does not verify"),
        "{}",
        text(&forged.stderr)
    );
}
