//! W3C trace context through sidecars (separate `meshd sidecar` processes, mutual TLS): an app's
//! call through its sidecar's outbound listener and into the destination's inbound sidecar stays
//! in the caller's trace, each sidecar reporting its server and forward spans to a real OTLP
//! receiver under its own service name; a denied call is an error span naming the rule.

mod mesh_identity_support;
#[allow(dead_code)]
mod mesh_sidecar_support;
#[allow(dead_code)]
#[path = "fleet_support/meshd_process.rs"]
mod meshd_process;
mod scratch;
mod support;
mod tracing_support;

use mesh_sidecar_support::{Mesh, MESH_STRICT};
use serde_json::Value;
use tracing_support::Receiver;

const CALLER: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

fn find<'a>(spans: &'a [Value], service: &str, name: &str) -> &'a Value {
    spans
        .iter()
        .find(|s| s["service"] == service && s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} span from {service}: {spans:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_through_two_sidecars_stays_in_the_callers_trace_with_linked_spans() {
    let receiver = Receiver::start();
    let endpoint = receiver.endpoint();
    let mesh = Mesh::start_with("trace", MESH_STRICT, &["--otlp-endpoint", &endpoint]).await;
    let answer = mesh
        .call(
            "picard",
            "GET",
            "riker",
            "/reports",
            &[("traceparent", CALLER)],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let received = answer.json()["headers"]["traceparent"]
        .as_str()
        .expect("riker's app gets a traceparent")
        .to_string();
    let fields: Vec<&str> = received.split('-').collect();
    assert_eq!(fields[1], TRACE);
    assert_eq!(fields[3], "01");

    let mut spans = Vec::new();
    support::eventually("both sidecars' spans arrive", async || {
        spans = receiver
            .spans()
            .await
            .into_iter()
            .filter(|s| s["trace_id"] == TRACE)
            .collect();
        spans.len() >= 4
    })
    .await;
    let outbound = find(&spans, "picard", "outbound riker");
    let out_forward = find(&spans, "picard", "forward riker");
    let inbound = find(&spans, "riker", "inbound riker");
    let in_forward = find(&spans, "riker", "forward riker");
    assert_eq!(
        outbound["parent_span_id"], "b7ad6b7169203331",
        "child of the app's span"
    );
    assert_eq!(out_forward["parent_span_id"], outbound["span_id"]);
    assert_eq!(
        inbound["parent_span_id"], out_forward["span_id"],
        "across the mTLS hop"
    );
    assert_eq!(inbound["attributes"]["meshwork.source"], "picard");
    assert_eq!(in_forward["parent_span_id"], inbound["span_id"]);
    assert_eq!(
        in_forward["span_id"], fields[2],
        "the app's parent is the sidecar's forward span"
    );

    // Denied by the destination's sidecar (picard may only GET riker): an error span there.
    let denied = mesh
        .call(
            "picard",
            "POST",
            "riker",
            "/reports",
            &[("traceparent", CALLER)],
        )
        .await;
    assert_eq!(denied.status, 403);
    support::eventually("the denial's span arrives", async || {
        receiver.spans().await.iter().any(|s| {
            s["service"] == "riker"
                && s["attributes"]["http.response.status_code"] == 403
                && s["status_code"] == 2
                && s["attributes"]["meshwork.denied_by"]
                    .as_str()
                    .is_some_and(|d| d.contains("mesh.mesh"))
        })
    })
    .await;
}
