//! Runs `tests/e2e/starfleet.sh`: the starfleet example driven with curl through the real binary,
//! on free ports. Skipped, with the reason printed, only when curl is not installed.

use std::net::TcpListener;
use std::process::Command;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_starfleet_example_behaves_as_documented_under_curl() {
    if Command::new("curl").arg("--version").output().is_err() {
        println!("skipped: curl is not installed (.ci/run installs it)");
        return;
    }
    let manifest = env!("CARGO_MANIFEST_DIR");
    let ports: Vec<String> = (0..6).map(|_| free_port().to_string()).collect();
    let output = Command::new("bash")
        .arg(format!("{manifest}/tests/e2e/starfleet.sh"))
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
