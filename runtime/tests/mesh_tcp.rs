//! `protocol tcp` end to end, with separate `meshd sidecar` processes on loopback: `db` is a plain
//! TCP echo server behind its sidecar; picard's and riker's apps reach it through their sidecars'
//! `--tcp db=…` listeners. The bytes go inside mutual TLS between the sidecars, the mesh allows
//! picard (`allow picard -> db`) and refuses riker (the default) before a byte reaches db, HTTP
//! addressed to db is refused, the counters say what happened, and a `--tcp` listener for a
//! service that does not speak tcp stops the sidecar at start.

mod mesh_identity_support;
#[allow(dead_code)]
#[path = "fleet_support/meshd_process.rs"]
mod meshd_process;
mod scratch;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mesh_identity_support::{Scratch, TestCa};
use meshd_process::{eventually, run_meshd_to_exit, sidecar_args, value_after, MeshdProcess};
use meshwork_bundle::mesh_policy::{denied_by, ServiceHosts};

/// A TCP echo server that first sends `greeting` (a server-speaks-first protocol's, when not
/// empty); the counter is how many connections it accepted.
fn echo_server(greeting: &'static [u8]) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                if stream.write_all(greeting).is_err() {
                    return;
                }
                let mut buffer = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buffer) {
                    if n == 0 || stream.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    (address, accepted)
}

/// An HTTP app that is never called (picard's and riker's own apps).
fn idle_app() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let _keep = listener;
        std::thread::park();
    });
    address
}

fn program(db: &[&str]) -> String {
    program_with(db, "")
}

/// The program with db at `db` (its endpoints) and `rules` added to the mesh block.
fn program_with(db: &[&str], rules: &str) -> String {
    let db = db.join("\", \"");
    format!(
        r#"service picard {{ endpoints ["127.0.0.1:1"] }}
service riker {{ endpoints ["127.0.0.1:2"] }}
service db {{
  endpoints ["{db}"]
  protocol tcp
}}
mesh {{
  default deny
  trust_domain "starfleet"
  mtls strict
  allow picard -> db
{rules}}}
"#
    )
}

fn sidecar(dir: &Path, service: &str, app: SocketAddr, extra: &[&str]) -> MeshdProcess {
    let program = dir.join("program");
    let mut args = sidecar_args(&program, service, &app.to_string(), &dir.join(service));
    args.extend(["--drain-delay", "0s"].map(String::from));
    args.extend(extra.iter().map(|s| s.to_string()));
    MeshdProcess::start(&args)
}

/// What `meshc explain --from FROM` decides for a connection to db: (allowed, deciding rule).
fn explain(program: &Path, from: &str) -> (bool, String) {
    let compilation = meshc::compile_paths(&[program.to_path_buf()]).unwrap();
    let bundle = compilation.bundle.expect("the program compiles");
    let request =
        meshc::explain::request_line::ExplainRequest::parse("GET http://db/", &[]).unwrap();
    let hosts = ServiceHosts::default();
    let call = meshc::explain::mesh_call::decide_call(&bundle, &request, from, &hosts).unwrap();
    (
        call.decision.is_allowed(),
        denied_by(&call.decision, &call.destination),
    )
}

/// The address a sidecar logged for its listener of `kind`.
fn listener(process: &MeshdProcess, kind: &str) -> SocketAddr {
    let line = process.wait_for_line(|l| l.contains(&format!("sidecar {kind} listening")));
    value_after(&line, "address=").expect("a listener address")
}

/// db's sidecar in front of the echo server, and picard's and riker's sidecars with a `--tcp`
/// listener for db (`db_args`: more flags for db's sidecar).
struct TcpMesh {
    temp: Scratch,
    accepted: Arc<AtomicUsize>,
    db: MeshdProcess,
    db_inbound: SocketAddr,
    picard: MeshdProcess,
    riker: MeshdProcess,
}

impl TcpMesh {
    fn start(name: &str, db_args: &[&str]) -> TcpMesh {
        TcpMesh::start_greeting(name, db_args, b"")
    }

