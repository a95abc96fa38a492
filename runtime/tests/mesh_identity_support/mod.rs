//! Shared pieces of the mesh identity tests: the real `meshd ca` binary, certificates the CLI
//! refuses to write (expired, not yet valid, no SPIFFE ID, via an intermediate) forged with rcgen,
//! a real mTLS HTTP server built from meshd's inbound config, and a real client built from its
//! outbound configs.
#![allow(dead_code)]

pub mod chain_only_client;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use meshd::mesh::identity::x509_facts::CertFacts;
use meshd::mesh::identity::{
    endpoint_server_name, inbound_server_config, peer_identity, Direction, HandshakeFailure,
    IdentityMetrics, IdentityStore, OutboundTls, PeerAuthentication, SpiffeId,
};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::HandshakeKind;
use tokio_rustls::{TlsAcceptor, TlsConnector};

#[allow(unused_imports)] // not every test of a crate that includes this module uses it
pub use crate::scratch::Scratch;

/// The meshd binary.
pub fn meshd() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_meshd"));
    command.stdin(Stdio::null());
    command
}

/// Runs `meshd` with `args`.
pub fn run_meshd(args: &[&str]) -> Output {
    meshd().args(args).output().unwrap()
}

/// Runs `meshd` with `args` and returns stderr, asserting exit code 1 (refused, no panic).
pub fn refused(args: &[&str]) -> String {
    let output = run_meshd(args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{args:?}: {output:?}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// A CA made by `meshd ca init`.
pub struct TestCa {
    /// Its directory.
    pub dir: PathBuf,
}

impl TestCa {
    /// `meshd ca init --trust-domain <domain> <dir>`.
    pub fn init(dir: PathBuf, trust_domain: &str) -> TestCa {
        let output = run_meshd(&[
            "ca",
            "init",
            "--trust-domain",
            trust_domain,
            dir.to_str().unwrap(),
        ]);
        assert!(output.status.success(), "{output:?}");
        TestCa { dir }
    }

    /// `meshd ca issue <ca> --service <name> --out <out> [extra]`; returns the serial printed.
    pub fn issue(&self, service: &str, out: &Path, extra: &[&str]) -> String {
        let mut args = vec![
            "ca",
            "issue",
            self.dir.to_str().unwrap(),
            "--service",
            service,
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let output = run_meshd(&args);
        assert!(output.status.success(), "{output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        stdout
            .split("(serial ")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .unwrap_or_else(|| panic!("no serial in {stdout}"))
            .to_string()
    }

    /// The CA's certificate PEM.
    pub fn cert_pem(&self) -> String {
        std::fs::read_to_string(self.dir.join("ca.crt")).unwrap()
    }

    fn key(&self) -> KeyPair {
        KeyPair::from_pem(&std::fs::read_to_string(self.dir.join("ca.key")).unwrap()).unwrap()
    }

    /// Writes into `out` a workload certificate for `identity` signed by this CA, with `edit`
    /// applied to otherwise valid parameters: the cases `meshd ca issue` refuses to produce.
    pub fn forge(&self, identity: &str, out: &Path, edit: impl FnOnce(&mut CertificateParams)) {
        let mut params = workload_params(identity);
        edit(&mut params);
        let key = KeyPair::generate().unwrap();
        let ca_key = self.key();
        let issuer = Issuer::from_ca_cert_pem(&self.cert_pem(), &ca_key).unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        write_cert_dir(out, &cert.pem(), &key.serialize_pem(), &self.cert_pem());
    }

    /// Writes into `out` a workload certificate signed by a new intermediate CA of this CA:
    /// `tls.crt` holds the leaf then the intermediate, `ca.crt` only the root.
    pub fn forge_via_intermediate(&self, identity: &str, out: &Path) {
        let ca_key = self.key();
        let root = Issuer::from_ca_cert_pem(&self.cert_pem(), &ca_key).unwrap();
        let mut middle_params = CertificateParams::default();
        middle_params
            .distinguished_name
            .push(DnType::CommonName, "intermediate");
        middle_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        middle_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        middle_params.not_before = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
        middle_params.not_after = time::OffsetDateTime::now_utc() + time::Duration::hours(48);
        let middle_key = KeyPair::generate().unwrap();
        let middle = middle_params.signed_by(&middle_key, &root).unwrap();
        let middle_issuer = Issuer::new(middle_params, &middle_key);
        let key = KeyPair::generate().unwrap();
        let leaf = workload_params(identity)
            .signed_by(&key, &middle_issuer)
            .unwrap();
        let chain = format!("{}{}", leaf.pem(), middle.pem());
        write_cert_dir(out, &chain, &key.serialize_pem(), &self.cert_pem());
    }
}

/// Valid X.509-SVID parameters for `identity`, valid from an hour ago for a day.
pub fn workload_params(identity: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, "forged");
    params.subject_alt_names = vec![SanType::URI(identity.try_into().unwrap())];
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    params.not_after = time::OffsetDateTime::now_utc() + time::Duration::hours(24);
    params
}

/// Writes the three cert-manager files.
pub fn write_cert_dir(out: &Path, chain: &str, key: &str, bundle: &str) {
    std::fs::create_dir_all(out).unwrap();
    std::fs::write(out.join("tls.crt"), chain).unwrap();
    std::fs::write(out.join("tls.key"), key).unwrap();
    std::fs::write(out.join("ca.crt"), bundle).unwrap();
}

/// A SPIFFE ID.
pub fn id(text: &str) -> SpiffeId {
    SpiffeId::parse(text).unwrap()
}

/// A real HTTP/1.1 server behind meshd's inbound mTLS config. It answers every request with JSON
/// naming the caller as its verified certificate says: `{"peer": …, "peer_serial": …}`.
pub struct MeshServer {
    /// Where it listens.
    pub address: SocketAddr,
    /// Failed handshakes, counted as meshd's listeners will.
    pub metrics: IdentityMetrics,
    /// Requests answered.
    pub requests: Arc<AtomicU64>,
    /// Handshakes completed.
    pub handshakes: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl MeshServer {
    /// Starts a server presenting `store`'s certificate.
    pub async fn start(store: &IdentityStore, mode: PeerAuthentication) -> MeshServer {
        let config = inbound_server_config(store, mode, &[b"http/1.1"]).unwrap();
        let acceptor = TlsAcceptor::from(config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let metrics = IdentityMetrics::new();
        metrics.watch_expiry(store);
        let requests = Arc::new(AtomicU64::new(0));
        let handshakes = Arc::new(AtomicU64::new(0));
        let (m, r, h) = (metrics.clone(), requests.clone(), handshakes.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, metrics, requests, handshakes) =
                    (acceptor.clone(), m.clone(), r.clone(), h.clone());
                tokio::spawn(async move {
                    let tls = match acceptor.accept(stream).await {
                        Ok(tls) => tls,
                        Err(error) => {
                            let reason = HandshakeFailure::of_io(&error);
                            metrics.count_handshake_failure(Direction::Inbound, reason);
                            return;
                        }
                    };
                    handshakes.fetch_add(1, Ordering::SeqCst);
                    let connection = tls.get_ref().1;
                    let peer = match peer_identity(connection) {
                        Ok(Some(peer)) => serde_json::Value::from(peer.to_string()),
                        Ok(None) => serde_json::Value::Null,
                        Err(error) => serde_json::Value::from(format!("error: {error}")),
                    };
                    let peer_serial = connection
                        .peer_certificates()
                        .and_then(|chain| chain.first())
                        .map(|leaf| CertFacts::of(leaf).unwrap().serial);
                    let body =
                        serde_json::json!({"peer": peer, "peer_serial": peer_serial}).to_string();
                    let service = service_fn(move |_request: Request<hyper::body::Incoming>| {
                        requests.fetch_add(1, Ordering::SeqCst);
                        let body = body.clone();
                        async move { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body)))) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        MeshServer {
            address,
            metrics,
            requests,
            handshakes,
            task,
        }
    }

    /// Failed inbound handshakes with `reason`.
    pub fn failures(&self, reason: HandshakeFailure) -> u64 {
        self.metrics.handshake_failures(Direction::Inbound, reason)
    }
}

impl Drop for MeshServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One mTLS connection to a mesh server, as the client saw its handshake.
pub struct MeshConnection {
    /// Sends requests on the connection.
    pub sender: SendRequest<Empty<Bytes>>,
    /// The server's SPIFFE ID, as verified.
    pub server: SpiffeId,
    /// The serial of the certificate the server presented (for a resumed session: the one it
    /// presented when the session was established).
    pub server_serial: String,
    /// Whether the handshake resumed a session.
    pub resumed: bool,
}

/// How long one exchange with a sidecar may take before the test fails naming it: a refusal
/// must be an error, never a connection left open.
const EXCHANGE_DEADLINE: Duration = Duration::from_secs(30);

/// Opens an mTLS connection to `address`, expecting the server to be `expected`.
pub async fn connect(
    outbound: &OutboundTls,
    expected: &SpiffeId,
    address: SocketAddr,
) -> std::io::Result<MeshConnection> {
    tokio::time::timeout(EXCHANGE_DEADLINE, open(outbound, expected, address))
        .await
        .unwrap_or_else(|_| panic!("the mTLS handshake with {address} did not end within 30 s"))
}

async fn open(
    outbound: &OutboundTls,
    expected: &SpiffeId,
    address: SocketAddr,
) -> std::io::Result<MeshConnection> {
    let config = outbound.client_config(expected).unwrap();
    let tcp = TcpStream::connect(address).await?;
    let tls = TlsConnector::from(config)
        .connect(endpoint_server_name(address), tcp)
        .await?;
    let connection = tls.get_ref().1;
    let server = peer_identity(connection)
        .unwrap()
        .expect("a verified server presents a certificate");
    let leaf = connection.peer_certificates().unwrap()[0].clone();
    let server_serial = CertFacts::of(&leaf).unwrap().serial;
    let resumed = connection.handshake_kind() == Some(HandshakeKind::Resumed);
    let (sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(driver);
    Ok(MeshConnection {
        sender,
        server,
        server_serial,
        resumed,
    })
}

impl MeshConnection {
    /// GET / on this connection; the server's JSON answer.
    pub async fn get(&mut self) -> Result<serde_json::Value, String> {
        tokio::time::timeout(EXCHANGE_DEADLINE, self.exchange())
            .await
            .unwrap_or_else(|_| panic!("GET / on an mTLS connection had no end within 30 s"))
    }

    async fn exchange(&mut self) -> Result<serde_json::Value, String> {
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let request = Request::get("/")
            .header("host", "mesh")
            .body(Empty::new())
            .unwrap();
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()));
        }
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    }
}

/// Polls `check` until it holds, failing after 30 s (a signal with a generous deadline).
pub async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}
