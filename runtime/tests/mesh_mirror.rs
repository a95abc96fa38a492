//! Mirrors on mesh pairs through real sidecar processes (see `mesh_sidecar.rs` for the fixture):
//! `mirror picard -> riker to data 25%` makes picard's outbound sidecar copy a quarter of its
//! app's calls to riker to data, over mutual TLS with picard's identity, fire and forget. The
//! copies are counted at data's app (within five standard deviations over 1000 calls: the draw
//! is not seeded), carry `Host: riker-shadow` and bodies up to `max_body`, leave other pairs
//! alone, and a mirror that answers
//! 500 or hangs changes no primary answer while its bounded queue drops (and counts) the rest.

mod mesh_identity_support;
#[allow(dead_code)]
mod mesh_sidecar_support;
#[allow(dead_code)]
#[path = "fleet_support/meshd_process.rs"]
mod meshd_process;
mod scratch;
mod support;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh_sidecar_support::{metric, Mesh};
use support::{eventually, Answer, Behaviour};

/// `MESH_STRICT`'s shape with two mirrored pairs, both copying to data.
const MESH_WITH_MIRRORS: &str = r#"mesh {
  default deny
  trust_domain "starfleet"
  mtls strict
  allow edge -> [picard, data]
  allow picard -> [riker, data]
  allow riker -> [picard, data]
  mirror picard -> riker to data 25% queue 1024
  mirror riker -> picard to data 100% queue 4
}
"#;

const CALLS: usize = 1000;

fn mirrored(source: &str, destination: &str, result: &str) -> String {
    format!(
        "meshd_mirror_requests_total{{source=\"{source}\",destination=\"{destination}\",service=\"data\",result=\"{result}\"}}"
    )
}

