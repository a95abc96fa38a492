//! Paths that try to get past a protected route, sent over raw sockets (so no client tidies them
//! first) to gateways in front of a recording upstream: under each path policy, every vector is
//! either refused with 400, or normalized, judged by the protected route, and forwarded exactly as
//! it was matched (also after `strip_prefix` and `rewrite`).

#[allow(dead_code)] // the wire helpers are shared with http1.rs, which uses them all
mod http1_wire;
mod scratch;
mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http1_wire::*;
use support::*;

const KEY: &str = "crew-key-0123456789";

/// The request targets the upstream received, in order.
type Seen = Arc<Mutex<Vec<String>>>;

async fn recording_upstream() -> (SocketAddr, Seen) {
    let seen: Seen = Arc::default();
    let record = Arc::clone(&seen);
    let (address, _) = scripted_upstream(move |head| {
        let target = head.split(' ').nth(1).unwrap_or_default().to_string();
        record.lock().unwrap().push(target);
        b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nupstream".to_vec()
    })
    .await;
    (address, seen)
}

/// One gateway per path policy, each with a protected `/admin` prefix and `/officers/{id}`
/// template, a public `/api` prefix that is stripped, a rewrite, and a public catch-all.
fn program(dir: &Scratch, upstream: SocketAddr) -> String {
    std::fs::write(dir.path("crew.key"), KEY).unwrap();
    let key_file = dir.path("crew.key");
    let gateway = |name: &str, settings: &str| {
        format!(
            r#"
gateway {name} {{
  listen "127.0.0.1:0"
  {settings}
  consumer crew {{ key file("{key}") }}
  route admin {{ match * prefix "/admin" auth key header "x-api-key" forward backend }}
  route officers {{ match GET "/officers/{{id}}" auth key header "x-api-key" forward backend }}
  route api {{ match GET prefix "/api" public forward backend strip_prefix "/api" }}
  route legacy {{ match GET "/legacy/{{ship}}" public forward backend rewrite "/v2/ships/{{ship}}" }}
  route all {{ match * prefix "/" public forward backend }}
}}
"#,
            key = key_file.display()
        )
    };
    [
        gateway("strict", ""),
        gateway("unescape", "escaped_slashes unescape"),
        gateway("keep", "escaped_slashes keep"),
        gateway("unmerged", "merge_slashes off"),
        format!("service backend {{ endpoints [\"{upstream}\"] }}\n"),
    ]
    .concat()
}

