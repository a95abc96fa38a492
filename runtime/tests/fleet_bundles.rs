//! Bundles over HTTP with real processes: five meshd polling one nginx converge on each signed
//! bundle published, refuse tampered, unsigned, foreign-signed and stale ones, keep serving and
//! back off while nginx is down, and a fresh meshd starts from its last-known-good cache.

mod fleet_support;
mod process_memory;
mod scratch;

use std::time::{Duration, Instant};

use fleet_support::meshd_process::{eventually, run_meshd_to_exit, MeshdProcess};
use fleet_support::nginx::{nginx_installed, Nginx};
use fleet_support::publish::{build, ping_program, signature_of, Shelf};
use fleet_support::Scratch;
use meshwork_bundle::signature::key_pair_texts;
use process_memory::peak_rss_kib;

const INTERVAL_MS: u64 = 500;
const JITTER_MS: u64 = 100;
const MAX_BACKOFF_MS: u64 = 2_000;

fn meshd_args(url: &str, public_key: &str, cache: &std::path::Path) -> Vec<String> {
    [
        "run",
        url,
        "--admin",
        "127.0.0.1:0",
        "--workers",
        "1",
        "--no-access-log",
        "--verify-key",
        public_key,
        "--cache-dir",
        &cache.display().to_string(),
        "--poll-interval",
        &format!("{INTERVAL_MS}ms"),
        "--poll-jitter",
        &format!("{JITTER_MS}ms"),
        "--poll-max-backoff",
        &format!("{MAX_BACKOFF_MS}ms"),
        "--fetch-timeout",
        "5s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Polls made by an instance so far, whatever their outcome.
fn polls(meshd: &MeshdProcess) -> f64 {
    ["updated", "unchanged", "not_modified", "refused", "error"]
        .iter()
        .map(|outcome| {
            meshd.metric(&format!(
                "meshd_bundle_fetches_total{{outcome=\"{outcome}\"}}"
            ))
        })
        .sum()
}

fn refusals(meshd: &MeshdProcess) -> f64 {
    meshd.metric("meshd_bundle_fetches_total{outcome=\"refused\"}")
}

fn assert_all_answer(fleet: &[MeshdProcess], answer: &str) {
    for (i, meshd) in fleet.iter().enumerate() {
        assert_eq!(
            meshd.gateway_get("/ping"),
            (200, answer.to_owned()),
            "instance {i}"
        );
    }
}

/// Publishes a bad bundle and waits until every instance refused it once more; the served
/// digest stays `serving`. Returns the last refusal's reason of the first instance.
fn refused_by_all(fleet: &[MeshdProcess], serving: &str, publish: impl FnOnce()) -> String {
    let before: Vec<f64> = fleet.iter().map(refusals).collect();
    publish();
    for (meshd, before) in fleet.iter().zip(before) {
        eventually("every instance refuses the bundle", || {
            refusals(meshd) > before
        });
        assert_eq!(meshd.digest(), serving, "the old bundle keeps serving");
    }
    fleet[0].bundle()["fetch"]["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn five_meshd_polling_one_nginx_converge_refuse_bad_bundles_and_survive_an_outage() {
    if !nginx_installed() {
        eprintln!("skipped: nginx is not installed (apt-get install -y nginx)");
        return;
    }
    let scratch = Scratch::new("five");
    let (private, public) = key_pair_texts([21; 32]);
    let (foreign_private, _) = key_pair_texts([22; 32]);
    let public_key = scratch.path("ops.pub");
    std::fs::write(&public_key, &public).unwrap();
    let key = public_key.display().to_string();
    let mut shelf = Shelf::new(&scratch.path("www"));
    let v1 = build(scratch.dir(), &ping_program("v1"), 1);
    shelf.publish("edge.json", &v1, Some(&private));
    let mut nginx = Nginx::start(&scratch.path("nginx"), &shelf.root);
    let url = nginx.url("edge.json");

    let fleet: Vec<MeshdProcess> = (0..5)
        .map(|i| {
            MeshdProcess::start(&meshd_args(
                &url,
                &key,
                &scratch.path(&format!("cache-{i}")),
            ))
        })
        .collect();
    for meshd in &fleet {
        assert_eq!(meshd.digest(), v1.digest);
        let bundle = meshd.bundle();
        assert_eq!(bundle["serial"], 1);
        assert_eq!(bundle["source"], url.as_str());
        assert_eq!(bundle["fetch"]["url"], url.as_str());
        assert!(bundle["fetch"]["etag"].as_str().unwrap().starts_with('"'));
        let outcome = bundle["fetch"]["last_outcome"].as_str().unwrap().to_owned();
        assert!(
            ["updated", "not_modified"].contains(&outcome.as_str()),
            "{outcome}"
        );
        assert_eq!(bundle["fetch"]["serving_cache"], false);
    }
    assert_all_answer(&fleet, "v1");
    // A poll that finds nothing new is a 304.
    eventually("a 304 on every instance", || {
        fleet
            .iter()
            .all(|m| m.metric("meshd_bundle_fetches_total{outcome=\"not_modified\"}") >= 1.0)
    });

    // Publish: every instance serves the new bundle at its next poll.
    let v2 = build(scratch.dir(), &ping_program("v2"), 2);
    let polls_before: Vec<f64> = fleet.iter().map(polls).collect();
    let published = Instant::now();
    shelf.publish("edge.json", &v2, Some(&private));
    // Watch all instances at once, so each one's poll count is read as soon as it converged.
    let mut taken: Vec<Option<(f64, Duration)>> = vec![None; fleet.len()];
    eventually("every instance serves v2", || {
        for (i, meshd) in fleet.iter().enumerate() {
            if taken[i].is_none() && meshd.digest() == v2.digest {
                taken[i] = Some((polls(meshd) - polls_before[i], published.elapsed()));
            }
        }
        taken.iter().all(Option::is_some)
    });
    let slowest = taken
        .iter()
        .flatten()
        .map(|(_, at)| *at)
        .max()
        .unwrap_or_default();
    eprintln!(
        "fleet converged {slowest:?} after the publish (interval {INTERVAL_MS} ms + jitter {JITTER_MS} ms)"
    );
    for (i, (meshd, taken)) in fleet.iter().zip(&taken).enumerate() {
        // The poll that found v2 was the first or second after the publish (one may have been in
        // flight when the file was replaced): convergence within one interval plus jitter.
        let (polls_taken, _) = taken.unwrap_or_default();
        assert!(
            (1.0..=2.0).contains(&polls_taken),
            "instance {i} needed {polls_taken} polls to see the new bundle"
        );
        assert_eq!(
            meshd.metric("meshd_bundle_fetches_total{outcome=\"updated\"}"),
            2.0
        );
        let (_, metrics) = meshd.admin_get("/metrics");
        assert!(
            metrics.contains(&format!(
                "meshd_bundle_info{{digest=\"{}\",compiler_version=\"meshc 0.1.0\",serial=\"2\",source=\"{url}\",etag=\"'",
                v2.digest
            )),
            "{metrics}"
        );
    }
    assert_all_answer(&fleet, "v2");

    // Tampered: the content changed after signing; the digest no longer holds.
    let reason = refused_by_all(&fleet, &v2.digest, || {
        let tampered = v2.to_pretty_json().replace("\"v2\"", "\"v666\"");
        let signature = signature_of(&private, &v2.digest, tampered.len());
        shelf.publish_text("edge.json", &tampered, Some(&signature));
    });
    assert!(reason.contains("digest mismatch"), "{reason}");
    // Unsigned.
    let v3 = build(scratch.dir(), &ping_program("v3"), 3);
    let reason = refused_by_all(&fleet, &v2.digest, || shelf.publish("edge.json", &v3, None));
    assert!(reason.contains("not signed"), "{reason}");
    // Signed with a key the fleet does not trust.
    let reason = refused_by_all(&fleet, &v2.digest, || {
        shelf.publish("edge.json", &v3, Some(&foreign_private))
    });
    assert!(reason.contains("does not verify"), "{reason}");
    // Stale: a properly signed bundle with a lower serial (a mirror that fell behind).
    let stale = build(scratch.dir(), &ping_program("stale"), 1);
    let reason = refused_by_all(&fleet, &v2.digest, || {
        shelf.publish("edge.json", &stale, Some(&private))
    });
    assert!(reason.contains("refused as a rollback"), "{reason}");
    // Arbitrary bytes, behind a signature that verifies (of v2, for as many bytes), and behind
    // arbitrary bytes.
    let noise: String = (0..4096).map(|_| fastrand::char(..)).collect();
    let reason = refused_by_all(&fleet, &v2.digest, || {
        let signature = signature_of(&private, &v2.digest, noise.len());
        shelf.publish_text("edge.json", &noise, Some(&signature));
    });
    assert!(reason.contains("not a usable bundle"), "{reason}");
    let reason = refused_by_all(&fleet, &v2.digest, || {
        shelf.publish_text("edge.json", &noise, Some(&noise));
    });
    assert!(reason.contains("is not a signature"), "{reason}");
    // A zstd bomb (1 GiB of spaces in 1 KiB) behind v2's real signature, replayed: the signature
    // is checked first, and the bomb expands no further than the text length it vouches for, so
    // no instance's memory grows (it did by the gigabyte when the bundle was read first).
    let peaks: Vec<u64> = fleet
        .iter()
        .map(|meshd| peak_rss_kib(meshd.pid()))
        .collect();
    let v2_signature = signature_of(&private, &v2.digest, v2.to_pretty_json().len());
    let reason = refused_by_all(&fleet, &v2.digest, || {
        let frame = meshwork_bundle::bundle_file::compress(&vec![b' '; 1 << 20]);
        shelf.publish_bytes("edge.json", &frame.repeat(1024), Some(&v2_signature));
    });
    assert!(reason.contains("expands past"), "{reason}");
    for (meshd, before) in fleet.iter().zip(peaks) {
        let after = peak_rss_kib(meshd.pid());
        assert!(after < before + 64 * 1024, "peak {before} → {after} KiB");
    }
    assert_all_answer(&fleet, "v2");
    for meshd in &fleet {
        assert!(meshd.metric("meshd_bundle_loads_total{result=\"refused\"}") >= 5.0);
    }

    // The good bundle again (a new file, the same content): a success ends the refusals' backoff.
    // Counted, not read from `last_outcome`: an instance checked late may have polled again
    // (a 304) since its successful fetch.
    let unchanged =
        |meshd: &MeshdProcess| meshd.metric("meshd_bundle_fetches_total{outcome=\"unchanged\"}");
    let before: Vec<f64> = fleet.iter().map(unchanged).collect();
    shelf.publish("edge.json", &v2, Some(&private));
    for (meshd, before) in fleet.iter().zip(before) {
        eventually("every instance polls successfully again", || {
            unchanged(meshd) > before
        });
    }

    // nginx down: every instance keeps serving and backs off.
    nginx.stop();
    for (i, meshd) in fleet.iter().enumerate() {
        eventually("polls fail twice in a row", || {
            let fetch = meshd.bundle()["fetch"].clone();
            fetch["last_outcome"] == "error" && fetch["consecutive_failures"].as_u64() >= Some(2)
        });
        let fetch = meshd.bundle()["fetch"].clone();
        assert_eq!(fetch["last_outcome"], "error");
        let last = humantime::parse_rfc3339(fetch["last_fetch_at"].as_str().unwrap()).unwrap();
        let next = humantime::parse_rfc3339(fetch["next_poll_at"].as_str().unwrap()).unwrap();
        let wait = next.duration_since(last).unwrap_or_default();
        assert!(
            wait >= Duration::from_millis(2 * INTERVAL_MS - 5),
            "instance {i} waits only {wait:?} after {} failures",
            fetch["consecutive_failures"]
        );
        assert!(
            wait <= Duration::from_millis(MAX_BACKOFF_MS + JITTER_MS + 5),
            "{wait:?}"
        );
        assert_eq!(meshd.gateway_get("/ping"), (200, "v2".to_owned()));
    }

    // A fresh meshd while nginx is down starts from its cache (a copy of instance 0's).
    let copied = scratch.path("cache-fresh");
    std::fs::create_dir_all(&copied).unwrap();
    for entry in std::fs::read_dir(scratch.path("cache-0")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copied.join(entry.file_name())).unwrap();
    }
    let fresh = MeshdProcess::start(&meshd_args(&url, &key, &copied));
    fresh.wait_for_line(|l| l.contains("serving the last known good bundle from the cache"));
    assert_eq!(fresh.digest(), v2.digest);
    assert_eq!(fresh.bundle()["fetch"]["serving_cache"], true);
    assert_eq!(fresh.metric("meshd_bundle_serving_cache"), 1.0);
    assert_eq!(fresh.gateway_get("/ping"), (200, "v2".to_owned()));
    // Without a cache it cannot start, and says why.
    let (status, log) = run_meshd_to_exit(&meshd_args(&url, &key, &scratch.path("cache-empty")));
    assert!(!status.success());
    assert!(log.contains("no bundle to start with"), "{log}");

    // nginx back with a new bundle: the whole fleet, the fresh one too, converges.
    let v4 = build(scratch.dir(), &ping_program("v4"), 4);
    shelf.publish("edge.json", &v4, Some(&private));
    nginx.restart();
    for meshd in fleet.iter().chain([&fresh]) {
        eventually("every instance serves v4 after the outage", || {
            meshd.digest() == v4.digest
        });
        assert_eq!(meshd.gateway_get("/ping"), (200, "v4".to_owned()));
    }
    assert_eq!(fresh.bundle()["fetch"]["serving_cache"], false);
}

#[test]
fn a_rollback_is_accepted_only_when_allowed() {
    if !nginx_installed() {
        eprintln!("skipped: nginx is not installed (apt-get install -y nginx)");
        return;
    }
    let scratch = Scratch::new("rollback");
    let (private, public) = key_pair_texts([23; 32]);
    let public_key = scratch.path("ops.pub");
    std::fs::write(&public_key, &public).unwrap();
    let mut shelf = Shelf::new(&scratch.path("www"));
    let new = build(scratch.dir(), &ping_program("new"), 10);
    shelf.publish("edge.json", &new, Some(&private));
    let nginx = Nginx::start(&scratch.path("nginx"), &shelf.root);
    let url = nginx.url("edge.json");
    let key = public_key.display().to_string();
    let strict = MeshdProcess::start(&meshd_args(&url, &key, &scratch.path("strict")));
    let mut args = meshd_args(&url, &key, &scratch.path("lenient"));
    args.push("--allow-rollback".into());
    let lenient = MeshdProcess::start(&args);

    let old = build(scratch.dir(), &ping_program("old"), 9);
    shelf.publish("edge.json", &old, Some(&private));
    eventually("the lenient instance rolls back", || {
        lenient.digest() == old.digest
    });
    eventually("the strict instance refuses", || refusals(&strict) >= 1.0);
    assert_eq!(strict.digest(), new.digest);
    assert_eq!(lenient.gateway_get("/ping"), (200, "old".to_owned()));
    assert_eq!(strict.gateway_get("/ping"), (200, "new".to_owned()));

    // A restarted strict instance remembers the serial through its cache: the stale bundle on
    // the server is refused at start too, and the cached one serves.
    drop(strict);
    let restarted = MeshdProcess::start(&meshd_args(&url, &key, &scratch.path("strict")));
    restarted.wait_for_line(|l| l.contains("refused as a rollback"));
    assert_eq!(restarted.digest(), new.digest);
}

#[test]
fn https_bundle_urls_need_a_trusted_certificate() {
    if !nginx_installed() {
        eprintln!("skipped: nginx is not installed (apt-get install -y nginx)");
        return;
    }
    let scratch = Scratch::new("https");
    let issued = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (scratch.path("cert.pem"), scratch.path("key.pem"));
    std::fs::write(&cert, issued.cert.pem()).unwrap();
    std::fs::write(&key, issued.signing_key.serialize_pem()).unwrap();
    let mut shelf = Shelf::new(&scratch.path("www"));
    let bundle = build(scratch.dir(), &ping_program("over tls"), 1);
    shelf.publish("edge.json", &bundle, None);
    let nginx = Nginx::start_tls(&scratch.path("nginx"), &shelf.root, &cert, &key);
    let url = nginx.url("edge.json");
    let args = |extra: &[&str]| -> Vec<String> {
        [
            "run",
            &url,
            "--admin",
            "127.0.0.1:0",
            "--workers",
            "1",
            "--no-access-log",
        ]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
    };

    let trusted = MeshdProcess::start(&args(&["--bundle-ca", &cert.display().to_string()]));
    assert_eq!(trusted.digest(), bundle.digest);
    assert_eq!(trusted.gateway_get("/ping"), (200, "over tls".to_owned()));

    // The system's roots do not include this certificate: the handshake fails, nothing to serve.
    let (status, log) = run_meshd_to_exit(&args(&[]));
    assert!(!status.success());
    assert!(log.contains("TLS with localhost failed"), "{log}");
}
