//! Certificate rotation by file watch, over real mTLS connections: `meshd ca issue` (its own
//! process) rewrites the files under a steady stream of handshakes and requests, none fails, the
//! connection opened before keeps serving, and new handshakes present the new certificate (its
//! serial). A half-written rotation or an expired replacement keeps the old pair in force.

mod mesh_identity_support;
mod scratch;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use mesh_identity_support::{connect, eventually, id, MeshServer, Scratch, TestCa};
use meshd::mesh::identity::{
    watch_cert_dir, CertWatchOptions, IdentityStore, OutboundTls, PeerAuthentication, SpiffeId,
};

const H1: &[&[u8]] = &[b"http/1.1"];

/// The serial a fresh client (no session to resume) sees the server present, and the serial of
/// its own certificate as the server saw it.
async fn probe(
    client: &IdentityStore,
    expected: &SpiffeId,
    server: &MeshServer,
) -> (String, String) {
    let fresh = OutboundTls::new(client.clone(), H1);
    let mut connection = connect(&fresh, expected, server.address).await.unwrap();
    let answer = connection.get().await.unwrap();
    (
        connection.server_serial,
        answer["peer_serial"].as_str().unwrap().to_string(),
    )
}

async fn issue(ca: &Arc<TestCa>, service: &'static str, out: std::path::PathBuf) -> String {
    let ca = Arc::clone(ca);
    tokio::task::spawn_blocking(move || ca.issue(service, &out, &[]))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_under_steady_traffic_loses_nothing_and_new_handshakes_present_the_new_certificate(
) {
    let temp = Scratch::new("rotation");
    let ca = Arc::new(TestCa::init(temp.path("ca"), "starfleet"));
    let (picard_dir, riker_dir) = (temp.path("picard"), temp.path("riker"));
    let mut picard_serial = issue(&ca, "picard", picard_dir.clone()).await;
    let mut riker_serial = issue(&ca, "riker", riker_dir.clone()).await;
    let picard_store = IdentityStore::load(&picard_dir).unwrap();
    let riker_store = IdentityStore::load(&riker_dir).unwrap();
    let server = MeshServer::start(&picard_store, PeerAuthentication::Strict).await;
    let _picard_watch = watch_cert_dir(
        picard_store.clone(),
        server.metrics.clone(),
        CertWatchOptions::default(),
    )
    .unwrap();
    let riker_metrics = meshd::mesh::identity::IdentityMetrics::new();
    let _riker_watch = watch_cert_dir(
        riker_store.clone(),
        riker_metrics.clone(),
        CertWatchOptions::default(),
    )
    .unwrap();
    let picard_id = id("spiffe://starfleet/picard");
    let outbound = Arc::new(OutboundTls::new(riker_store.clone(), H1));

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let kept_requests = Arc::new(AtomicU64::new(0));
    let new_connections = Arc::new(AtomicU64::new(0));
    // One keep-alive connection opened before any rotation, asking in a loop.
    let mut kept = connect(&outbound, &picard_id, server.address)
        .await
        .unwrap();
    let kept_task = {
        let (stop, failures, count) = (stop.clone(), failures.clone(), kept_requests.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                match kept.get().await {
                    Ok(_) => count.fetch_add(1, Ordering::SeqCst),
                    Err(error) => {
                        failures.lock().unwrap().push(format!("kept: {error}"));
                        return;
                    }
                };
            }
        })
    };
    // Two loops opening a new connection (resumed or full) for each request.
    let churn: Vec<_> = (0..2)
        .map(|_| {
            let (stop, failures, count) = (stop.clone(), failures.clone(), new_connections.clone());
            let (outbound, picard_id, address) =
                (outbound.clone(), picard_id.clone(), server.address);
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let outcome = match connect(&outbound, &picard_id, address).await {
                        Ok(mut connection) => connection.get().await.map(|_| ()),
                        Err(error) => Err(error.to_string()),
                    };
                    match outcome {
                        Ok(()) => count.fetch_add(1, Ordering::SeqCst),
                        Err(error) => {
                            failures.lock().unwrap().push(format!("new: {error}"));
                            return;
                        }
                    };
                }
            })
        })
        .collect();
    eventually("traffic flows", async || {
        kept_requests.load(Ordering::SeqCst) > 10 && new_connections.load(Ordering::SeqCst) > 10
    })
    .await;
    assert_eq!(
        probe(&riker_store, &picard_id, &server).await,
        (picard_serial.clone(), riker_serial.clone())
    );

    for round in 1..=3 {
        let before = (
            kept_requests.load(Ordering::SeqCst),
            new_connections.load(Ordering::SeqCst),
        );
        let new_picard = issue(&ca, "picard", picard_dir.clone()).await;
        assert_ne!(new_picard, picard_serial);
        picard_serial = new_picard;
        eventually(
            "new handshakes present picard's new certificate",
            async || probe(&riker_store, &picard_id, &server).await.0 == picard_serial,
        )
        .await;
        let new_riker = issue(&ca, "riker", riker_dir.clone()).await;
        riker_serial = new_riker;
        eventually("picard sees riker's new certificate", async || {
            probe(&riker_store, &picard_id, &server).await.1 == riker_serial
        })
        .await;
        eventually("traffic goes on after the rotation", async || {
            kept_requests.load(Ordering::SeqCst) > before.0 + 10
                && new_connections.load(Ordering::SeqCst) > before.1 + 10
        })
        .await;
        assert!(
            failures.lock().unwrap().is_empty(),
            "round {round}: {:?}",
            failures.lock().unwrap()
        );
    }
    stop.store(true, Ordering::SeqCst);
    kept_task.await.unwrap();
    for task in churn {
        task.await.unwrap();
    }
    assert!(
        failures.lock().unwrap().is_empty(),
        "{:?}",
        failures.lock().unwrap()
    );
    assert_eq!(server.metrics.rotations(true), 3);
    assert_eq!(riker_metrics.rotations(true), 3);
    assert_eq!(
        picard_store.current().facts.serial,
        picard_serial,
        "the store holds the last certificate issued"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_written_or_expired_rotation_keeps_the_old_pair_in_force() {
    let temp = Scratch::new("half-written");
    let ca = Arc::new(TestCa::init(temp.path("ca"), "starfleet"));
    let picard_dir = temp.path("picard");
    let old_serial = issue(&ca, "picard", picard_dir.clone()).await;
    let riker_dir = temp.path("riker");
    issue(&ca, "riker", riker_dir.clone()).await;
    let picard_store = IdentityStore::load(&picard_dir).unwrap();
    let riker_store = IdentityStore::load(&riker_dir).unwrap();
    let server = MeshServer::start(&picard_store, PeerAuthentication::Strict).await;
    let _watch = watch_cert_dir(
        picard_store.clone(),
        server.metrics.clone(),
        CertWatchOptions::default(),
    )
    .unwrap();
    let picard_id = id("spiffe://starfleet/picard");

    // The new certificate arrives; its key does not yet.
    let staged = temp.path("staged");
    let new_serial = issue(&ca, "picard", staged.clone()).await;
    std::fs::copy(staged.join("tls.crt"), picard_dir.join("tls.crt")).unwrap();
    eventually("the half-written pair is refused", async || {
        server.metrics.rotations(false) >= 1
    })
    .await;
    assert_eq!(probe(&riker_store, &picard_id, &server).await.0, old_serial);
    assert_eq!(server.metrics.rotations(true), 0);

    std::fs::copy(staged.join("tls.key"), picard_dir.join("tls.key")).unwrap();
    eventually("the completed pair is put in force", async || {
        probe(&riker_store, &picard_id, &server).await.0 == new_serial
    })
    .await;
    assert_eq!(server.metrics.rotations(true), 1);

    // An expired replacement is refused as a whole; the current certificate stays.
    let refused_before = server.metrics.rotations(false);
    ca.forge("spiffe://starfleet/picard", &picard_dir, |params| {
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::hours(48);
        params.not_after = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    });
    eventually("the expired files are refused", async || {
        server.metrics.rotations(false) > refused_before
    })
    .await;
    assert_eq!(probe(&riker_store, &picard_id, &server).await.0, new_serial);
    assert_eq!(picard_store.current().facts.serial, new_serial);
}