/// The status of `GET target` (with the key when `key`), and the target the upstream received
/// for it (`None` when nothing reached the upstream).
async fn send(edge: SocketAddr, seen: &Seen, target: &str, key: bool) -> (u16, Option<String>) {
    let before = seen.lock().unwrap().len();
    let header = if key {
        format!("x-api-key: {KEY}\r\n")
    } else {
        String::new()
    };
    let mut wire = Wire::connect(edge).await;
    wire.send(
        format!("GET {target} HTTP/1.1\r\nHost: edge\r\n{header}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .await;
    let status = wire.response(false).await.status;
    let forwarded = seen.lock().unwrap().get(before).cloned();
    (status, forwarded)
}

const VECTORS: [&str; 6] = [
    "//admin",
    "/admin%2Fx",
    "/%2Fadmin",
    "/public%2F..%2Fadmin",
    "/officers%2f7",
    "/x/../admin",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_encoded_slashes_get_400_and_other_vectors_meet_the_protected_route() {
    let (upstream, seen) = recording_upstream().await;
    let dir = Scratch::new("paths-strict");
    let server = start_mesh(&dir, &program(&dir, upstream)).await;
    let edge = server.listener("strict").unwrap();
    for target in [
        "/admin%2Fx",
        "/%2Fadmin",
        "/public%2F..%2Fadmin",
        "/officers%2f7",
        "/a%5Cadmin",
        "/admin\\x",
        "/admin%00",
    ] {
        assert_eq!(
            send(edge, &seen, target, true).await,
            (400, None),
            "{target}"
        );
    }
    for target in [
        "//admin",
        "/x/../admin",
        "/./admin",
        "/%61dmin",
        "/public/%2e%2e/admin",
        "///admin//",
    ] {
        assert_eq!(
            send(edge, &seen, target, false).await,
            (401, None),
            "{target}"
        );
    }
    // With the key, the upstream receives the path that was matched, not the one sent.
    assert_eq!(
        send(edge, &seen, "//admin", true).await,
        (200, Some("/admin".into()))
    );
    assert_eq!(
        send(edge, &seen, "/x/../admin?q=1", true).await,
        (200, Some("/admin?q=1".into()))
    );
    assert_eq!(
        send(edge, &seen, "///admin//users", true).await,
        (200, Some("/admin/users".into()))
    );
    assert_eq!(
        send(edge, &seen, "/%61dmin/%7Euser", true).await,
        (200, Some("/admin/~user".into()))
    );
    // Public paths are normalized too before they go upstream.
    assert_eq!(
        send(edge, &seen, "/pub//a/./b/../c", false).await,
        (200, Some("/pub/a/c".into()))
    );
    assert_eq!(
        send(edge, &seen, "/caf%c3%a9", false).await,
        (200, Some("/caf%C3%A9".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unescape_decodes_slashes_before_matching_and_forwards_the_decoded_path() {
    let (upstream, seen) = recording_upstream().await;
    let dir = Scratch::new("paths-unescape");
    let server = start_mesh(&dir, &program(&dir, upstream)).await;
    let edge = server.listener("unescape").unwrap();
    for target in VECTORS {
        assert_eq!(
            send(edge, &seen, target, false).await,
            (401, None),
            "{target}"
        );
    }
    let expected = [
        "/admin",
        "/admin/x",
        "/admin",
        "/admin",
        "/officers/7",
        "/admin",
    ];
    for (target, upstream_sees) in VECTORS.iter().zip(expected) {
        assert_eq!(
            send(edge, &seen, target, true).await,
            (200, Some(upstream_sees.to_string())),
            "{target}"
        );
    }
    assert_eq!(
        send(edge, &seen, "/a%5C..%5Cadmin", false).await,
        (401, None)
    );
    assert_eq!(
        send(edge, &seen, "/a\\..\\admin", true).await,
        (200, Some("/admin".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_matches_encoded_slashes_inside_one_segment_and_forwards_them_encoded() {
    let (upstream, seen) = recording_upstream().await;
    let dir = Scratch::new("paths-keep");
    let server = start_mesh(&dir, &program(&dir, upstream)).await;
    let edge = server.listener("keep").unwrap();
    // One segment `admin%2Fx` is not the `/admin` prefix: the public route takes it, and the
    // upstream gets exactly what was matched (hex upper-cased), never a decoded `/admin/x`.
    assert_eq!(
        send(edge, &seen, "/admin%2fx", false).await,
        (200, Some("/admin%2Fx".into()))
    );
    assert_eq!(
        send(edge, &seen, "/officers%2f7", false).await,
        (200, Some("/officers%2F7".into()))
    );
    assert_eq!(
        send(edge, &seen, "/a\\b", false).await,
        (200, Some("/a%5Cb".into()))
    );
    // Slashes are still merged and dot segments removed.
    assert_eq!(send(edge, &seen, "//admin", false).await, (401, None));
    assert_eq!(send(edge, &seen, "/x/../admin", false).await, (401, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_merging_a_doubled_slash_is_its_own_segment_and_forwarded_as_matched() {
    let (upstream, seen) = recording_upstream().await;
    let dir = Scratch::new("paths-unmerged");
    let server = start_mesh(&dir, &program(&dir, upstream)).await;
    let edge = server.listener("unmerged").unwrap();
    assert_eq!(
        send(edge, &seen, "//admin", false).await,
        (200, Some("//admin".into()))
    );
    assert_eq!(send(edge, &seen, "/admin%2Fx", false).await, (400, None));
    assert_eq!(send(edge, &seen, "/x/../admin", false).await, (401, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strip_prefix_and_rewrite_work_on_the_normalized_path() {
    let (upstream, seen) = recording_upstream().await;
    let dir = Scratch::new("paths-rewrite");
    let server = start_mesh(&dir, &program(&dir, upstream)).await;
    let edge = server.listener("strict").unwrap();
    assert_eq!(
        send(edge, &seen, "/api//v1/./users?x=1", false).await,
        (200, Some("/v1/users?x=1".into()))
    );
    // `..` cannot climb out of the stripped prefix into a protected path upstream.
    assert_eq!(send(edge, &seen, "/api/../admin", false).await, (401, None));
    assert_eq!(
        send(edge, &seen, "/api/v1/../../admin", false).await,
        (401, None)
    );
    assert_eq!(
        send(edge, &seen, "//legacy//%65nterprise", false).await,
        (200, Some("/v2/ships/enterprise".into()))
    );
}
