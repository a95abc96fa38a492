//! meshd as a separate process (the real binary): started with arguments, its log lines read
//! back to learn its addresses, its admin endpoint queried, killed with SIGKILL when a test needs
//! a crash.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running meshd process; killed when dropped.
pub struct MeshdProcess {
    child: Child,
    /// The admin listener.
    pub admin: SocketAddr,
    /// The first gateway listener, when the bundle has one.
    pub gateway: Option<SocketAddr>,
    lines: Arc<Mutex<Vec<String>>>,
    news: Mutex<mpsc::Receiver<String>>,
}

/// How long a test waits for a process to say something.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The word after `key` in a log line (`address=127.0.0.1:8080`, `pid=42`), read as a `T`.
pub fn value_after<T: std::str::FromStr>(line: &str, key: &str) -> Option<T> {
    line.split(key)
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The meshd binary with `args` (`run …` and flags), logging at `TEST_MESHD_LOG` (info).
pub fn meshd_command(args: &[String]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_meshd"));
    command.args(args).env(
        "MESHD_LOG",
        std::env::var("TEST_MESHD_LOG").unwrap_or_else(|_| "info".into()),
    );
    command
}

/// `meshd sidecar PROGRAM --service SERVICE --app APP --certs CERTS` with its inbound, outbound
/// and admin listeners on ephemeral loopback ports, one worker, and the program's files compared
/// every 50 ms.
pub fn sidecar_args(program: &Path, service: &str, app: &str, certs: &Path) -> Vec<String> {
    [
        "sidecar",
        program.to_str().unwrap(),
        "--service",
        service,
        "--app",
        app,
        "--certs",
        certs.to_str().unwrap(),
        "--inbound",
        "127.0.0.1:0",
        "--outbound",
        "127.0.0.1:0",
        "--admin",
        "127.0.0.1:0",
        "--workers",
        "1",
        "--watch-interval-ms",
        "50",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Starts the meshd binary with `args` (`run …` and flags); does not wait for anything.
pub fn spawn_meshd(args: &[String]) -> (Child, Arc<Mutex<Vec<String>>>, mpsc::Receiver<String>) {
    spawn_logged(meshd_command(args))
}

/// Starts `command`, collecting what it writes (stderr and stdout) line by line.
pub fn spawn_logged(
    mut command: Command,
) -> (Child, Arc<Mutex<Vec<String>>>, mpsc::Receiver<String>) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("meshd starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let stdout = child.stdout.take().expect("piped stdout");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (sender, news) = mpsc::channel();
    // The log (stderr) and the access log (stdout, JSON lines) land in one list, each line whole.
    let readers: [Box<dyn std::io::Read + Send>; 2] = [Box::new(stderr), Box::new(stdout)];
    for reader in readers {
        let kept = Arc::clone(&lines);
        let sender = sender.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(reader).lines().map_while(Result::ok) {
                kept.lock().unwrap().push(line.clone());
                let _ = sender.send(line);
            }
        });
    }
    (child, lines, news)
}

impl MeshdProcess {
    /// Starts meshd and waits until its admin listener (and gateway, if any) is up.
    pub fn start(args: &[String]) -> MeshdProcess {
        MeshdProcess::start_command(meshd_command(args))
    }

    /// Starts `command` (from [`meshd_command`]) and waits as [`MeshdProcess::start`] does.
    pub fn start_command(command: Command) -> MeshdProcess {
        let (child, lines, news) = spawn_logged(command);
        let mut process = MeshdProcess {
            child,
            admin: "0.0.0.0:0".parse().unwrap(),
            gateway: None,
            lines,
            news: Mutex::new(news),
        };
        let deadline = Instant::now() + PATIENCE;
        loop {
            let line = process
                .news
                .lock()
                .unwrap()
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| {
                    panic!(
                        "meshd did not come up; it said:\n{}",
                        process.log().join("\n")
                    )
                });
            if line.contains("listening (http)") && process.gateway.is_none() {
                process.gateway = value_after(&line, "address=");
            }
            if line.contains("admin listening") {
                process.admin = value_after(&line, "address=").expect("admin address");
                return process;
            }
        }
    }

    /// Every line logged so far.
    pub fn log(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until a logged line (past or future) satisfies `want`; returns it.
    pub fn wait_for_line(&self, want: impl Fn(&str) -> bool) -> String {
        if let Some(line) = self.log().into_iter().find(|l| want(l)) {
            return line;
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self
                .news
                .lock()
                .unwrap()
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) if want(&line) => return line,
                Ok(_) => {}
                Err(_) => panic!(
                    "meshd never logged the expected line; it said:\n{}",
                    self.log().join("\n")
                ),
            }
        }
    }

    /// `GET path` on the admin listener: (status, body).
    pub fn admin_get(&self, path: &str) -> (u16, String) {
        http_get(self.admin, path).unwrap_or_else(|e| panic!("admin {path}: {e}"))
    }

    /// `/bundle` as JSON.
    pub fn bundle(&self) -> serde_json::Value {
        let (status, body) = self.admin_get("/bundle");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// The digest served.
    pub fn digest(&self) -> String {
        self.bundle()["digest"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// A metric's value (first line starting with `prefix`), 0 when absent.
    pub fn metric(&self, prefix: &str) -> f64 {
        let (_, text) = self.admin_get("/metrics");
        text.lines()
            .find(|line| line.starts_with(prefix))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
            .unwrap_or(0.0)
    }

    /// `GET path` on the gateway: (status, body).
    pub fn gateway_get(&self, path: &str) -> (u16, String) {
        let gateway = self.gateway.expect("the bundle has a gateway listener");
        http_get(gateway, path).unwrap_or_else(|e| panic!("gateway {path}: {e}"))
    }

    /// SIGKILL: no drain, no commit, no goodbye.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the process exits (as it does after a signal's drain).
    pub fn wait(&mut self) -> ExitStatus {
        self.child.wait().expect("meshd is waited for")
    }
}

impl Drop for MeshdProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A program written to a scratch directory of its own; removed when dropped.
pub struct ProgramDir(pub PathBuf);

impl Drop for ProgramDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl MeshdProcess {
    /// Writes `files` (name, text) to a fresh directory named after `name` and runs meshd on it:
    /// its gateways, two workers, no access log, admin on an ephemeral port.
    pub fn run_program(name: &str, files: &[(&str, &str)]) -> (MeshdProcess, ProgramDir) {
        let dir = std::env::temp_dir().join(format!("meshd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, text) in files {
            std::fs::write(dir.join(file), text).unwrap();
        }
        let args: Vec<String> = [
            "run",
            dir.to_str().unwrap(),
            "--admin",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--no-access-log",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        (MeshdProcess::start(&args), ProgramDir(dir))
    }

    /// Panics with `outcome`'s failure and what meshd logged, if it failed.
    pub fn assert_passed(&self, outcome: Result<(), impl std::fmt::Display>) {
        if let Err(failure) = outcome {
            panic!("{failure}\nmeshd said:\n{}", self.log().join("\n"));
        }
    }

    /// Asserts that nothing the process logged is a panic (a task that panicked dies alone; the
    /// process goes on, so only its log tells).
    pub fn assert_no_panic(&self) {
        let log = self.log();
        assert!(
            !log.iter().any(|line| line.contains("panicked")),
            "meshd panicked:\n{}",
            log.join("\n")
        );
    }
}

/// Runs meshd to completion (for start-up failures): its exit status and log.
pub fn run_meshd_to_exit(args: &[String]) -> (ExitStatus, String) {
    let (mut child, lines, _news) = spawn_meshd(args);
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            // Let the reader thread take the last lines.
            std::thread::sleep(Duration::from_millis(50));
            return (status, lines.lock().unwrap().join("\n"));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "meshd did not exit; it said:\n{}",
                lines.lock().unwrap().join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A one-shot HTTP/1.1 GET (`Connection: close`): (status, body).
pub fn http_get(to: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&to, Duration::from_secs(10))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {to}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok((status, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// Polls `condition` every 20 ms until it holds; panics with `what` after [`PATIENCE`].
pub fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
