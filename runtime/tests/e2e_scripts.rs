//! Runs the end-to-end scripts in `tests/e2e/` against the real binary, on free ports: the
//! starfleet example driven with curl, and its Kafka side posted to with curl and read and
//! written with kcat against the embedded broker. A script is skipped, with the reason printed,
//! only when a tool it drives is not installed (`.ci/run` installs them).

use std::net::TcpListener;
use std::process::Command;

/// How long a script may run (`timeout`'s duration): each of its waits is bounded at 20 s.
const SCRIPT_TIMEOUT: &str = "300s";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `tests/e2e/<script>` on the example, moved to free ports; fails with its output.
fn run_script(script: &str, tools: &[(&str, &str)]) {
    for (tool, version_flag) in tools {
        if Command::new(tool).arg(version_flag).output().is_err() {
            println!("SKIP {script}: {tool} is not installed (.ci/run installs it; apt-get install {tool})");
            return;
        }
    }
    let manifest = env!("CARGO_MANIFEST_DIR");
    // A port chosen here can be taken by another test's process before meshd binds it: the
    // script then exits 75 (EX_TEMPFAIL) and runs again on other ports. A script that hangs
    // (a tool waiting for ever) is ended by `timeout` and fails.
    let mut attempts = 0;
    let output = loop {
        attempts += 1;
        let ports: Vec<String> = (0..7).map(|_| free_port().to_string()).collect();
        let output = Command::new("timeout")
            .args([SCRIPT_TIMEOUT, "bash"])
            .arg(format!("{manifest}/tests/e2e/{script}"))
            .arg(env!("CARGO_BIN_EXE_meshd"))
            .env("EXAMPLE", format!("{manifest}/../examples/starfleet"))
            .env("EDGE_PORT", &ports[0])
            .env("ADMIN_PORT", &ports[1])
            .env("UPSTREAM_PORTS", ports[2..].join(" "))
            .output()
            .unwrap();
        if output.status.code() != Some(75) || attempts == 3 {
            break output;
        }
        println!("{script}: a port was taken before meshd bound it; again on other ports");
    };
    assert_ne!(
        output.status.code(),
        Some(124),
        "{script} did not finish in {SCRIPT_TIMEOUT}:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_starfleet_example_behaves_as_documented_under_curl() {
    run_script("starfleet.sh", &[("curl", "--version")]);
}

#[test]
fn the_starfleet_log_reaches_its_topics_as_kcat_sees_them() {
    run_script("kafka_kcat.sh", &[("curl", "--version"), ("kcat", "-V")]);
}

#[test]
fn the_starfleet_alerts_stream_to_curl_as_the_readme_shows() {
    run_script("sse_alerts.sh", &[("curl", "--version"), ("kcat", "-V")]);
}