    /// As `start`, with db greeting each connection first.
    fn start_greeting(name: &str, db_args: &[&str], greeting: &'static [u8]) -> TcpMesh {
        let temp = Scratch::new(name);
        let dir = temp.path("");
        let ca = TestCa::init(temp.path("ca"), "starfleet");
        for service in ["picard", "riker", "db"] {
            ca.issue(service, &temp.path(service), &[]);
        }
        let (echo, accepted) = echo_server(greeting);
        std::fs::create_dir_all(temp.path("program")).unwrap();
        std::fs::write(temp.path("program/mesh.mesh"), program(&["127.0.0.1:1"])).unwrap();
        // db's sidecar first: its inbound address becomes db's endpoint before the callers start.
        let db = sidecar(&dir, "db", echo, db_args);
        let db_inbound = listener(&db, "inbound");
        std::fs::write(
            temp.path("program/mesh.mesh"),
            program(&[&db_inbound.to_string()]),
        )
        .unwrap();
        let picard = sidecar(&dir, "picard", idle_app(), &["--tcp", "db=127.0.0.1:0"]);
        let riker = sidecar(&dir, "riker", idle_app(), &["--tcp", "db=127.0.0.1:0"]);
        TcpMesh {
            temp,
            accepted,
            db,
            db_inbound,
            picard,
            riker,
        }
    }
}

#[test]
fn a_tcp_service_is_carried_over_mutual_tls_to_allowed_callers_only() {
    let TcpMesh {
        temp,
        accepted,
        db,
        db_inbound,
        picard,
        riker,
    } = TcpMesh::start("mesh-tcp", &[]);

    // Picard's app talks to db as to any TCP server, both ways, and closes its side first.
    let mut to_db = TcpStream::connect(listener(&picard, "tcp-outbound")).unwrap();
    to_db
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut echoed = [0u8; 14];
    to_db.write_all(b"PING stardate\n").unwrap();
    to_db.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"PING stardate\n");
    to_db.write_all(b"second line\n").unwrap();
    to_db.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    to_db.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"second line\n");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);

    // Riker's connection is refused by db's sidecar: it ends, and db never sees it.
    let got = what_comes_back(listener(&riker, "tcp-outbound"));
    assert!(got.is_empty(), "riker got {got:?}");
    // meshc explain decides both connections as db's sidecar did.
    assert!(explain(&temp.path("program"), "picard").0);
    let (allowed, rule) = explain(&temp.path("program"), "riker");
    assert!(!allowed && rule.contains("rule=default deny"), "{rule}");

    let inbound = |source: &str, outcome: &str| {
        format!("meshd_mesh_tcp_connections_total{{direction=\"inbound\",source=\"{source}\",destination=\"db\",outcome=\"{outcome}\"}}")
    };
    eventually("db's sidecar counts both connections", || {
        db.metric(&inbound("picard", "closed")) == 1.0
            && db.metric(&inbound("riker", "denied")) == 1.0
    });
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    assert_eq!(
        db.metric("meshd_mesh_denials_total{destination=\"db\",rule=\"default\"}"),
        1.0
    );
    let bytes = |flow: &str| {
        db.metric(&format!(
            "meshd_mesh_tcp_bytes_total{{direction=\"inbound\",destination=\"db\",flow=\"{flow}\"}}"
        ))
    };
    assert_eq!(bytes("to_destination"), 26.0);
    assert_eq!(bytes("from_destination"), 26.0);
    eventually("picard's sidecar counts its connection", || {
        picard.metric("meshd_mesh_tcp_connections_total{direction=\"outbound\",source=\"picard\",destination=\"db\",outcome=\"closed\"}") == 1.0
    });

    // HTTP addressed to db through picard's HTTP outbound listener is refused, not piped.
    let outbound = listener(&picard, "outbound");
    let (status, body) = http_get_host(outbound, "db");
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("speaks tcp"), "{body}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);

    // A reload applies to the next connection. A rule on `*` with `when` cannot be read on a
    // connection, which has no request: its deny applies (fail closed), so picard is refused too.
    let before = db.digest();
    let rules = "  deny * -> * when request.headers[\"x-red-alert\"] == \"on\"\n";
    std::fs::write(
        temp.path("program/mesh.mesh"),
        program_with(&[&db_inbound.to_string()], rules),
    )
    .unwrap();
    eventually("db's sidecar serves the new program", || {
        db.digest() != before
    });
    let got = what_comes_back(listener(&picard, "tcp-outbound"));
    assert!(got.is_empty(), "picard got {got:?} past a conditional deny");
    let (allowed, rule) = explain(&temp.path("program"), "picard");
    assert!(!allowed && rule.contains("x-red-alert"), "{rule}");
    eventually("the conditional deny is counted", || {
        db.metric(&inbound("picard", "denied")) == 1.0
    });
    assert_eq!(accepted.load(Ordering::SeqCst), 1);

    // A --tcp listener for a service that is not tcp: the sidecar does not start.
    let mut args = sidecar_args(
        &temp.path("program"),
        "picard",
        "127.0.0.1:9",
        &temp.path("picard"),
    );
    args.extend(["--tcp", "riker=127.0.0.1:0"].map(String::from));
    let (status, log) = run_meshd_to_exit(&args);
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains("--tcp riker=…: the service does not speak tcp"),
        "{log}"
    );
}

