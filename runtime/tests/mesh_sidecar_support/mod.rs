//! The mesh of `mesh_sidecar.rs`: a CA made by `meshd ca`, one `meshd sidecar` process per
//! service in front of a real HTTP app, an optional gateway, and the helpers the tests read them
//! with.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use meshd::mesh::identity::{IdentityStore, OutboundTls};
use meshwork_bundle::mesh_policy::ServiceHosts;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::mesh_identity_support::{Scratch, TestCa};
use crate::meshd_process::{sidecar_args, MeshdProcess};
use crate::support::{client, send, Answer, Behaviour, Upstream};

pub const SERVICES: [&str; 3] = ["picard", "riker", "data"];

/// The mesh rules; line numbers matter (the 403s name them).
pub const MESH_STRICT: &str = r#"mesh {
  default deny
  trust_domain "starfleet"
  mtls strict
  allow edge -> [picard, data]
  allow picard -> riker when request.method == "GET"
  deny * -> data when request.headers["x-alert"] == "red"
  allow picard -> data
  allow riker -> data
  deny edge -> [picard] when request.method == "POST"
}
"#;

/// The same mesh after a reload: permissive, and picard may POST to riker.
pub const MESH_PERMISSIVE: &str = r#"mesh {
  default deny
  trust_domain "starfleet"
  mtls permissive
  allow edge -> [picard, data]
  allow picard -> riker
  deny * -> data when request.headers["x-alert"] == "red"
  allow picard -> data
  allow riker -> data
}
"#;

pub struct Sidecar {
    pub process: MeshdProcess,
    pub inbound: SocketAddr,
    pub outbound: SocketAddr,
    pub app: Upstream,
}

