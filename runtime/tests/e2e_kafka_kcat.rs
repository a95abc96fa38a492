//! Runs `tests/e2e/kafka_kcat.sh`: the starfleet example's Kafka side through the real binary and
//! its embedded broker, posted to with curl and read and written with kcat, on free ports.
//! Skipped, with the reason printed, only when kcat or curl is not installed.

use std::net::TcpListener;
use std::process::Command;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn installed(tool: &str, version_flag: &str) -> bool {
    Command::new(tool).arg(version_flag).output().is_ok()
}

#[test]
fn the_starfleet_log_reaches_its_topics_as_kcat_sees_them() {
    for (tool, flag) in [("curl", "--version"), ("kcat", "-V")] {
        if !installed(tool, flag) {
            println!("SKIP: {tool} is not installed (.ci/run installs it; apt-get install {tool})");
            return;
        }
    }
    let manifest = env!("CARGO_MANIFEST_DIR");
    let ports: Vec<String> = (0..6).map(|_| free_port().to_string()).collect();
    let output = Command::new("bash")
        .arg(format!("{manifest}/tests/e2e/kafka_kcat.sh"))
        .arg(env!("CARGO_BIN_EXE_meshd"))
        .env("EXAMPLE", format!("{manifest}/../examples/starfleet"))
        .env("EDGE_PORT", &ports[0])
        .env("ADMIN_PORT", &ports[1])
        .env("UPSTREAM_PORTS", ports[2..].join(" "))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
