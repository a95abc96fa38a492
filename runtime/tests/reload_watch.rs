//! File-change reloads through inotify: after a refused program, every following edit is picked
//! up, in source and in bundle mode, including edits made back to back while a reload runs. The
//! safety-net poll is set to an hour here, so only the watcher can see the changes; each step
//! waits on the admin `/bundle` digest or the refusal counter, never on time.

mod scratch;
mod support;

use std::path::Path;
use std::time::Duration;

use support::*;

const HOUR: Duration = Duration::from_secs(3600);

fn versioned(version: u32) -> String {
    format!(
        r#"
gateway edge {{
  listen "127.0.0.1:0"
  route version {{ match GET "/version" public respond 200 "v{version}" }}
}}
"#
    )
}

async fn digest(server: &meshd::RunningServer) -> String {
    admin_get(server, "/bundle").await.json()["digest"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn refusals(server: &meshd::RunningServer) -> u64 {
    let metrics = admin_get(server, "/metrics").await.body;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(r#"meshd_bundle_loads_total{result="refused"} "#))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Waits until the served bundle's digest is no longer `old`, then returns the new one.
async fn next_digest(server: &meshd::RunningServer, old: &str) -> String {
    eventually("a new bundle is served", async || {
        digest(server).await != old
    })
    .await;
    digest(server).await
}

async fn version(server: &meshd::RunningServer) -> String {
    get(server.listener("edge").unwrap(), "/version", &[])
        .await
        .body
}

async fn wait_refused(server: &meshd::RunningServer, before: u64) {
    eventually("the broken program is refused", async || {
        refusals(server).await > before
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_refused_source_edit_every_following_edit_is_picked_up() {
    let dir = Scratch::new("watch-sources");
    let file = dir.path("main.mesh");
    std::fs::write(&file, versioned(1)).unwrap();
    let mut options = test_options(vec![dir.dir().to_path_buf()]);
    options.watch_interval = HOUR;
    let server = start_with(options).await;
    let mut served = digest(&server).await;
    assert_eq!(version(&server).await, "v1");

    let refused = refusals(&server).await;
    std::fs::write(&file, "gateway edge { route {").unwrap();
    wait_refused(&server, refused).await;
    assert_eq!(
        version(&server).await,
        "v1",
        "the old program keeps serving"
    );

    for v in 2..=5 {
        std::fs::write(&file, versioned(v)).unwrap();
        served = next_digest(&server, &served).await;
        assert_eq!(version(&server).await, format!("v{v}"));
    }
    // A new file in the source directory is part of the program too.
    std::fs::write(
        dir.path("extra.mesh"),
        r#"service extra { endpoints ["127.0.0.1:9"] }"#,
    )
    .unwrap();
    served = next_digest(&server, &served).await;
    assert_eq!(version(&server).await, "v5");

    // Back to back, a broken one in the middle, while reloads are running: the last one wins.
    let refused = refusals(&server).await;
    std::fs::write(&file, versioned(6)).unwrap();
    std::fs::write(&file, "gateway edge { route {").unwrap();
    wait_refused(&server, refused).await;
    std::fs::write(&file, versioned(7)).unwrap();
    std::fs::write(&file, versioned(8)).unwrap();
    eventually("the last edit is served", async || {
        version(&server).await == "v8"
    })
    .await;
    assert_ne!(digest(&server).await, served);
}

/// Compiles `source` into a bundle at `path` and returns its digest.
fn write_bundle(source: &str, path: &Path) -> String {
    compile_bundle(source, path);
    let bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    bundle["digest"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_refused_bundle_every_following_bundle_is_picked_up() {
    let dir = Scratch::new("watch-bundle");
    let bundle = dir.path("edge.json");
    let first = write_bundle(&versioned(1), &bundle);
    let mut options = test_options(vec![bundle.clone()]);
    options.watch_interval = HOUR;
    let server = start_with(options).await;
    assert_eq!(digest(&server).await, first);

    let refused = refusals(&server).await;
    std::fs::write(&bundle, "{ not a bundle").unwrap();
    wait_refused(&server, refused).await;
    assert_eq!(digest(&server).await, first);

    for v in 2..=5 {
        let expected = write_bundle(&versioned(v), &bundle);
        eventually("the new bundle is served", async || {
            digest(&server).await == expected
        })
        .await;
        assert_eq!(version(&server).await, format!("v{v}"));
    }
    // Written elsewhere and renamed over the bundle, as deploy tools do.
    let staged = dir.path("edge.json.tmp");
    let expected = write_bundle(&versioned(6), &staged);
    std::fs::rename(&staged, &bundle).unwrap();
    eventually("the renamed bundle is served", async || {
        digest(&server).await == expected
    })
    .await;
}
