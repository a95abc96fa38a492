//! The meshd binary: exit codes and messages of `run` on bad input, and the signing tools.

use std::process::{Command, Stdio};

fn meshd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_meshd"))
}

/// A scratch directory named after `name`, removed when dropped.
fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("meshd-cli-{name}-"))
        .tempdir()
        .unwrap()
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
    let path = dir.path().join("edge.json");
    std::fs::write(&path, bundle.to_pretty_json()).unwrap();
    let stderr = run_and_fail(&[path.to_str().unwrap()]);
    assert!(stderr.contains("digest mismatch"), "{stderr}");
}

#[test]
fn run_refuses_what_is_neither_a_bundle_nor_sources() {
    let dir = temp_dir("other");
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "hello").unwrap();
    let stderr = run_and_fail(&[notes.to_str().unwrap()]);
    assert!(
        stderr.contains("neither a bundle (.json, .json.zst) nor a .mesh source"),
        "{stderr}"
    );
    let stderr = run_and_fail(&[dir.path().join("missing.json").to_str().unwrap()]);
    assert!(stderr.contains("does not exist"), "{stderr}");
}

#[test]
fn run_shows_the_diagnostics_of_sources_that_do_not_compile() {
    let dir = temp_dir("broken");
    let source = dir.path().join("broken.mesh");
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
    let bundle = dir.path().join("edge.json");
    std::fs::write(&bundle, compilation.bundle.unwrap().to_pretty_json()).unwrap();
    let prefix = dir.path().join("ops");
    assert!(meshd()
        .args(["keygen", "--out", prefix.to_str().unwrap()])
        .status()
        .unwrap()
        .success());
    let key = dir.path().join("ops.key");
    let public = dir.path().join("ops.pub");
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

/// Runs `meshd run` on `source` and returns its stderr lines up to the first containing `needle`
/// (or panics after 30 s), with the child to stop.
fn run_until_line(name: &str, source: &str, needle: &str) -> (std::process::Child, Vec<String>) {
    use std::io::BufRead;
    let dir = temp_dir(name);
    let file = dir.path().join("main.mesh");
    std::fs::write(&file, source).unwrap();
    let mut child = meshd()
        .arg("run")
        .arg(&file)
        .args(["--admin", "127.0.0.1:0", "--no-access-log"])
        .env("MESHD_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (found, wait) = std::sync::mpsc::channel();
    let needle = needle.to_owned();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            let last = line.contains(&needle);
            seen.push(line);
            if last {
                let _ = found.send(std::mem::take(&mut seen));
            }
        }
    });
    match wait.recv_timeout(std::time::Duration::from_secs(30)) {
        Ok(lines) => (child, lines),
        Err(_) => {
            let _ = child.kill();
            panic!("meshd never logged a line with {name:?}");
        }
    }
}

#[test]
fn run_without_brokers_starts_the_embedded_broker_and_logs_its_bootstrap_address() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let (mut child, lines) = run_until_line(
        "bootstrap",
        r#"
gateway edge {
  listen "127.0.0.1:0"
  route log { match POST "/log" public produce topic "captains-log" acks all mode sync }
}
topic "captains-log" { partitions 3 }
"#,
        // Not the bootstrap line itself: the bundle's topics exist once meshd serves it.
        "serving bundle",
    );
    let line = lines
        .iter()
        .find(|line| line.contains("bootstrap"))
        .unwrap_or_else(|| panic!("no bootstrap line in {lines:#?}"));
    let address = line
        .split_whitespace()
        .skip_while(|word| !word.ends_with("bootstrap"))
        .nth(1)
        .unwrap_or_else(|| panic!("no address after `bootstrap` in {line:?}"))
        .to_owned();
    assert!(address.starts_with("127.0.0.1:"), "{line}");
    // A real Kafka client finds the bundle's topic there, with its declared partitions.
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &address)
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some("captains-log"), std::time::Duration::from_secs(10))
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(metadata.topics()[0].partitions().len(), 3);
}

#[test]
fn run_without_kafka_in_the_bundle_starts_no_broker() {
    let (mut child, lines) = run_until_line(
        "no-kafka",
        "gateway edge { listen \"127.0.0.1:0\" route a { match GET \"/\" public respond 200 \"x\" } }",
        "serving bundle",
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        lines.iter().all(|line| !line.contains("bootstrap")),
        "{lines:#?}"
    );
}

#[test]
fn run_refuses_a_kafka_setting_it_does_not_pass_through() {
    let dir = temp_dir("kafka-setting");
    let file = dir.path().join("main.mesh");
    std::fs::write(
        &file,
        "gateway edge { listen \"127.0.0.1:0\" route a { match GET \"/\" public respond 200 \"x\" } }",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let stderr = run_and_fail(&[path, "--kafka", "enable.idempotence=false"]);
    assert!(
        stderr.contains("enable.idempotence")
            && stderr.contains("security.protocol, sasl.*, ssl.*"),
        "{stderr}"
    );
    let stderr = run_and_fail(&[path, "--kafka", "security.protocol=carrier-pigeon"]);
    assert!(
        stderr.contains("librdkafka refuses") && stderr.contains("security.protocol"),
        "{stderr}"
    );
}

/// `--demo-upstreams` makes a throwaway CA under the temporary directory before the gateway
/// starts; a start that then fails (here: the admin port is taken) removes it, as a stop does.
#[test]
fn a_demo_that_cannot_start_leaves_no_ca_behind() {
    let tmp = temp_dir("demo-ca");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let admin = taken.local_addr().unwrap().to_string();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/starfleet");
    let output = meshd()
        .args(["run", example, "--demo-upstreams", "--admin", &admin])
        .env("TMPDIR", tmp.path())
        .env("PICARD_KEY", "picard-key")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Address already in use"), "{stderr}");
    assert!(stderr.contains("throwaway CA created"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
