//! Mutual TLS between mesh workloads over real sockets, with meshd's inbound and outbound configs:
//! both identities are proven, a client certificate from another CA or none (strict) is refused at
//! the handshake, an impostor server is refused with an error the caller can tell apart, sessions
//! resume without losing the peer's identity, and outside TLS stacks (curl, openssl, in their own
//! processes) are judged the same way.

mod mesh_identity_support;
mod scratch;

use std::process::{Command, Stdio};
use std::sync::Arc;

use mesh_identity_support::chain_only_client::{anonymous_builder, anonymous_client};
use mesh_identity_support::{connect, eventually, id, MeshServer, Scratch, TestCa};
use meshd::mesh::identity::{
    explain_handshake_error, identity_mismatch, HandshakeFailure, IdentityMetrics, IdentityStore,
    OutboundTls, PeerAuthentication, WorkloadCert,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::CertificateDer;

struct Mesh {
    temp: Scratch,
    ca: TestCa,
}

impl Mesh {
    fn new(name: &str) -> Mesh {
        let temp = Scratch::new(name);
        let ca = TestCa::init(temp.path("ca"), "starfleet");
        Mesh { temp, ca }
    }

    fn workload(&self, name: &str) -> IdentityStore {
        let dir = self.temp.path(name);
        self.ca.issue(name, &dir, &[]);
        IdentityStore::load(&dir).unwrap()
    }
}

const H1: &[&[u8]] = &[b"http/1.1"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mesh_call_proves_both_identities() {
    let mesh = Mesh::new("both");
    let picard = MeshServer::start(&mesh.workload("picard"), PeerAuthentication::Strict).await;
    let riker = OutboundTls::new(mesh.workload("riker"), H1);
    let mut connection = connect(&riker, &id("spiffe://starfleet/picard"), picard.address)
        .await
        .unwrap();
    assert_eq!(connection.server, id("spiffe://starfleet/picard"));
    let answer = connection.get().await.unwrap();
    assert_eq!(answer["peer"], "spiffe://starfleet/riker");
    assert_eq!(picard.requests.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_from_another_ca_is_refused_at_the_handshake() {
    let mesh = Mesh::new("foreign-client");
    let picard = MeshServer::start(&mesh.workload("picard"), PeerAuthentication::Strict).await;
    // Another CA of the same trust domain issues "riker"; the client trusts both CAs, so only
    // the server's check can refuse it.
    let romulan_ca = TestCa::init(mesh.temp.path("romulan-ca"), "starfleet");
    let impostor_dir = mesh.temp.path("romulan-riker");
    romulan_ca.issue("riker", &impostor_dir, &[]);
    let bundle = format!("{}{}", mesh.ca.cert_pem(), romulan_ca.cert_pem());
    std::fs::write(impostor_dir.join("ca.crt"), bundle).unwrap();
    let riker = OutboundTls::new(IdentityStore::load(&impostor_dir).unwrap(), H1);

    let outcome = match connect(&riker, &id("spiffe://starfleet/picard"), picard.address).await {
        Ok(mut connection) => connection.get().await.map(|_| ()),
        Err(error) => Err(error.to_string()),
    };
    assert!(outcome.is_err(), "the foreign client got an answer");
    eventually("the server counts an unknown CA", async || {
        picard.failures(HandshakeFailure::UnknownCa) == 1
    })
    .await;
    assert_eq!(
        picard.handshakes.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    assert_eq!(picard.requests.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_with_a_foreign_certificate_is_refused_and_with_ours_is_named() {
    let mesh = Mesh::new("curl");
    let picard = MeshServer::start(&mesh.workload("picard"), PeerAuthentication::Strict).await;
    let ours = mesh.temp.path("data");
    mesh.ca.issue("data", &ours, &[]);
    let romulan_ca = TestCa::init(mesh.temp.path("romulan-ca"), "starfleet");
    let theirs = mesh.temp.path("romulan-data");
    romulan_ca.issue("data", &theirs, &[]);
    let curl = |dir: &std::path::Path| {
        let address = picard.address;
        let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
        async move {
            tokio::task::spawn_blocking(move || {
                Command::new("curl")
                    .args(["-sS", "--max-time", "20", "-k", "--tlsv1.3"])
                    .arg("--cert")
                    .arg(cert)
                    .arg("--key")
                    .arg(key)
                    .arg(format!("https://{address}/"))
                    .stdin(Stdio::null())
                    .output()
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };
    let refused = curl(&theirs).await;
    assert!(!refused.status.success(), "{refused:?}");
    assert!(refused.stdout.is_empty(), "{refused:?}");
    eventually("the server counts an unknown CA", async || {
        picard.failures(HandshakeFailure::UnknownCa) == 1
    })
    .await;
    let accepted = curl(&ours).await;
    assert!(accepted.status.success(), "{accepted:?}");
    let answer: serde_json::Value = serde_json::from_slice(&accepted.stdout).unwrap();
    assert_eq!(answer["peer"], "spiffe://starfleet/data");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_refuses_a_caller_without_a_certificate_and_plaintext() {
    let mesh = Mesh::new("strict");
    let store = mesh.workload("picard");
    let picard = MeshServer::start(&store, PeerAuthentication::Strict).await;

    let anonymous = anonymous_client(&mesh.ca.cert_pem());
    let tcp = tokio::net::TcpStream::connect(picard.address)
        .await
        .unwrap();
    let name = meshd::mesh::identity::endpoint_server_name(picard.address);
    // TLS 1.3 clients finish before the server judges their (absent) certificate; the refusal
    // arrives as an alert on the first read.
    let outcome = match tokio_rustls::TlsConnector::from(anonymous)
        .connect(name, tcp)
        .await
    {
        Ok(mut tls) => {
            let _ = tls.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
            let mut buffer = Vec::new();
            tls.read_to_end(&mut buffer).await.map(|_| buffer)
        }
        Err(error) => Err(error),
    };
    assert!(
        outcome.is_err() || outcome.as_ref().unwrap().is_empty(),
        "{outcome:?}"
    );
    eventually(
        "the server counts a missing client certificate",
        async || picard.failures(HandshakeFailure::NoClientCert) == 1,
    )
    .await;

    let mut plain = tokio::net::TcpStream::connect(picard.address)
        .await
        .unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nhost: picard\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = Vec::new();
    let _ = plain.read_to_end(&mut buffer).await;
    assert!(!String::from_utf8_lossy(&buffer).contains("HTTP/1.1 200"));
    eventually("the server counts plaintext", async || {
        picard.failures(HandshakeFailure::NotTls) == 1
    })
    .await;
    assert_eq!(picard.requests.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_of_our_ca_without_a_spiffe_id_is_refused_at_the_handshake() {
    let mesh = Mesh::new("no-spiffe-client");
    let picard = MeshServer::start(&mesh.workload("picard"), PeerAuthentication::Permissive).await;
    // Signed by the mesh CA, valid in every other way, but naming a host instead of a workload:
    // meshd's own loader refuses it, so present it with a bare rustls client.
    let dir = mesh.temp.path("hostname-only");
    mesh.ca.forge("spiffe://starfleet/riker", &dir, |params| {
        params.subject_alt_names = vec![rcgen::SanType::DnsName(
            "riker.starfleet.test".try_into().unwrap(),
        )];
    });
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("tls.crt"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key =
        tokio_rustls::rustls::pki_types::PrivateKeyDer::from_pem_file(dir.join("tls.key")).unwrap();
    let config = Arc::new(
        anonymous_builder(&mesh.ca.cert_pem())
            .with_client_auth_cert(chain, key)
            .unwrap(),
    );
    let tcp = tokio::net::TcpStream::connect(picard.address)
        .await
        .unwrap();
    let name = meshd::mesh::identity::endpoint_server_name(picard.address);
    let outcome = match tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
    {
        Ok(mut tls) => {
            let _ = tls.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
            let mut buffer = Vec::new();
            tls.read_to_end(&mut buffer).await.map(|_| buffer)
        }
        Err(error) => Err(error),
    };
    assert!(
        outcome.is_err() || outcome.as_ref().unwrap().is_empty(),
        "{outcome:?}"
    );
    eventually(
        "the server counts a certificate without identity",
        async || picard.failures(HandshakeFailure::BadIdentity) == 1,
    )
    .await;
    assert_eq!(picard.requests.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissive_admits_a_caller_without_a_certificate_as_unauthenticated() {
    let mesh = Mesh::new("permissive");
    let picard = MeshServer::start(&mesh.workload("picard"), PeerAuthentication::Permissive).await;
    let anonymous = anonymous_client(&mesh.ca.cert_pem());
    let tcp = tokio::net::TcpStream::connect(picard.address)
        .await
        .unwrap();
    let name = meshd::mesh::identity::endpoint_server_name(picard.address);
    let mut tls = tokio_rustls::TlsConnector::from(anonymous)
        .connect(name, tcp)
        .await
        .unwrap();
    tls.write_all(b"GET / HTTP/1.1\r\nhost: picard\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tls.read_to_string(&mut response).await.unwrap();
    assert!(response.contains("\"peer\":null"), "{response}");

    // A certificate that is presented must still verify.
    let romulan_ca = TestCa::init(mesh.temp.path("romulan-ca"), "starfleet");
    let theirs = mesh.temp.path("romulan-riker");
    romulan_ca.issue("riker", &theirs, &[]);
    std::fs::write(
        theirs.join("ca.crt"),
        mesh.ca.cert_pem() + &romulan_ca.cert_pem(),
    )
    .unwrap();
    let riker = OutboundTls::new(IdentityStore::load(&theirs).unwrap(), H1);
    let outcome = match connect(&riker, &id("spiffe://starfleet/picard"), picard.address).await {
        Ok(mut connection) => connection.get().await.map(|_| ()),
        Err(error) => Err(error.to_string()),
    };
    assert!(outcome.is_err());
    eventually("the server counts an unknown CA", async || {
        picard.failures(HandshakeFailure::UnknownCa) == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impostor_server_is_refused_with_an_identity_mismatch() {
    let mesh = Mesh::new("impostor");
    // "data" answers where the caller expects "riker": a valid chain, the wrong workload.
    let data = MeshServer::start(&mesh.workload("data"), PeerAuthentication::Strict).await;
    let picard = OutboundTls::new(mesh.workload("picard"), H1);
    let Err(error) = connect(&picard, &id("spiffe://starfleet/riker"), data.address).await else {
        panic!("the impostor was accepted");
    };
    assert_eq!(
        HandshakeFailure::of_io(&error),
        HandshakeFailure::BadIdentity
    );
    let mismatch = identity_mismatch(&error).expect("an identity mismatch");
    assert_eq!(mismatch.expected, id("spiffe://starfleet/riker"));
    assert_eq!(
        mismatch.presented.as_ref().unwrap(),
        &id("spiffe://starfleet/data")
    );
    assert!(
        explain_handshake_error(&error).contains(
            "the server is not spiffe://starfleet/riker: its certificate names spiffe://starfleet/data"
        ),
        "{error}"
    );
    eventually("the impostor sees our refusal", async || {
        data.failures(HandshakeFailure::PeerRefused) == 1
    })
    .await;
    assert_eq!(data.requests.load(std::sync::atomic::Ordering::SeqCst), 0);
    // The same connection expecting "data" succeeds: the configs differ only in the identity.
    let mut right = connect(&picard, &id("spiffe://starfleet/data"), data.address)
        .await
        .unwrap();
    assert_eq!(
        right.get().await.unwrap()["peer"],
        "spiffe://starfleet/picard"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openssl_impostor_in_its_own_process_is_refused() {
    let mesh = Mesh::new("openssl-impostor");
    let data = mesh.temp.path("data");
    mesh.ca.issue("data", &data, &[]);
    let server = Command::new("openssl")
        .args([
            "s_server",
            "-accept",
            "127.0.0.1:0",
            "-www",
            "-tls1_3",
            "-naccept",
            "1",
        ])
        .arg("-cert")
        .arg(data.join("tls.crt"))
        .arg("-key")
        .arg(data.join("tls.key"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = KillOnDrop(server);
    let stdout = server.0.stdout.take().unwrap();
    // openssl prints the port it bound: the readiness signal.
    let address: std::net::SocketAddr = tokio::task::spawn_blocking(move || {
        std::io::BufRead::lines(std::io::BufReader::new(stdout))
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("ACCEPT ").map(str::to_string))
            .expect("openssl s_server started")
            .parse()
            .unwrap()
    })
    .await
    .unwrap();
    let picard = OutboundTls::new(mesh.workload("picard"), H1);
    let Err(error) = connect(&picard, &id("spiffe://starfleet/riker"), address).await else {
        panic!("the impostor was accepted");
    };
    let mismatch = identity_mismatch(&error).expect("an identity mismatch");
    assert_eq!(
        mismatch.presented.as_ref().unwrap(),
        &id("spiffe://starfleet/data")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_session_keeps_both_identities() {
    let mesh = Mesh::new("resume");
    let picard = MeshServer::start(&mesh.workload("picard"), PeerAuthentication::Strict).await;
    let riker = OutboundTls::new(mesh.workload("riker"), H1);
    let picard_id = id("spiffe://starfleet/picard");
    let mut first = connect(&riker, &picard_id, picard.address).await.unwrap();
    assert!(!first.resumed);
    // The session ticket arrives after the handshake, with the first response.
    assert_eq!(
        first.get().await.unwrap()["peer"],
        "spiffe://starfleet/riker"
    );
    let mut second = connect(&riker, &picard_id, picard.address).await.unwrap();
    assert!(second.resumed, "the second connection resumes the session");
    assert_eq!(second.server, picard_id);
    assert_eq!(second.server_serial, first.server_serial);
    assert_eq!(
        second.get().await.unwrap()["peer"],
        "spiffe://starfleet/riker"
    );

    // A session is cached per expected identity: expecting someone else is a full handshake
    // (refused here), never a resumption that would skip the check.
    let Err(error) = connect(&riker, &id("spiffe://starfleet/data"), picard.address).await else {
        panic!("a session for picard was resumed as data");
    };
    assert!(identity_mismatch(&error).is_some(), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_client_certificate_is_refused_as_expired() {
    let mesh = Mesh::new("expired-client");
    let picard = MeshServer::start(&mesh.workload("picard"), PeerAuthentication::Strict).await;
    let old = mesh.temp.path("old-riker");
    mesh.ca.forge("spiffe://starfleet/riker", &old, |params| {
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::hours(48);
        params.not_after = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    });
    // Loaded as of two days ago: the loader refuses it today, a peer must too.
    let paths = meshd::mesh::identity::cert_files::CertPaths::locate(&old).unwrap();
    let contents = meshd::mesh::identity::workload_cert::CertFileContents::read(&paths).unwrap();
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(36 * 3600);
    let riker = OutboundTls::new(
        IdentityStore::new(WorkloadCert::check(paths, contents, then).unwrap()),
        H1,
    );
    let outcome = match connect(&riker, &id("spiffe://starfleet/picard"), picard.address).await {
        Ok(mut connection) => connection.get().await.map(|_| ()),
        Err(error) => Err(error.to_string()),
    };
    assert!(outcome.is_err());
    eventually("the server counts an expired certificate", async || {
        picard.failures(HandshakeFailure::Expired) == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_export_expiry_and_failures_by_reason() {
    let mesh = Mesh::new("metrics");
    let store = mesh.workload("picard");
    let metrics = IdentityMetrics::new();
    metrics.watch_expiry(&store);
    metrics.count_handshake_failure(
        meshd::mesh::identity::Direction::Outbound,
        HandshakeFailure::BadIdentity,
    );
    let process = meshd::metrics::Metrics::new(1);
    process.register(|registry| metrics.register(registry));
    let text = process.encode();
    let expiry = text
        .lines()
        .find(|line| {
            line.starts_with("meshd_cert_expiry_seconds{identity=\"spiffe://starfleet/picard\"}")
        })
        .unwrap_or_else(|| panic!("{text}"));
    let seconds: f64 = expiry.rsplit(' ').next().unwrap().parse().unwrap();
    assert!((86_000.0..=86_400.0).contains(&seconds), "{expiry}");
    assert!(
        text.contains(
            "meshd_tls_handshake_failures_total{direction=\"outbound\",reason=\"bad_identity\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "meshd_tls_handshake_failures_total{direction=\"inbound\",reason=\"unknown_ca\"} 0"
        ),
        "{text}"
    );
    assert!(
        text.contains("meshd_cert_rotations_total{result=\"refused\"} 0"),
        "{text}"
    );
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
