//! meshd raises its soft open-file limit to the hard limit at start: started by `prlimit` with a
//! soft limit of 256, the running process has the hard limit as its soft limit, and says so.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// The soft and hard "Max open files" of a process, from /proc.
fn open_file_limits(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line");
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

#[test]
fn meshd_raises_its_soft_open_file_limit_to_the_hard_limit() {
    let hard = open_file_limits(std::process::id()).1;
    if hard <= 256 {
        eprintln!("skipped: the hard limit here is {hard}, nothing to raise to");
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    let program = dir.join("edge.mesh");
    std::fs::write(
        &program,
        "gateway edge { listen \"127.0.0.1:0\" route a { match GET \"/\" public respond 200 \"x\" } }",
    )
    .unwrap();
    // prlimit sets the limits, then executes meshd in its place (same pid).
    let mut child = Command::new("prlimit")
        .arg(format!("--nofile=256:{hard}"))
        .arg(env!("CARGO_BIN_EXE_meshd"))
        .args(["run", program.to_str().unwrap(), "--admin", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("prlimit (util-linux) runs meshd");
    let mut said = Vec::new();
    let mut raised = None;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.contains("open file limit raised") {
            raised = Some(line.clone());
        }
        let ready = line.contains("admin listening");
        said.push(line);
        if ready {
            break;
        }
    }
    let limits = open_file_limits(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let raised = raised.unwrap_or_else(|| panic!("meshd said:\n{}", said.join("\n")));
    assert!(
        raised.contains("from=256") && raised.contains(&format!("to={hard}")),
        "{raised}"
    );
    assert_eq!(limits, (hard, hard));
}
