//! Injected faults over real sockets: the abort share over a few thousand requests (seeded, so
//! the same requests are faulted on every run), aborts never reach the upstream, delays are
//! applied, a `when` scopes the fault to the callers under test, and every fault shows in
//! `meshd_faults_injected_total` and in the access log.

mod scratch;
mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use meshd::RunningServer;
use support::*;

fn program(upstream: SocketAddr, faults: &str) -> String {
    format!(
        "gateway edge {{\n  listen \"127.0.0.1:0\"\n  route all {{\n    match * prefix \"/\"\n    public\n{faults}\n    forward crew\n  }}\n}}\nservice crew {{ endpoints [\"{upstream}\"] }}\n"
    )
}

async fn start_seeded(dir: &Scratch, source: &str, seed: u64) -> RunningServer {
    let file = dir.path("main.mesh");
    std::fs::write(&file, source).unwrap();
    let mut options = test_options(vec![file]);
    options.fault_seed = Some(seed);
    start_with(options).await
}

/// The statuses of `n` sequential GETs on one keep-alive connection pool.
async fn statuses(address: SocketAddr, n: usize, headers: &[(&str, &str)]) -> Vec<u16> {
    let client = client();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut builder = http::Request::get(format!("http://{address}/officers"));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        out.push(send(&client, request).await.status.as_u16());
    }
    out
}