/// The app beside `from` POSTs `body` to `http://to/path` through its sidecar.
async fn post(mesh: &Mesh, from: &str, to: &str, path: &str, body: Vec<u8>) -> Answer {
    let outbound = mesh.sidecar(from).outbound;
    let request = Request::post(format!("http://{outbound}{path}"))
        .header("host", to)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    support::send(&support::client(), request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_mirror_copies_its_share_to_the_mirror_and_never_changes_the_answer() {
    let mesh = Mesh::start_with("mirror", MESH_WITH_MIRRORS, &[]).await;
    let picard = &mesh.sidecar("picard").process;
    let data_app = &mesh.sidecar("data").app;
    let riker_app = &mesh.sidecar("riker").app;

    // The share: 1000 calls picard → riker, each answered by riker; a quarter copied to data.
    for _ in 0..CALLS {
        let answer = mesh.call("picard", "GET", "riker", "/reports", &[]).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    assert_eq!(riker_app.requests(), CALLS);
    let sent = mirrored("picard", "riker", "sent");
    let in_flight = |source: &str, destination: &str| {
        format!(
            "meshd_mirror_in_flight{{source=\"{source}\",destination=\"{destination}\",service=\"data\"}}"
        )
    };
    // Every copy is counted in flight before its primary leaves, so none is on its way once
    // the gauge is back to 0 after the primaries.
    let settled = in_flight("picard", "riker");
    eventually("no copy of picard → riker in flight", async || {
        metric(picard, &settled) == 0.0
    })
    .await;
    let copies = data_app.requests();
    assert_eq!(metric(picard, &sent), copies as f64);
    eprintln!("{copies} of {CALLS} calls picard → riker copied to data (25%)");
    let (n, p) = (CALLS as f64, 0.25);
    let sd = (n * p * (1.0 - p)).sqrt();
    assert!(
        (copies as f64 - n * p).abs() <= 5.0 * sd,
        "{copies} of {CALLS} copied, expected {} ± {}",
        n * p,
        5.0 * sd
    );
    // The mirror can tell: every copy arrived with the `-shadow` Host.
    assert_eq!(data_app.requests_with_host("riker-shadow"), copies);
    for result in ["failed", "dropped", "skipped_body"] {
        assert_eq!(metric(picard, &mirrored("picard", "riker", result)), 0.0);
    }

    // Other pairs are not mirrored: picard → data and riker → data reach data once each.
    for from in ["picard", "riker"] {
        for _ in 0..50 {
            let answer = mesh.call(from, "GET", "data", "/scan", &[]).await;
            assert_eq!(answer.status, 200, "{from}: {}", answer.body);
        }
    }
    assert_eq!(data_app.requests(), copies + 100);
    assert_eq!(data_app.requests_with_host("data"), 100);
    assert_eq!(data_app.requests_with_host("riker-shadow"), copies);
    assert_eq!(
        metric(
            picard,
            "meshd_mirror_requests_total{source=\"picard\",destination=\"data\""
        ),
        0.0
    );

    // Bodies: riker → picard copies every call; a body within `max_body` (64 KiB by default)
    // goes with the copy, a larger one is forwarded but not copied (and counted).
    let riker = &mesh.sidecar("riker").process;
    let before = data_app.requests();
    for _ in 0..5 {
        let answer = post(&mesh, "riker", "picard", "/orders", vec![b'o'; 512]).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.json()["body"].as_str().map(str::len), Some(512));
    }
    let large = post(&mesh, "riker", "picard", "/orders", vec![b'o'; 100_000]).await;
    assert_eq!(large.status, 200, "{}", large.body);
    assert_eq!(large.json()["body"].as_str().map(str::len), Some(100_000));
    let settled = in_flight("riker", "picard");
    eventually("no copy of riker → picard in flight", async || {
        metric(riker, &settled) == 0.0
    })
    .await;
    assert_eq!(metric(riker, &mirrored("riker", "picard", "sent")), 5.0);
    assert_eq!(data_app.requests(), before + 5);
    assert_eq!(
        data_app.requests_with_host_and_length("picard-shadow", 512),
        5
    );
    assert_eq!(
        metric(riker, &mirrored("riker", "picard", "skipped_body")),
        1.0
    );

    // A mirror answering 500: every primary answer is still riker's 200.
    data_app.set_behaviour(Behaviour::Status(500));
    let before = data_app.requests();
    let sent_before = metric(picard, &sent);
    for _ in 0..200 {
        let answer = mesh.call("picard", "GET", "riker", "/reports", &[]).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(answer.body.contains("riker"), "{}", answer.body);
    }
    let settled = in_flight("picard", "riker");
    eventually("no copy of picard → riker in flight", async || {
        metric(picard, &settled) == 0.0
    })
    .await;
    let answered = metric(picard, &sent) - sent_before;
    assert!(answered > 0.0);
    assert_eq!(answered, (data_app.requests() - before) as f64);

    // A mirror that hangs: riker → picard copies everything to data, which now answers after
    // 60 s (its timeout is 5 s). Every primary is answered while no copy ever is, and beyond the
    // 4 copies in flight the queue drops copies (each timed-out copy frees one slot).
    data_app.set_behaviour(Behaviour::Slow(60_000));
    let before = data_app.requests();
    // The first call is answered while its copy is still held at data's app: the primary never
    // waits for the mirror (a waiting sidecar would answer only once the copy timed out).
    let first = mesh
        .call("riker", "GET", "picard", "/officers/7", &[])
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    eventually("the copy reached data's app", async || {
        data_app.requests() > before
    })
    .await;
    let unanswered = |result| metric(riker, &mirrored("riker", "picard", result));
    assert_eq!(unanswered("sent") - 5.0 + unanswered("failed"), 0.0);
    let hanging = 30;
    for _ in 1..hanging {
        let answer = mesh
            .call("riker", "GET", "picard", "/officers/7", &[])
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(answer.body.contains("picard"), "{}", answer.body);
    }
    assert_eq!(metric(riker, &mirrored("riker", "picard", "sent")), 5.0);
    let failed = metric(riker, &mirrored("riker", "picard", "failed"));
    let dropped = metric(riker, &mirrored("riker", "picard", "dropped"));
    let held = metric(riker, &in_flight("riker", "picard"));
    eprintln!(
        "{hanging} copies to a hanging mirror: {dropped} dropped, {failed} failed, {held} in flight"
    );
    assert!(held <= 4.0, "{held} copies in flight beyond the queue of 4");
    assert!(
        dropped >= hanging as f64 - 4.0 - failed,
        "{dropped} dropped, {failed} failed of {hanging} copies to a hanging mirror"
    );
}
