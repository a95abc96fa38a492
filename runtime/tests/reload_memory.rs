//! Reloads must not grow meshd's memory: after dozens of reloads of a program with thousands of
//! routes, once every replaced state is freed (`meshd_replaced_states` back to 0), RSS stays
//! under 1.5× what the first load left (issue 11; `bench/scale.sh` measures the release build over
//! 100 reloads). glibc's dynamic mmap threshold used to carve every later state's large tables
//! out of the heap between long-lived small allocations; the holes could not be given back and
//! memory climbed with each reload.

mod drain_support;
mod process_memory;
mod scratch;
mod support;

use std::fmt::Write;
use std::net::SocketAddr;
use std::time::Instant;

use drain_support::*;
use process_memory::{anonymous_rss_kib, rss_kib};
use support::{compile_bundle, Scratch};

const ROUTES: usize = 8_000;
const SERVICES: usize = 40;
const RELOADS: usize = 32;

/// `ROUTES` routes over `SERVICES` services; `timeout` makes two versions of the same routes.
fn program(timeout: &str) -> String {
    let mut out = String::from("gateway edge {\n  listen \"127.0.0.1:0\"\n");
    for i in 0..ROUTES {
        let s = i % SERVICES;
        let _ = writeln!(
            out,
            "  route r{i} {{ match GET \"/s{s}/items{i}/{{id}}\" public forward svc{s} strip_prefix \"/s{s}\" }}"
        );
    }
    out.push_str("}\n");
    for s in 0..SERVICES {
        let _ = writeln!(
            out,
            "service svc{s} {{ endpoints [\"127.0.0.1:9\"] timeout {timeout} retry 2 on [connect_failure] }}"
        );
    }
    out
}

/// The value of an unlabelled gauge in the admin's `/metrics`.
async fn gauge(admin: SocketAddr, name: &str) -> u64 {
    let reply = get_once(admin, "/metrics").await.unwrap();
    reply
        .body
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} in /metrics:\n{}", reply.body))
}

/// Waits until every replaced state is freed (a signal, not a sleep: the gauge falls as each
/// replaced state is dropped and the heap trimmed).
async fn wait_replaced_states_freed(admin: SocketAddr) {
    let start = Instant::now();
    while gauge(admin, "meshd_replaced_states").await != 0 {
        assert!(start.elapsed() < PATIENCE, "replaced states never freed");
        tokio::task::yield_now().await;
    }
}

/// Swaps the served bundle between `versions` `count` times (POST /reload after each), then
/// waits until the replaced states are freed.
async fn reload(meshd: &Meshd, serving: &std::path::Path, versions: &[Vec<u8>; 2], count: usize) {
    for reload in 1..=count {
        std::fs::write(serving, &versions[reload % 2]).unwrap();
        let reply = post_once(meshd.admin, "/reload", "").await.unwrap();
        assert_eq!(reply.status, 200, "reload {reload}: {reply:?}");
    }
    wait_replaced_states_freed(meshd.admin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dozens_of_reloads_of_thousands_of_routes_leave_memory_flat() {
    let dir = Scratch::new("reload-memory");
    // Bundles, as a fleet serves them (sources reload the same way, plus the compiler's work).
    let versions = ["2s", "3s"].map(|timeout| {
        let path = dir.path(&format!("{timeout}.json"));
        compile_bundle(&program(timeout), &path);
        std::fs::read(&path).unwrap()
    });
    let serving = dir.path("serving.json");
    std::fs::write(&serving, &versions[0]).unwrap();
    let meshd = Meshd::start_async(&meshd_binary(), &serving, &["--admin", "127.0.0.1:0"]);
    let pid = meshd.pid().unsigned_abs();
    let (first, first_anon) = (rss_kib(pid), anonymous_rss_kib(pid));
    reload(&meshd, &serving, &versions, RELOADS).await;
    let (last, last_anon) = (rss_kib(pid), anonymous_rss_kib(pid));
    eprintln!(
        "meshd RSS (anonymous) in KiB: {first} ({first_anon}) after the first load, {last} \
         ({last_anon}) after {RELOADS} reloads"
    );
    // Measured (debug build): RSS 1.24–1.28×, anonymous memory 1.6–1.7×: one step of about
    // 11 MB at some reload (reloads build on the blocking pool's threads, whose stacks and
    // allocator arenas then stay), then flat. Before the fix: RSS 1.9–2.2×, anonymous 3.7–4.1×,
    // climbing with every reload.
    assert!(
        last * 2 < first * 3,
        "RSS grew from {first} KiB to {last} KiB over {RELOADS} reloads of {ROUTES} routes"
    );
    assert!(
        last_anon * 2 < first_anon * 5,
        "anonymous memory grew from {first_anon} KiB to {last_anon} KiB over {RELOADS} reloads"
    );
}
