//! The pieces of `websocket.rs`: a real WebSocket server and client (PyPI `websockets`, scripts in
//! `websocket_fixtures/`) run as processes whose stdout lines the tests wait on, and meshd gateway
//! and sidecar processes to put between them.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::mesh_identity_support::{run_meshd, Scratch, TestCa};
use crate::meshd_process::{sidecar_args, MeshdProcess};

/// How long a test waits for a process to say something.
pub const PATIENCE: Duration = Duration::from_secs(120);

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/websocket_fixtures")
        .join(name)
}

/// A Python process of `websocket_fixtures/`, its stdout kept line by line.
pub struct PyProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Arc<Mutex<Vec<String>>>,
    news: Mutex<mpsc::Receiver<String>>,
}

impl PyProcess {
    pub fn start(script: &str, args: &[String]) -> PyProcess {
        let mut child = Command::new("python3")
            .arg(fixture(script))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 starts (the tests need PyPI `websockets`)");
        let stdout = child.stdout.take().expect("piped stdout");
        let stdin = child.stdin.take();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (sender, news) = mpsc::channel();
        let kept = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                kept.lock().unwrap().push(line.clone());
                let _ = sender.send(line);
            }
        });
        PyProcess {
            child,
            stdin,
            lines,
            news: Mutex::new(news),
        }
    }

    /// Every line printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The next line printed (in order), waiting for it.
    pub fn next_line(&self) -> String {
        self.news
            .lock()
            .unwrap()
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("the script said nothing more; so far: {:?}", self.lines()))
    }

    /// Waits for a line `want` accepts, skipping others.
    pub fn wait_for(&self, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .news
                .lock()
                .unwrap()
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no such line; so far: {:?}", self.lines()));
            if want(&line) {
                return line;
            }
        }
    }

    /// Writes a line to the script's stdin (what `hold` and `slow` wait for).
    pub fn tell(&mut self) {
        let stdin = self.stdin.as_mut().expect("stdin");
        stdin.write_all(b"go\n").unwrap();
        stdin.flush().unwrap();
    }
}

impl Drop for PyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The WebSocket server, and the paths it accepted upgrades on.
pub struct EchoServer {
    pub process: PyProcess,
    pub address: SocketAddr,
}

impl EchoServer {
    pub fn start() -> EchoServer {
        let process = PyProcess::start("ws_echo_server.py", &[]);
        let line = process.wait_for(|l| l.starts_with("listening "));
        let port: u16 = line["listening ".len()..].trim().parse().unwrap();
        EchoServer {
            process,
            address: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    /// How many upgrades it accepted on paths starting with `prefix`.
    pub fn handshakes(&self, prefix: &str) -> usize {
        self.process
            .lines()
            .iter()
            .filter(|l| l.starts_with(&format!("handshake {prefix}")))
            .count()
    }
}

/// Runs the client in `mode` against `uri` with extra arguments.
pub fn ws_client(mode: &str, uri: &str, extra: &[&str]) -> PyProcess {
    let mut args = vec![mode.to_string(), uri.to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    PyProcess::start("ws_client.py", &args)
}

/// The client's one result line.
pub fn ws_result(mode: &str, uri: &str, extra: &[&str]) -> String {
    ws_client(mode, uri, extra).next_line()
}

pub use crate::process_memory::rss_kib;

/// The sum of every sample of `/metrics` whose line starts with `prefix`.
pub fn metric(process: &MeshdProcess, prefix: &str) -> f64 {
    let (_, text) = process.admin_get("/metrics");
    text.lines()
        .filter(|line| line.starts_with(prefix))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Polls `check` until it holds (a metric that follows a close the test caused).
pub fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A gateway process serving `source` (written to a fresh directory).
pub fn start_gateway(temp: &Scratch, source: &str) -> MeshdProcess {
    let program = temp.path("program");
    std::fs::create_dir_all(&program).unwrap();
    std::fs::write(program.join("edge.mesh"), source).unwrap();
    let args: Vec<String> = [
        "run",
        program.to_str().unwrap(),
        "--admin",
        "127.0.0.1:0",
        "--workers",
        "1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    MeshdProcess::start(&args)
}

/// Two sidecars with mutual TLS: `picard` (whose outbound listener the client uses) and `riker`
/// (in front of the WebSocket server), and the gateway `edge`, which calls riker over mTLS with
/// its own identity (route `chat`: `/chat…` to riker).
pub struct SidecarPair {
    _temp: Scratch,
    pub picard: MeshdProcess,
    pub picard_outbound: SocketAddr,
    pub riker: MeshdProcess,
    pub gateway: MeshdProcess,
}

fn address_after(line: &str, key: &str) -> SocketAddr {
    line.split(key)
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {line}"))
}

fn services(picard: SocketAddr, riker: SocketAddr, mesh: &str) -> String {
    format!(
        "gateway edge {{\n  listen \"127.0.0.1:0\"\n  route chat {{ match GET prefix \"/chat\" public forward riker }}\n}}\nservice picard {{ endpoints [\"{picard}\"] timeout 5s }}\nservice riker {{ endpoints [\"{riker}\"] timeout 5s }}\n{mesh}"
    )
}

impl SidecarPair {
    /// Starts both sidecars on ephemeral ports, then gives them the program naming those ports.
    pub fn start(app: SocketAddr, picard_app: SocketAddr, mesh: &str) -> SidecarPair {
        let temp = Scratch::new("websocket-sidecars");
        let ca = TestCa::init(temp.path("ca"), "starfleet");
        for workload in ["picard", "riker"] {
            ca.issue(workload, &temp.path(workload), &[]);
        }
        let edge = temp.path("edge");
        let ca_dir = ca.dir.to_str().unwrap();
        let issued = run_meshd(&[
            "ca",
            "issue",
            ca_dir,
            "--gateway",
            "edge",
            "--out",
            edge.to_str().unwrap(),
        ]);
        assert!(issued.status.success(), "{issued:?}");
        let program = temp.path("program");
        std::fs::create_dir_all(&program).unwrap();
        let placeholder: SocketAddr = "127.0.0.1:1".parse().unwrap();
        std::fs::write(
            program.join("mesh.mesh"),
            services(placeholder, placeholder, mesh),
        )
        .unwrap();
        let start = |service: &str, app: SocketAddr| {
            let app = app.to_string();
            let args = sidecar_args(&program, service, &app, &temp.path(service));
            let process = MeshdProcess::start(&args);
            let outbound = address_after(
                &process.wait_for_line(|l| l.contains("sidecar outbound listening")),
                "address=",
            );
            let inbound = address_after(
                &process.wait_for_line(|l| l.contains("sidecar inbound listening")),
                "address=",
            );
            (process, inbound, outbound)
        };
        let (picard, picard_inbound, picard_outbound) = start("picard", picard_app);
        let (riker, riker_inbound, _) = start("riker", app);
        let first = picard.digest();
        std::fs::write(
            program.join("mesh.mesh"),
            services(picard_inbound, riker_inbound, mesh),
        )
        .unwrap();
        eventually(
            "both sidecars serve the program with their endpoints",
            || picard.digest() != first && riker.digest() != first,
        );
        let args: Vec<String> = [
            "run",
            program.to_str().unwrap(),
            "--mesh-certs",
            edge.to_str().unwrap(),
            "--admin",
            "127.0.0.1:0",
            "--workers",
            "1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let gateway = MeshdProcess::start(&args);
        SidecarPair {
            _temp: temp,
            picard,
            picard_outbound,
            riker,
            gateway,
        }
    }
}