pub struct Mesh {
    pub temp: Scratch,
    pub ca: TestCa,
    pub program: PathBuf,
    pub endpoints: Vec<(&'static str, SocketAddr)>,
    pub sidecars: Vec<Sidecar>,
    /// Arguments every sidecar gets besides the fixture's own.
    pub sidecar_args: Vec<String>,
    /// Apps of the test's own in place of the fixture's echo server, by service.
    pub app_overrides: Vec<(&'static str, SocketAddr)>,
}

pub fn services_source(endpoints: &[(&str, SocketAddr)], impostor: SocketAddr) -> String {
    let mut source = String::from(
        "gateway edge {\n  listen \"127.0.0.1:0\"\n  route officers { match GET prefix \"/officers\" public forward picard }\n  route orders { match POST prefix \"/orders\" public forward picard }\n}\n",
    );
    for (name, address) in endpoints {
        source.push_str(&format!(
            "service {name} {{ endpoints [\"{address}\"] timeout 5s }}\n"
        ));
    }
    // A service whose only endpoint is data's sidecar: whoever calls it meets data's certificate.
    source.push_str(&format!(
        "service impostor {{ endpoints [\"{impostor}\"] timeout 5s }}\n"
    ));
    source
}

impl Mesh {
    pub async fn start(name: &str) -> Mesh {
        Mesh::start_with(name, MESH_STRICT, &[]).await
    }

    /// The mesh with other rules (`mesh_source`) and more sidecar arguments.
    pub async fn start_with(name: &str, mesh_source: &str, sidecar_args: &[&str]) -> Mesh {
        Mesh::start_with_apps(name, mesh_source, sidecar_args, &[]).await
    }

    /// [`Mesh::start_with`], with the test's own app behind the named services' sidecars.
    pub async fn start_with_apps(
        name: &str,
        mesh_source: &str,
        sidecar_args: &[&str],
        apps: &[(&'static str, SocketAddr)],
    ) -> Mesh {
        let temp = Scratch::new(&format!("sidecar-{name}"));
        let ca = TestCa::init(temp.path("ca"), "starfleet");
        for workload in SERVICES.iter().chain(&["impostor"]) {
            ca.issue(workload, &temp.path(workload), &[]);
        }
        let edge = temp.path("edge");
        let output = crate::mesh_identity_support::run_meshd(&[
            "ca",
            "issue",
            ca.dir.to_str().unwrap(),
            "--gateway",
            "edge",
            "--out",
            edge.to_str().unwrap(),
        ]);
        assert!(output.status.success(), "{output:?}");
        // Each sidecar binds its inbound listener on an ephemeral port first; the program then
        // names those addresses as the services' endpoints, and every sidecar reloads it.
        let placeholder: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let mut endpoints: Vec<(&'static str, SocketAddr)> =
            SERVICES.iter().map(|s| (*s, placeholder)).collect();
        let program = temp.path("program");
        std::fs::create_dir_all(&program).unwrap();
        std::fs::write(
            program.join("services.mesh"),
            services_source(&endpoints, placeholder),
        )
        .unwrap();
        std::fs::write(program.join("mesh.mesh"), mesh_source).unwrap();
        let mut mesh = Mesh {
            temp,
            ca,
            program,
            endpoints: Vec::new(),
            sidecars: Vec::new(),
            sidecar_args: sidecar_args.iter().map(|s| s.to_string()).collect(),
            app_overrides: apps.to_vec(),
        };
        for (index, service) in SERVICES.iter().enumerate() {
            let sidecar = mesh.start_sidecar(service).await;
            endpoints[index].1 = sidecar.inbound;
            mesh.sidecars.push(sidecar);
        }
        let first = mesh.sidecars[0].process.digest();
        let data = endpoints[2].1;
        std::fs::write(
            mesh.program.join("services.mesh"),
            services_source(&endpoints, data),
        )
        .unwrap();
        for sidecar in &mesh.sidecars {
            crate::support::eventually(
                "the sidecar serves the program with its endpoint",
                async || sidecar.process.digest() != first,
            )
            .await;
        }
        mesh.endpoints = endpoints;
        mesh
    }

    pub async fn start_sidecar(&self, service: &'static str) -> Sidecar {
        let app = Upstream::start(service, Behaviour::Answer).await;
        let app_address = self
            .app_overrides
            .iter()
            .find(|(name, _)| *name == service)
            .map_or(app.address, |(_, address)| *address);
        let certs = self.temp.path(service);
        let mut args = sidecar_args(&self.program, service, &app_address.to_string(), &certs);
        args.extend(["--drain-delay", "500ms", "--drain-timeout", "20s"].map(String::from));
        args.extend(self.sidecar_args.iter().cloned());
        let process = tokio::task::spawn_blocking(move || MeshdProcess::start(&args))
            .await
            .unwrap();
        let line = process.wait_for_line(|l| l.contains("sidecar outbound listening"));
        let outbound = address_after(&line, "address=");
        let line = process.wait_for_line(|l| l.contains("sidecar inbound listening"));
        let inbound = address_after(&line, "address=");
        Sidecar {
            process,
            inbound,
            outbound,
            app,
        }
    }

    pub fn sidecar(&self, service: &str) -> &Sidecar {
        let index = SERVICES.iter().position(|s| *s == service).unwrap();
        &self.sidecars[index]
    }

    /// The app beside `from` calls `method http://to/path` through its sidecar.
    pub async fn call(
        &self,
        from: &str,
        method: &str,
        to: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Answer {
        let outbound = self.sidecar(from).outbound;
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("http://{outbound}{path}"))
            .header("host", to);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        send(&client(), builder.body(Full::new(Bytes::new())).unwrap()).await
    }

    /// What `meshc explain --from` says of the call: (allowed, the `x-meshwork-denied-by` value).
    pub fn explain(&self, from: &str, line: &str, headers: &[String]) -> (bool, String) {
        self.explain_with(from, line, headers, &ServiceHosts::default())
    }

    /// [`Mesh::explain`] with the caller's DNS search domains (`--search-domains`).
    pub fn explain_with(
        &self,
        from: &str,
        line: &str,
        headers: &[String],
        hosts: &ServiceHosts,
    ) -> (bool, String) {
        let compilation = meshc::compile_paths(std::slice::from_ref(&self.program)).unwrap();
        let bundle = compilation.bundle.expect("the program compiles");
        let request = meshc::explain::request_line::ExplainRequest::parse(line, headers).unwrap();
        let call = meshc::explain::mesh_call::decide_call(&bundle, &request, from, hosts).unwrap();
        (
            call.decision.is_allowed(),
            meshwork_bundle::mesh_policy::denied_by(&call.decision, &call.destination),
        )
    }
}

pub fn address_after(line: &str, key: &str) -> SocketAddr {
    line.split(key)
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {line}"))
}

/// The sum of every sample whose line starts with `prefix`.
pub fn metric(process: &MeshdProcess, prefix: &str) -> f64 {
    let (_, text) = process.admin_get("/metrics");
    text.lines()
        .filter(|line| line.starts_with(prefix))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Sends a plaintext request to `address`; the raw answer (empty when the server closed).
pub async fn plaintext(address: SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let _ = stream
        .write_all(b"GET /reports HTTP/1.1\r\nhost: riker\r\nconnection: close\r\n\r\n")
        .await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// A plaintext request under `mtls strict`: answered with a TLS alert record (rustls cannot
/// read an HTTP request as a handshake) or nothing, never with HTTP.
pub fn assert_refused_plaintext(answer: &str) {
    assert!(
        answer.is_empty() || answer.starts_with('\u{15}'),
        "plaintext got an answer: {answer:?}"
    );
}

pub fn workload(dir: &Path) -> OutboundTls {
    OutboundTls::new(IdentityStore::load(dir).unwrap(), &[b"http/1.1"])
}

impl Mesh {
    pub fn start_gateway_args(&self) -> Vec<String> {
        [
            "run",
            self.program.to_str().unwrap(),
            "--mesh-certs",
            self.temp.path("edge").to_str().unwrap(),
            "--admin",
            "127.0.0.1:0",
            "--workers",
            "1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }
}
