//! The cost of a mesh mTLS handshake with meshd's own inbound and outbound configs, run in memory
//! (client and server connections exchanging bytes through buffers, no sockets), so that the
//! figures are the handshake's CPU cost alone:
//!
//! - `full`: a full TLS 1.3 handshake with client certificates (ECDSA P-256 workload
//!   certificates from `meshd ca`), chain and SPIFFE ID checks on both sides, and the tickets the
//!   server sends after it;
//! - `resumed`: the same client reconnecting with a ticket (no signature, no chain check);
//! - `peer_identity`: reading the SPIFFE ID of the peer once a connection is up;
//! - `client_config`: building the outbound config for one more destination identity.
//!
//! `cargo bench -p meshd --bench mesh_handshake` times them with criterion. With
//! `MESH_HANDSHAKE=<mode> MESH_HANDSHAKE_COUNT=<n>` the binary instead runs `n` of one mode and
//! prints the heap a config holds: `bench/mesh_handshake_instructions.sh` runs that under
//! callgrind for instructions per handshake.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, Criterion};
use meshd::ca::{init_ca, issue_workload_cert, KeyAlgorithm, MeshCa, WorkloadRequest};
use meshd::mesh::identity::{
    endpoint_server_name, inbound_server_config, peer_identity, IdentityStore, OutboundTls,
    PeerAuthentication, SpiffeId, TrustDomain,
};
use tokio_rustls::rustls::client::Resumption;
use tokio_rustls::rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};

/// Counts live heap bytes, to tell what one more outbound config holds.
struct CountingAlloc;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

struct Pair {
    server: Arc<ServerConfig>,
    resuming: Arc<ClientConfig>,
    full: Arc<ClientConfig>,
    outbound: OutboundTls,
    picard: SpiffeId,
}

fn pair() -> Pair {
    let dir = std::env::temp_dir().join(format!("meshd-bench-handshake-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let domain = TrustDomain::new("starfleet").expect("trust domain");
    init_ca(
        &dir.join("ca"),
        &domain,
        KeyAlgorithm::EcdsaP256,
        Duration::from_secs(86_400 * 30),
        false,
    )
    .expect("ca");
    let ca = MeshCa::open(&dir.join("ca")).expect("open ca");
    let store = |name: &str| {
        let request = WorkloadRequest {
            identity: domain.workload(name).expect("id"),
            ttl: Duration::from_secs(86_400),
            dns: Vec::new(),
            ips: Vec::new(),
            algorithm: KeyAlgorithm::EcdsaP256,
        };
        issue_workload_cert(&ca, &request, &dir.join(name)).expect("issue");
        IdentityStore::load(&dir.join(name)).expect("load")
    };
    let (picard_store, riker_store) = (store("picard"), store("riker"));
    let _ = std::fs::remove_dir_all(&dir);
    let server = inbound_server_config(&picard_store, PeerAuthentication::Strict, &[b"http/1.1"])
        .expect("server config");
    let outbound = OutboundTls::new(riker_store, &[b"http/1.1"]);
    let picard = domain.workload("picard").expect("id");
    let resuming = outbound.client_config(&picard).expect("client config");
    let mut full = (*resuming).clone();
    full.resumption = Resumption::disabled();
    Pair {
        server,
        resuming,
        full: Arc::new(full),
        outbound,
        picard,
    }
}

/// Runs one handshake to completion, tickets included; panics if it fails.
fn handshake(client_config: &Arc<ClientConfig>, server_config: &Arc<ServerConfig>) -> bool {
    let name = endpoint_server_name("127.0.0.1:9101".parse().expect("address"));
    let mut client = ClientConnection::new(Arc::clone(client_config), name).expect("client");
    let mut server = ServerConnection::new(Arc::clone(server_config)).expect("server");
    let mut buffer = Vec::with_capacity(8192);
    loop {
        let mut moved = false;
        while client.wants_write() {
            client.write_tls(&mut buffer).expect("client write");
        }
        if !buffer.is_empty() {
            moved = true;
            server
                .read_tls(&mut buffer.as_slice())
                .expect("server read");
            buffer.clear();
            server.process_new_packets().expect("server handshake");
        }
        while server.wants_write() {
            server.write_tls(&mut buffer).expect("server write");
        }
        if !buffer.is_empty() {
            moved = true;
            client
                .read_tls(&mut buffer.as_slice())
                .expect("client read");
            buffer.clear();
            client.process_new_packets().expect("client handshake");
        }
        if !moved && !client.is_handshaking() && !server.is_handshaking() {
            break;
        }
    }
    let identity = peer_identity(&server).expect("peer identity");
    assert!(identity.is_some());
    client.handshake_kind() == Some(tokio_rustls::rustls::HandshakeKind::Resumed)
}

fn count_mode(mode: &str, count: usize) {
    let pair = pair();
    match mode {
        "setup" => {}
        "full" => {
            for _ in 0..count {
                assert!(!handshake(&pair.full, &pair.server));
            }
        }
        "resumed" => {
            handshake(&pair.resuming, &pair.server);
            for _ in 0..count {
                assert!(handshake(&pair.resuming, &pair.server), "resumed");
            }
        }
        "resumed_setup" => {
            handshake(&pair.resuming, &pair.server);
        }
        "client_config" => {
            let before = LIVE.load(Ordering::Relaxed);
            for n in 0..count {
                let id = SpiffeId::parse(&format!("spiffe://starfleet/service-{n}")).expect("id");
                pair.outbound.client_config(&id).expect("config");
            }
            let held = LIVE.load(Ordering::Relaxed) - before;
            println!(
                "heap held per destination config: {} bytes ({count} configs, {held} bytes)",
                held / count.max(1) as isize
            );
        }
        other => panic!("unknown mode {other}"),
    }
}

fn benches(c: &mut Criterion) {
    let pair = pair();
    c.bench_function("mesh_handshake_full", |b| {
        b.iter(|| handshake(&pair.full, &pair.server))
    });
    handshake(&pair.resuming, &pair.server);
    c.bench_function("mesh_handshake_resumed", |b| {
        b.iter(|| handshake(&pair.resuming, &pair.server))
    });
    let mut n = 0u64;
    c.bench_function("mesh_client_config_new_destination", |b| {
        b.iter(|| {
            n += 1;
            let id = SpiffeId::parse(&format!("spiffe://starfleet/s{n}")).expect("id");
            pair.outbound.client_config(&id).expect("config")
        })
    });
    let _ = &pair.picard;
}

criterion_group! {
    name = mesh_handshake;
    config = Criterion::default().sample_size(30);
    targets = benches
}

fn main() {
    if let Ok(mode) = std::env::var("MESH_HANDSHAKE") {
        let count = std::env::var("MESH_HANDSHAKE_COUNT")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(10);
        count_mode(&mode, count);
        return;
    }
    mesh_handshake();
    Criterion::default().configure_from_args().final_summary();
}