/// The value of the first sample line of the metrics text that contains every one of `parts`.
fn sample(metrics: &str, parts: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| parts.iter().all(|p| l.contains(p)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_abort_share_holds_within_a_statistical_bound_and_aborts_never_reach_the_upstream() {
    const N: usize = 3000;
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("fault-share");
    let source = program(upstream.address, "    fault abort 20% 503");
    let server = start_seeded(&dir, &source, 1701).await;
    let edge = server.listener("edge").unwrap();

    let first = statuses(edge, N, &[]).await;
    let aborted = first.iter().filter(|s| **s == 503).count();
    let passed = first.iter().filter(|s| **s == 200).count();
    assert_eq!(aborted + passed, N, "only 200 and the injected 503");
    // Binomial(3000, 0.2): mean 600, standard deviation ~21.9; four deviations either side.
    let (mean, sd) = (N as f64 * 0.2, (N as f64 * 0.2 * 0.8).sqrt());
    assert!(
        (aborted as f64 - mean).abs() <= 4.0 * sd,
        "{aborted} of {N} aborted, expected {mean} ± {}",
        4.0 * sd
    );
    assert_eq!(
        upstream.requests(),
        passed,
        "an aborted request never reaches the upstream"
    );

    let metrics = admin_get(&server, "/metrics").await.body;
    assert_eq!(
        sample(
            &metrics,
            &[
                "meshd_faults_injected_total",
                "route=\"all\"",
                "fault=\"abort\""
            ]
        ),
        Some(aborted as f64),
        "{metrics}"
    );

    // The same seed faults the same requests: a second meshd gives the same sequence.
    let again_dir = Scratch::new("fault-share-again");
    let again = start_seeded(&again_dir, &source, 1701).await;
    let second = statuses(again.listener("edge").unwrap(), N, &[]).await;
    assert_eq!(first, second, "one seed, one sequence of faulted requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_condition_scopes_the_fault_to_the_callers_under_test() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("fault-when");
    let source = program(
        upstream.address,
        "    fault abort 100% 418 when request.headers[\"x-chaos\"] == \"on\"",
    );
    let server = start_seeded(&dir, &source, 3).await;
    let edge = server.listener("edge").unwrap();

    assert!(statuses(edge, 50, &[]).await.iter().all(|s| *s == 200));
    assert!(statuses(edge, 50, &[("x-chaos", "off")])
        .await
        .iter()
        .all(|s| *s == 200));
    let chaos = get(edge, "/officers", &[("x-chaos", "on")]).await;
    assert_eq!(chaos.status, 418);
    assert_eq!(chaos.json()["route"], "all", "{}", chaos.body);
    assert_eq!(upstream.requests(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delay_holds_the_request_before_it_is_forwarded() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("fault-delay");
    let source = program(
        upstream.address,
        "    fault delay 100% 400ms when request.headers[\"x-chaos\"] == \"slow\"",
    );
    let server = start_seeded(&dir, &source, 5).await;
    let edge = server.listener("edge").unwrap();

    let started = Instant::now();
    let slowed = get(edge, "/officers", &[("x-chaos", "slow")]).await;
    assert_eq!(slowed.status, 200, "a delay still forwards");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(get(edge, "/officers", &[]).await.status, 200);
    let metrics = admin_get(&server, "/metrics").await.body;
    assert_eq!(
        sample(
            &metrics,
            &["meshd_faults_injected_total", "fault=\"delay\""]
        ),
        Some(1.0),
        "only the request with the header was delayed:\n{metrics}"
    );
    assert_eq!(upstream.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_is_never_faulted() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("fault-after-admission");
    let source = program(
        upstream.address,
        "    when request.headers[\"x-ship\"] == \"enterprise\"\n    fault abort 100% 503",
    );
    let server = start_seeded(&dir, &source, 9).await;
    let edge = server.listener("edge").unwrap();
    assert_eq!(get(edge, "/officers", &[]).await.status, 403);
    assert_eq!(
        get(edge, "/officers", &[("x-ship", "enterprise")])
            .await
            .status,
        503
    );
    let metrics = admin_get(&server, "/metrics").await.body;
    assert_eq!(
        sample(
            &metrics,
            &["meshd_faults_injected_total", "fault=\"abort\""]
        ),
        Some(1.0),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_names_the_injected_fault() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("fault-log");
    let file = dir.path("main.mesh");
    std::fs::write(
        &file,
        program(
            upstream.address,
            "    fault abort 100% 503 when request.headers[\"x-chaos\"] == \"on\"\n    fault delay 100% 1ms when request.headers[\"x-chaos\"] == \"on\"",
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshd"))
        .arg("run")
        .arg(&file)
        .args([
            "--admin",
            "127.0.0.1:0",
            "--workers",
            "1",
            "--fault-seed",
            "11",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, received) = mpsc::channel::<(bool, String)>();
    for (is_stdout, stream) in [
        (
            true,
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        ),
        (false, Box::new(child.stderr.take().unwrap())),
    ] {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if lines.send((is_stdout, line)).is_err() {
                    break;
                }
            }
        });
    }
    let next_line = |want: &dyn Fn(bool, &str) -> bool| loop {
        let (is_stdout, line) = received
            .recv_timeout(Duration::from_secs(30))
            .expect("meshd wrote the expected line");
        if want(is_stdout, &line) {
            return line;
        }
    };
    let listening =
        next_line(&|out, l| !out && l.contains("listening (http)") && l.contains("gateway=edge"));
    let address: SocketAddr = listening
        .rsplit("address=")
        .next()
        .and_then(|a| a.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {listening:?}"));

    assert_eq!(get(address, "/plain", &[]).await.status, 200);
    let plain = next_line(&|out, l| out && l.contains("\"path\":\"/plain\""));
    assert_eq!(
        get(address, "/chaos", &[("x-chaos", "on")]).await.status,
        503
    );
    let faulted = next_line(&|out, l| out && l.contains("\"path\":\"/chaos\""));
    let _ = child.kill();
    let _ = child.wait();

    let plain: serde_json::Value = serde_json::from_str(&plain).unwrap();
    assert!(plain.get("fault").is_none(), "{plain}");
    let faulted: serde_json::Value = serde_json::from_str(&faulted).unwrap();
    assert_eq!(faulted["fault"], "delay+abort", "{faulted}");
    assert_eq!(faulted["status"], 503);
    assert_eq!(faulted["route"], "all");
    assert!(faulted["upstream"].is_null(), "{faulted}");
}
