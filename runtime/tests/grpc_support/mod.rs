//! Real gRPC peers for `grpc.rs`: the grpcio server and client in `grpc_fixtures/` (Python, no
//! generated code), a meshd gateway process serving a program written to a temporary directory,
//! and a throwaway CA (openssl) for an upstream that speaks h2 over TLS.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{json, Value};

use crate::meshd_process::MeshdProcess;

#[allow(unused_imports)] // not every test of a crate that includes this module uses it
pub use crate::scratch::Scratch;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/grpc_fixtures")
        .join(name)
}

/// The grpcio server of `grpc_fixtures/grpc_server.py`; stopped when dropped.
pub struct GrpcServer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    pub address: SocketAddr,
}

impl GrpcServer {
    /// A plaintext (h2c) server.
    pub fn start() -> GrpcServer {
        Self::spawn(&[])
    }

    /// A server speaking h2 over TLS with `cert` and `key` (PEM files).
    pub fn start_tls(cert: &Path, key: &Path) -> GrpcServer {
        Self::spawn(&["--tls", cert.to_str().unwrap(), key.to_str().unwrap()])
    }

    fn spawn(args: &[&str]) -> GrpcServer {
        let mut child = Command::new("python3")
            .arg(fixture("grpc_server.py"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the grpcio server (pip install grpcio grpcio-health-checking)");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        let port: u16 = line
            .strip_prefix("listening ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| match line.is_empty() {
                // python3 ended before its first line: an ImportError on stderr, above.
                true => panic!(
                    "the grpc server exited at start: its traceback is above; the gRPC tests \
                     need PyPI grpcio and grpcio-health-checking (.ci/run installs them)"
                ),
                false => panic!("the grpc server said {line:?}"),
            });
        GrpcServer {
            child,
            stdin,
            stdout,
            address: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    /// Sets what the server's health service says of `service`; returns once it took effect.
    pub fn set_serving(&mut self, service: &str, serving: bool) {
        let word = if serving { "serving" } else { "not_serving" };
        writeln!(self.stdin, "{word} {service}").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ok", "the grpc server said {line:?}");
    }
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One call with the grpcio client of `grpc_fixtures/grpc_client.py`; its JSON report.
pub fn grpc_call(call: Value) -> Value {
    let output = Command::new("python3")
        .arg(fixture("grpc_client.py"))
        .arg(call.to_string())
        .output()
        .expect("python3 runs the grpcio client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "the grpc client said {stdout:?}; stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// A unary `Append` of `message` to `target` with `metadata`.
pub fn append(target: SocketAddr, message: &str, metadata: &[(&str, &str)]) -> Value {
    grpc_call(json!({
        "target": target.to_string(),
        "method": "Append",
        "messages": [message],
        "metadata": metadata,
    }))
}

/// The status name of a client report (`OK`, `UNAVAILABLE`, …).
pub fn code(report: &Value) -> &str {
    report["code"].as_str().unwrap_or("?")
}

/// A meshd gateway serving `source` (one `.mesh` file) from `scratch`.
pub fn gateway(scratch: &Scratch, source: &str) -> MeshdProcess {
    let program = scratch.path("program");
    std::fs::create_dir_all(&program).unwrap();
    let mut file = std::fs::File::create(program.join("edge.mesh")).unwrap();
    file.write_all(source.as_bytes()).unwrap();
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
    let process = MeshdProcess::start(&args);
    assert!(process.gateway.is_some(), "the gateway listens");
    process
}

/// A CA and a certificate for 127.0.0.1 signed by it (openssl): (ca.pem, cert.pem, key.pem).
pub fn tls_files(scratch: &Scratch) -> (PathBuf, PathBuf, PathBuf) {
    let dir = scratch.dir().to_str().unwrap();
    let script = format!(
        "set -e; cd {dir}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=test-ca \
  -keyout ca.key -out ca.pem -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 -keyout key.pem -out req.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > ext.cnf
openssl x509 -req -in req.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile ext.cnf -out cert.pem 2>/dev/null"
    );
    let status = Command::new("sh").arg("-c").arg(script).status().unwrap();
    assert!(status.success(), "openssl made the test certificates");
    (
        scratch.path("ca.pem"),
        scratch.path("cert.pem"),
        scratch.path("key.pem"),
    )
}