/// Connects to `address`, sends a line, closes its side and reads until the connection ends:
/// what came back.
fn what_comes_back(address: SocketAddr) -> Vec<u8> {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let _ = stream.write_all(b"PING\n");
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    got
}

/// GET / with `Host: host`: (status, body).
fn http_get_host(to: SocketAddr, host: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(to).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// SIGTERM to db's sidecar: the connection it carries goes on both ways until its ends close it,
/// a new one is not taken, and the sidecar exits once the open one has ended, well before the
/// drain timeout.
#[test]
fn a_drain_carries_an_open_tcp_connection_to_its_end() {
    let mesh = TcpMesh::start("mesh-tcp-drain", &["--drain-timeout", "30s"]);
    let mut db = mesh.db;
    let mut open = TcpStream::connect(listener(&mesh.picard, "tcp-outbound")).unwrap();
    open.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut echoed = [0u8; 7];
    open.write_all(b"before\n").unwrap();
    open.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"before\n");

    let signalled = std::time::Instant::now();
    let terminated = std::process::Command::new("kill")
        .args(["-TERM", &db.pid().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    db.wait_for_line(|l| l.contains("drain delay over: listeners closed"));
    // The inbound listener closes (no drain delay): a new connection ends with nothing carried.
    eventually("db's inbound listener closed", || {
        TcpStream::connect_timeout(&mesh.db_inbound, Duration::from_secs(1)).is_err()
    });
    let got = what_comes_back(listener(&mesh.picard, "tcp-outbound"));
    assert!(
        got.is_empty(),
        "a new connection got {got:?} during the drain"
    );

    // The open connection still carries both ways, then ends when picard's app closes it.
    open.write_all(b"during\n").unwrap();
    open.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"during\n");
    open.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    open.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    let status = db.wait();
    assert!(status.success(), "{status:?}: {}", db.log().join("\n"));
    let drained_in = signalled.elapsed();
    assert!(
        drained_in < Duration::from_secs(25),
        "exited after {drained_in:?}"
    );
    assert_eq!(mesh.accepted.load(Ordering::SeqCst), 1);
}

/// An endpoint that refuses the connection is given up for another: db's first endpoint is a
/// closed port, and each of two connections through picard's sidecar (round robin: each starts
/// there once) reaches db through the second. With no endpoint reachable, the app's connection
/// ends with nothing carried and is counted `failed`.
#[test]
fn an_unreachable_endpoint_is_given_up_for_another() {
    let mesh = TcpMesh::start("mesh-tcp-failover", &[]);
    let live = mesh.db_inbound.to_string();
    let reload = |endpoints: &[&str]| {
        let before = mesh.picard.digest();
        std::fs::write(mesh.temp.path("program/mesh.mesh"), program(endpoints)).unwrap();
        eventually("picard's sidecar serves the new program", || {
            mesh.picard.digest() != before
        });
    };
    reload(&["127.0.0.1:1", &live]);
    let to_db = listener(&mesh.picard, "tcp-outbound");
    for _ in 0..2 {
        assert_eq!(what_comes_back(to_db), b"PING\n");
    }
    assert_eq!(mesh.accepted.load(Ordering::SeqCst), 2);
    let outbound = |outcome: &str| {
        format!("meshd_mesh_tcp_connections_total{{direction=\"outbound\",source=\"picard\",destination=\"db\",outcome=\"{outcome}\"}}")
    };
    eventually("picard's sidecar counts both connections carried", || {
        mesh.picard.metric(&outbound("closed")) == 2.0
    });

    reload(&["127.0.0.1:1"]);
    assert!(what_comes_back(to_db).is_empty());
    eventually(
        "picard's sidecar counts the connection it could not carry",
        || mesh.picard.metric(&outbound("failed")) == 1.0,
    );
    assert_eq!(mesh.accepted.load(Ordering::SeqCst), 2);
}

/// A connection on which neither end sends anything for db's sidecar's `--tcp-idle-timeout` is
/// closed at both ends; one that keeps talking is not.
#[test]
fn a_quiet_tcp_connection_is_closed_after_the_idle_timeout() {
    let mesh = TcpMesh::start("mesh-tcp-idle", &["--tcp-idle-timeout", "2s"]);
    let mut open = TcpStream::connect(listener(&mesh.picard, "tcp-outbound")).unwrap();
    open.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // A byte each 200 ms for 3 s, longer than the timeout: the connection carries on.
    let mut echoed = [0u8; 1];
    for _ in 0..15 {
        open.write_all(b"+").unwrap();
        open.read_exact(&mut echoed).unwrap();
        assert_eq!(&echoed, b"+");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Then nothing: db's sidecar closes it, and picard's passes the close on.
    let mut rest = Vec::new();
    open.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{rest:?}");
    let outcome = |process: &MeshdProcess, direction: &str, source: &str, outcome: &str| {
        process.metric(&format!("meshd_mesh_tcp_connections_total{{direction=\"{direction}\",source=\"{source}\",destination=\"db\",outcome=\"{outcome}\"}}"))
    };
    eventually("db's sidecar counts the connection idle", || {
        outcome(&mesh.db, "inbound", "picard", "idle") == 1.0
    });
    assert_eq!(outcome(&mesh.db, "inbound", "picard", "closed"), 0.0);
    eventually("picard's sidecar counts it closed by the far end", || {
        outcome(&mesh.picard, "outbound", "picard", "closed") == 1.0
    });
    assert_eq!(mesh.accepted.load(Ordering::SeqCst), 1);
}

/// Under `mtls permissive`, a plaintext caller of a protocol whose server speaks first sends
/// nothing until it is greeted: after a short wait db's sidecar takes it for plaintext and
/// carries it (an unauthenticated caller, allowed by a `*` rule), while picard's sidecar, which
/// opens with TLS, is still told apart and identified.
#[test]
fn a_plaintext_caller_of_a_server_first_protocol_is_served_under_permissive() {
    let mesh = TcpMesh::start_greeting("mesh-tcp-server-first", &[], b"220 db ready\n");
    let before = mesh.db.digest();
    let program = program_with(&[&mesh.db_inbound.to_string()], "  allow * -> db\n")
        .replace("mtls strict", "mtls permissive");
    std::fs::write(mesh.temp.path("program/mesh.mesh"), program).unwrap();
    eventually("db's sidecar serves the permissive program", || {
        mesh.db.digest() != before
    });

    let greeted = |address: SocketAddr| {
        let mut stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut greeting = [0u8; 13];
        stream.read_exact(&mut greeting).unwrap();
        assert_eq!(&greeting, b"220 db ready\n");
        stream.write_all(b"QUIT\n").unwrap();
        let mut echoed = [0u8; 5];
        stream.read_exact(&mut echoed).unwrap();
        assert_eq!(&echoed, b"QUIT\n");
    };
    // A plaintext client straight to db's sidecar, sending nothing first.
    greeted(mesh.db_inbound);
    // Picard's app through its sidecar: mutual TLS, picard identified.
    greeted(listener(&mesh.picard, "tcp-outbound"));
    assert_eq!(
        mesh.db
            .metric("meshd_mesh_plaintext_requests_total{destination=\"db\"}"),
        1.0
    );
    let carried = |source: &str| {
        mesh.db.metric(&format!("meshd_mesh_tcp_connections_total{{direction=\"inbound\",source=\"{source}\",destination=\"db\",outcome=\"closed\"}}"))
    };
    eventually("db's sidecar counts both connections carried", || {
        carried("picard") == 1.0 && carried("unauthenticated") == 1.0
    });
    assert_eq!(mesh.accepted.load(Ordering::SeqCst), 2);
}
