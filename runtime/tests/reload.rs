//! Hot reload over real sockets: swaps under load lose nothing, file changes are picked up, and a
//! bundle that fails a check (digest, signature, listeners) is refused while the old one serves.

mod scratch;
mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use meshwork_bundle::Bundle;
use support::*;

fn versioned(version: u32, upstream: &Upstream) -> String {
    format!(
        r#"
gateway edge {{
  listen "127.0.0.1:0"
  route version {{ match GET "/version" public respond 200 "v{version}" }}
  route slow {{ match GET "/slow" public forward crew }}
}}
service crew {{ endpoints ["{}"] }}
"#,
        upstream.address
    )
}

async fn post_reload(server: &meshd::RunningServer) -> Answer {
    let request = Request::post(format!("http://{}/reload", server.admin))
        .body(Full::new(Bytes::new()))
        .unwrap();
    send(&client(), request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reloads_under_a_stream_of_requests_lose_none_and_in_flight_requests_finish() {
    let slow = Upstream::start("slow", Behaviour::Slow(30)).await;
    let dir = Scratch::new("reload-stream");
    let server = start_mesh(&dir, &versioned(1, &slow)).await;
    let edge = server.listener("edge").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for n in 0..6 {
        let (stop, failures, served) = (stop.clone(), failures.clone(), served.clone());
        clients.push(tokio::spawn(async move {
            let client = client();
            let path = if n % 2 == 0 { "/version" } else { "/slow" };
            while !stop.load(Ordering::SeqCst) {
                let request = Request::get(format!("http://{edge}{path}"))
                    .body(Full::new(Bytes::new()))
                    .unwrap();
                match client.request(request).await {
                    Ok(response) if response.status() == 200 => {
                        let _ = http_body_util::BodyExt::collect(response.into_body()).await;
                        served.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => {
                        failures.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        }));
    }
    for version in 2..=6 {
        std::fs::write(dir.path("main.mesh"), versioned(version, &slow)).unwrap();
        let answer = post_reload(&server).await;
        // The file watcher may have swapped it first; either way it is served now.
        assert_eq!(answer.status, 200, "{}", answer.body);
        let expected = format!("v{version}");
        eventually("the new version answers", async || {
            get(edge, "/version", &[]).await.body == expected
        })
        .await;
    }
    stop.store(true, Ordering::SeqCst);
    for task in clients {
        task.await.unwrap();
    }
    assert_eq!(failures.load(Ordering::SeqCst), 0);
    assert!(
        served.load(Ordering::SeqCst) > 50,
        "only {} requests",
        served.load(Ordering::SeqCst)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_source_file_is_reloaded_without_a_trigger() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("reload-file");
    let server = start_mesh(&dir, &versioned(1, &upstream)).await;
    let edge = server.listener("edge").unwrap();
    assert_eq!(get(edge, "/version", &[]).await.body, "v1");
    std::fs::write(dir.path("main.mesh"), versioned(2, &upstream)).unwrap();
    eventually("the edit is served", async || {
        get(edge, "/version", &[]).await.body == "v2"
    })
    .await;
    let bundle = admin_get(&server, "/bundle").await.json();
    assert_ne!(
        bundle["digest"],
        serde_json::Value::from(server.digest.clone())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_edit_that_does_not_compile_is_refused_and_the_old_bundle_keeps_serving() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("reload-broken");
    let server = start_mesh(&dir, &versioned(1, &upstream)).await;
    let edge = server.listener("edge").unwrap();
    std::fs::write(dir.path("main.mesh"), "gateway edge { route {").unwrap();
    let answer = post_reload(&server).await;
    assert_eq!(answer.status, 422);
    assert!(
        answer.json()["error"]
            .as_str()
            .unwrap()
            .contains("do not compile"),
        "{}",
        answer.body
    );
    assert_eq!(get(edge, "/version", &[]).await.body, "v1");
    let metrics = admin_get(&server, "/metrics").await.body;
    // The file watcher may have refused it too.
    let refused = metrics
        .lines()
        .find_map(|l| l.strip_prefix(r#"meshd_bundle_loads_total{result="refused"} "#))
        .and_then(|v| v.parse::<u64>().ok());
    assert!(refused.is_some_and(|n| n >= 1), "{metrics}");
}

/// A bundle file compiled from `source`, its content edited without resealing. Compiled beside
/// `path` and renamed over it, so the file watcher never sees the valid bundle in between.
fn tampered(source: &str, path: &std::path::Path) {
    let staged = path.with_extension("staged");
    compile_bundle(source, &staged);
    let mut bundle = Bundle::from_json(&std::fs::read_to_string(&staged).unwrap()).unwrap();
    bundle.services[0].timeout_ms += 1;
    std::fs::write(&staged, bundle.to_pretty_json()).unwrap();
    std::fs::rename(&staged, path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_bundle_is_refused_on_reload_and_the_old_one_keeps_serving() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("reload-tampered");
    let bundle = dir.path("edge.json");
    compile_bundle(&versioned(1, &upstream), &bundle);
    let server = start_with(test_options(vec![bundle.clone()])).await;
    let edge = server.listener("edge").unwrap();
    tampered(&versioned(2, &upstream), &bundle);
    let answer = post_reload(&server).await;
    assert_eq!(answer.status, 422);
    assert!(
        answer.json()["error"]
            .as_str()
            .unwrap()
            .contains("digest mismatch"),
        "{}",
        answer.body
    );
    assert_eq!(
        answer.json()["serving"],
        serde_json::Value::from(server.digest.clone())
    );
    assert_eq!(get(edge, "/version", &[]).await.body, "v1");
    assert_eq!(
        admin_get(&server, "/bundle").await.json()["digest"],
        serde_json::Value::from(server.digest.clone())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_bundle_is_refused_at_start() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("start-tampered");
    let bundle = dir.path("edge.json");
    tampered(&versioned(1, &upstream), &bundle);
    let options = test_options(vec![bundle]);
    let error = tokio::task::spawn_blocking(move || meshd::start(options))
        .await
        .unwrap()
        .unwrap_err();
    assert!(meshd::reload::error_chain(&error).contains("digest mismatch"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_that_moves_a_listener_is_refused_on_reload() {
    let dir = Scratch::new("reload-listener");
    let server = start_mesh(&dir, "gateway edge { listen \"127.0.0.1:0\" route a { match GET \"/\" public respond 200 \"one\" } }").await;
    std::fs::write(
        dir.path("main.mesh"),
        "gateway edge { listen \"127.0.0.1:0\" listen \"127.0.0.1:1\" route a { match GET \"/\" public respond 200 \"two\" } }",
    )
    .unwrap();
    let answer = post_reload(&server).await;
    assert_eq!(answer.status, 422);
    assert!(
        answer.json()["error"]
            .as_str()
            .unwrap()
            .contains("changes the listeners"),
        "{}",
        answer.body
    );
    assert_eq!(
        get(server.listener("edge").unwrap(), "/", &[]).await.body,
        "one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_bundles_load_and_a_bad_signature_is_refused_at_start_and_on_reload() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("signed");
    let bundle = dir.path("edge.json");
    compile_bundle(&versioned(1, &upstream), &bundle);
    let (ops_key, ops_pub) = meshd::load::generate_key_pair(&dir.path("ops")).unwrap();
    let (intruder_key, _) = meshd::load::generate_key_pair(&dir.path("intruder")).unwrap();

    let mut options = test_options(vec![bundle.clone()]);
    options.verify_key = Some(ops_pub.clone());
    let unsigned = options.clone();
    let error = tokio::task::spawn_blocking(move || meshd::start(unsigned))
        .await
        .unwrap()
        .unwrap_err();
    assert!(meshd::reload::error_chain(&error).contains("not signed"));

    let digest = |path: &std::path::Path| {
        Bundle::from_json(&std::fs::read_to_string(path).unwrap())
            .unwrap()
            .digest
    };
    meshd::load::sign_bundle(&bundle, &digest(&bundle), &ops_key).unwrap();
    let server = start_with(options).await;
    let edge = server.listener("edge").unwrap();
    assert_eq!(get(edge, "/version", &[]).await.body, "v1");

    compile_bundle(&versioned(2, &upstream), &bundle);
    meshd::load::sign_bundle(&bundle, &digest(&bundle), &intruder_key).unwrap();
    let answer = post_reload(&server).await;
    assert_eq!(answer.status, 422);
    assert!(
        answer.json()["error"]
            .as_str()
            .unwrap()
            .contains("does not verify"),
        "{}",
        answer.body
    );
    assert_eq!(get(edge, "/version", &[]).await.body, "v1");

    meshd::load::sign_bundle(&bundle, &digest(&bundle), &ops_key).unwrap();
    assert_eq!(post_reload(&server).await.status, 200);
    assert_eq!(get(edge, "/version", &[]).await.body, "v2");

    // A signature of the first format (from a meshc before this one): refused, with the fix
    // named, unless the fleet is moving from them (`--accept-v1-signatures`).
    compile_bundle(&versioned(3, &upstream), &bundle);
    let ops_text = std::fs::read_to_string(&ops_key).unwrap();
    let first = meshwork_bundle::signature::sign_first_format(&ops_text, &digest(&bundle));
    std::fs::write(meshd::load::signature_path(&bundle), first.unwrap()).unwrap();
    let answer = post_reload(&server).await;
    assert_eq!(answer.status, 422);
    assert!(
        answer.body.contains("sign the bundle again"),
        "{}",
        answer.body
    );
    assert_eq!(get(edge, "/version", &[]).await.body, "v2");
    let mut moving = test_options(vec![bundle.clone()]);
    moving.verify_key = Some(ops_pub.clone());
    moving.accept_v1_signatures = true;
    drop(server);
    let server = start_with(moving).await;
    let edge = server.listener("edge").unwrap();
    assert_eq!(get(edge, "/version", &[]).await.body, "v3");
}

/// Writes a bundle compiled from `source` with `serial` to `path`.
fn compile_with_serial(source: &str, serial: u64, path: &std::path::Path) {
    let mut bundle = meshc::compile_text("test.mesh", source).bundle.unwrap();
    bundle.serial = serial;
    bundle.seal();
    std::fs::write(path, bundle.to_pretty_json()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_file_with_a_lower_serial_is_refused_unless_rollbacks_are_allowed() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("reload-serial");
    let strict_file = dir.path("strict.json");
    let lenient_file = dir.path("lenient.json");
    compile_with_serial(&versioned(1, &upstream), 5, &strict_file);
    compile_with_serial(&versioned(1, &upstream), 5, &lenient_file);
    let strict = start_with(test_options(vec![strict_file.clone()])).await;
    let mut options = test_options(vec![lenient_file.clone()]);
    options.source.allow_rollback = true;
    let lenient = start_with(options).await;

    compile_with_serial(&versioned(2, &upstream), 4, &strict_file);
    compile_with_serial(&versioned(2, &upstream), 4, &lenient_file);
    let refused = post_reload(&strict).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("refused as a rollback"),
        "{}",
        refused.body
    );
    assert_eq!(
        get(strict.listener("edge").unwrap(), "/version", &[])
            .await
            .body,
        "v1"
    );
    let accepted = post_reload(&lenient).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(
        get(lenient.listener("edge").unwrap(), "/version", &[])
            .await
            .body,
        "v2"
    );
    assert_eq!(admin_get(&lenient, "/bundle").await.json()["serial"], 4);

    // A higher serial moves forward on both.
    compile_with_serial(&versioned(3, &upstream), 6, &strict_file);
    assert_eq!(post_reload(&strict).await.status, 200);
    assert_eq!(
        get(strict.listener("edge").unwrap(), "/version", &[])
            .await
            .body,
        "v3"
    );
}

/// A bundle need not come from meshc: one whose CEL condition nests a hundred thousand brackets
/// deep (which would overflow the stack of the thread parsing it, and end meshd) is refused on
/// reload like any bad bundle, and the old one keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_with_a_cel_expression_nested_past_the_bound_is_refused_on_reload() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("reload-deep-cel");
    let bundle = dir.path("edge.json");
    compile_bundle(&versioned(1, &upstream), &bundle);
    let server = start_with(test_options(vec![bundle.clone()])).await;
    let edge = server.listener("edge").unwrap();

    let staged = dir.path("staged.json");
    let conditioned = versioned(2, &upstream).replace(
        "public respond 200 \"v2\"",
        "public when request.method == \"GET\" respond 200 \"v2\"",
    );
    compile_bundle(&conditioned, &staged);
    let text = std::fs::read_to_string(&staged).unwrap();
    let depth = 100_000;
    let deep = format!(
        "{}request.method == \\\"GET\\\"{}",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    let edited = text.replace("request.method == \\\"GET\\\"", &deep);
    assert_ne!(edited, text, "the condition is in the bundle");
    let mut deep_bundle = Bundle::from_json(&edited).unwrap();
    deep_bundle.seal();
    std::fs::write(&bundle, deep_bundle.to_pretty_json()).unwrap();

    let answer = post_reload(&server).await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    assert!(
        answer.body.contains("nests deeper than 64 levels"),
        "{}",
        answer.body
    );
    assert_eq!(get(edge, "/version", &[]).await.body, "v1");
}
