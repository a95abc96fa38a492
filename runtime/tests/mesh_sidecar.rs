//! The mesh end to end, with separate processes on loopback: a CA made by `meshd ca`, one
//! `meshd sidecar` process per service (picard, riker, data) in front of a real HTTP app, and a
//! `meshd run --mesh-certs` gateway. The test plays the apps' side: it calls through a sidecar's
//! outbound listener (`Host` names the service) and reads what the called app received.
//!
//! Covered: an allowed call reaches the app with the verified caller; the default and a `deny …
//! when` refuse with 403 naming the rule's `file:line`, as `meshc explain --from` says; `when` on
//! the method; a caller's own identity headers are stripped; the gateway calls into the mesh with
//! its own identity; a client certificate from another CA is refused at the handshake; an
//! endpoint presenting another identity is refused with 502; strict refuses plaintext; a reload to
//! `permissive` and a changed rule take effect on the next request.

mod mesh_identity_support;
mod mesh_sidecar_support;
#[allow(dead_code)]
#[path = "fleet_support/meshd_process.rs"]
mod meshd_process;
mod scratch;
mod support;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh_identity_support::{connect, id, Scratch, TestCa};
use mesh_sidecar_support::{
    assert_refused_plaintext, metric, plaintext, services_source, workload, Mesh, MESH_PERMISSIVE,
    MESH_STRICT,
};
use meshd_process::MeshdProcess;
use meshwork_bundle::mesh_policy::ServiceHosts;
use support::{client, Answer, Behaviour};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidecars_enforce_the_mesh_over_mutual_tls_as_meshc_explain_decides() {
    let mesh = Mesh::start("decide").await;

    // Allowed: picard GETs riker; the app sees the verified caller, not what the client claimed.
    let allowed = mesh
        .call(
            "picard",
            "GET",
            "riker",
            "/reports/7",
            &[
                ("x-forwarded-client-cert", "URI=spiffe://starfleet/edge"),
                ("x-meshwork-source", "edge"),
            ],
        )
        .await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    let echo = allowed.json();
    assert_eq!(echo["upstream"], "riker");
    assert_eq!(echo["path"], "/reports/7");
    assert_eq!(echo["headers"]["x-meshwork-source"], "picard");
    assert_eq!(
        echo["headers"]["x-forwarded-client-cert"],
        "By=spiffe://starfleet/riker;URI=spiffe://starfleet/picard"
    );

    // `when` on the method: POST falls to the default.
    let refused = mesh.call("picard", "POST", "riker", "/reports", &[]).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let mesh_file = mesh.program.join("mesh.mesh");
    let default_at = format!("{}:2", mesh_file.display());
    let denied_by = refused.header("x-meshwork-denied-by").unwrap().to_string();
    assert!(
        denied_by.contains("rule=default deny") && denied_by.contains(&default_at),
        "{denied_by}"
    );

    // A deny whose condition holds beats the allow below it.
    let red = mesh
        .call("riker", "GET", "data", "/scan", &[("x-alert", "red")])
        .await;
    assert_eq!(red.status, 403, "{}", red.body);
    let red_by = red.header("x-meshwork-denied-by").unwrap().to_string();
    assert!(
        red_by.contains(&format!("{}:7", mesh_file.display())),
        "{red_by}"
    );
    let calm = mesh
        .call("riker", "GET", "data", "/scan", &[("x-alert", "green")])
        .await;
    assert_eq!(calm.status, 200, "{}", calm.body);
    assert_eq!(calm.json()["headers"]["x-meshwork-source"], "riker");

    // data may call nobody: riker's sidecar says so with the default.
    let data_to_riker = mesh.call("data", "GET", "riker", "/", &[]).await;
    assert_eq!(data_to_riker.status, 403, "{}", data_to_riker.body);

    // meshc explain --from decides every one of these calls the same way, naming the same rule.
    let cases: [(&str, &str, Vec<String>, &Answer); 5] = [
        ("picard", "GET http://riker/reports/7", vec![], &allowed),
        ("picard", "POST http://riker/reports", vec![], &refused),
        (
            "riker",
            "GET http://data/scan",
            vec!["x-alert: red".into()],
            &red,
        ),
        (
            "riker",
            "GET http://data/scan",
            vec!["x-alert: green".into()],
            &calm,
        ),
        ("data", "GET http://riker/", vec![], &data_to_riker),
    ];
    for (from, line, headers, answer) in cases {
        let (allowed, denied_by) = mesh.explain(from, line, &headers);
        assert_eq!(
            allowed,
            answer.status == 200,
            "{from} {line}: {}",
            answer.body
        );
        if !allowed {
            assert_eq!(
                answer.header("x-meshwork-denied-by"),
                Some(denied_by.as_str()),
                "{from} {line}"
            );
        }
    }

    // Each refusal is counted by the deciding rule at the called side, and every call by code.
    let riker = &mesh.sidecar("riker").process;
    assert!(
        metric(
            riker,
            "meshd_mesh_denials_total{destination=\"riker\",rule=\"default\"}"
        ) >= 2.0
    );
    assert!(
        metric(
            riker,
            "meshd_mesh_requests_total{direction=\"inbound\",source=\"picard\",destination=\"riker\",code=\"200\"}"
        ) >= 1.0
    );
    // The refused calls never reached the apps.
    assert_eq!(mesh.sidecar("riker").app.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_calls_into_the_mesh_with_its_own_identity_and_its_sidecar_judges_it() {
    let mesh = Mesh::start("gateway").await;
    let gateway = tokio::task::spawn_blocking({
        let args = mesh.start_gateway_args();
        move || MeshdProcess::start(&args)
    })
    .await
    .unwrap();
    let (status, body) = gateway.gateway_get("/officers/7");
    assert_eq!(status, 200, "{body}");
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echo["upstream"], "picard");
    assert_eq!(echo["headers"]["x-meshwork-source"], "edge");
    assert_eq!(
        echo["headers"]["x-forwarded-client-cert"],
        "By=spiffe://starfleet/picard;URI=spiffe://starfleet/edge"
    );
    // The gateway admits the POST (its route is public); picard's sidecar refuses it, because
    // the mesh denies edge's POSTs: the rule is enforced where the call arrives.
    let before = mesh.sidecar("picard").app.requests();
    let answer = support::send(
        &client(),
        Request::post(format!("http://{}/orders/1", gateway.gateway.unwrap()))
            .body(Full::new(Bytes::new()))
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    let denied_by = answer.header("x-meshwork-denied-by").unwrap_or_default();
    assert!(
        denied_by.starts_with("mesh=picard;") && denied_by.contains("mesh.mesh:10"),
        "{denied_by}"
    );
    assert_eq!(mesh.sidecar("picard").app.requests(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_certificates_impostors_and_plaintext_are_refused_at_the_connection() {
    let mesh = Mesh::start("refuse").await;
    let riker = mesh.sidecar("riker");

    // A client certificate for `picard` from another CA: refused at the handshake.
    let romulan = TestCa::init(mesh.temp.path("romulan-ca"), "starfleet");
    let romulan_picard = mesh.temp.path("romulan-picard");
    romulan.issue("picard", &romulan_picard, &[]);
    // It trusts the real CA too, so only the server's check can refuse it.
    let both = format!("{}{}", mesh.ca.cert_pem(), romulan.cert_pem());
    std::fs::write(romulan_picard.join("ca.crt"), both).unwrap();
    let outcome = match connect(
        &workload(&romulan_picard),
        &id("spiffe://starfleet/riker"),
        riker.inbound,
    )
    .await
    {
        Ok(mut connection) => connection.get().await.map(|_| ()),
        Err(error) => Err(error.to_string()),
    };
    assert!(outcome.is_err(), "a foreign certificate got an answer");
    assert_eq!(riker.app.requests(), 0);
    support::eventually("riker counts the unknown CA", async || {
        metric(
            &riker.process,
            "meshd_tls_handshake_failures_total{direction=\"inbound\",reason=\"unknown_ca\"}",
        ) >= 1.0
    })
    .await;

    // The real picard certificate works on the same listener.
    let mut real = connect(
        &workload(&mesh.temp.path("picard")),
        &id("spiffe://starfleet/riker"),
        riker.inbound,
    )
    .await
    .unwrap();
    let answer = real.get().await.unwrap();
    assert_eq!(answer["headers"]["x-meshwork-source"], "picard");

    // An endpoint presenting another identity (data's sidecar, called as `impostor`): 502, and
    // nothing reaches data's app.
    let impostor = mesh.call("picard", "GET", "impostor", "/", &[]).await;
    assert_eq!(impostor.status, 502, "{}", impostor.body);
    assert!(
        impostor.body.contains("spiffe://starfleet/data"),
        "{}",
        impostor.body
    );
    assert_eq!(mesh.sidecar("data").app.requests(), 0);
    assert!(
        metric(
            &mesh.sidecar("picard").process,
            "meshd_tls_handshake_failures_total{direction=\"outbound\""
        ) >= 1.0
    );

    // An unknown service is a clear 404 from the caller's own sidecar.
    let unknown = mesh.call("picard", "GET", "worf", "/", &[]).await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert!(
        unknown.body.contains("no service `worf`"),
        "{}",
        unknown.body
    );

    // Strict: plaintext gets no HTTP answer at all (a TLS alert, or nothing).
    assert_refused_plaintext(&plaintext(riker.inbound).await);
    assert_eq!(riker.app.requests(), 1);
}

/// An app on Kubernetes calls `riker.<namespace>.svc.cluster.local`, `riker.<namespace>` or
/// `riker`: each names riker when the namespace is the mesh's (the first search domain), and the
/// call is decided and forwarded as riker's. A name the pod's resolver would send elsewhere is
/// the caller's sidecar's 404, never the local riker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_host_names_in_the_mesh_namespace_name_the_service() {
    let search = "bridge.svc.cluster.local,svc.cluster.local,cluster.local";
    let mesh = Mesh::start_with("dns", MESH_STRICT, &["--search-domains", search]).await;
    let riker = mesh.sidecar("riker");
    let mut reached = 0;
    for host in [
        "riker.bridge.svc.cluster.local",
        "riker.bridge.svc.cluster.local.:8080",
        "Riker.Bridge.svc",
        "riker.bridge",
    ] {
        let answer = mesh.call("picard", "GET", host, "/reports/7", &[]).await;
        assert_eq!(answer.status, 200, "{host}: {}", answer.body);
        reached += 1;
        let echo = answer.json();
        assert_eq!(echo["upstream"], "riker", "{host}");
        // The app's Host goes on as it was sent, as Envoy and Linkerd keep it.
        assert_eq!(echo["headers"]["host"], host, "{host}");
        assert_eq!(echo["headers"]["x-meshwork-source"], "picard", "{host}");
        // The mesh's rules are riker's: POST falls to the default there.
        let posted = mesh.call("picard", "POST", host, "/reports", &[]).await;
        assert_eq!(posted.status, 403, "{host}: {}", posted.body);
        // meshc explain, given the same search domains, reads the host the same way.
        let hosts = ServiceHosts::new(&ServiceHosts::search_domains_in_list(search));
        let get = format!("GET http://{host}/reports/7");
        assert!(mesh.explain_with("picard", &get, &[], &hosts).0, "{host}");
        let post = format!("POST http://{host}/reports");
        let (allowed, denied_by) = mesh.explain_with("picard", &post, &[], &hosts);
        assert!(!allowed, "{host}");
        assert_eq!(
            posted.header("x-meshwork-denied-by"),
            Some(denied_by.as_str())
        );
    }
    for host in [
        "riker.sickbay",
        "riker.sickbay.svc.cluster.local",
        "riker.cluster.local",
        "riker.example.com",
    ] {
        let answer = mesh.call("picard", "GET", host, "/", &[]).await;
        assert_eq!(answer.status, 404, "{host}: {}", answer.body);
        assert!(
            answer.body.contains(&format!("no service `{}`", host))
                && answer.body.contains("bridge.svc.cluster.local"),
            "{}",
            answer.body
        );
    }
    assert_eq!(riker.app.requests(), reached);
    // Counted under the service's name, not under each host spelling.
    assert!(
        metric(
            &mesh.sidecar("picard").process,
            "meshd_mesh_requests_total{direction=\"outbound\",source=\"picard\",destination=\"riker\",code=\"200\"}"
        ) >= reached as f64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_to_permissive_and_a_changed_rule_take_effect_on_the_next_request() {
    let mesh = Mesh::start("reload").await;
    let riker = mesh.sidecar("riker");
    assert_eq!(
        mesh.call("picard", "POST", "riker", "/reports", &[])
            .await
            .status,
        403
    );
    assert_refused_plaintext(&plaintext(riker.inbound).await);
    let before = riker.process.digest();

    std::fs::write(mesh.program.join("mesh.mesh"), MESH_PERMISSIVE).unwrap();
    for sidecar in &mesh.sidecars {
        support::eventually("the sidecar serves the new bundle", async || {
            sidecar.process.digest() != before
        })
        .await;
    }
    let posted = mesh.call("picard", "POST", "riker", "/reports", &[]).await;
    assert_eq!(posted.status, 200, "{}", posted.body);

    // Permissive: plaintext is served as an unauthenticated caller, which only `*` rules and the
    // default can allow; here the default refuses it, and the call is counted as plaintext.
    let answer = plaintext(riker.inbound).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("x-meshwork-denied-by"), "{answer}");
    let data = mesh.sidecar("data");
    let plain_to_data = plaintext(data.inbound).await;
    assert!(plain_to_data.starts_with("HTTP/1.1 403"), "{plain_to_data}");
    assert!(
        metric(
            &riker.process,
            "meshd_mesh_plaintext_requests_total{destination=\"riker\"}"
        ) >= 1.0
    );
}

#[test]
fn a_sidecar_refuses_to_start_for_an_unknown_service_or_with_another_services_certificate() {
    let temp = Scratch::new("sidecar-refused");
    let ca = TestCa::init(temp.path("ca"), "starfleet");
    ca.issue("worf", &temp.path("worf"), &[]);
    ca.issue("riker", &temp.path("riker"), &[]);
    let program = temp.path("program");
    std::fs::create_dir_all(&program).unwrap();
    let endpoints = [("picard", "127.0.0.1:1".parse().unwrap())];
    std::fs::write(
        program.join("services.mesh"),
        services_source(&endpoints, "127.0.0.1:1".parse().unwrap()),
    )
    .unwrap();
    std::fs::write(
        program.join("mesh.mesh"),
        "mesh {\n  default deny\n  trust_domain \"starfleet\"\n  allow edge -> [picard]\n}\n",
    )
    .unwrap();
    let sidecar = |service: &str, certs: &str| -> Vec<String> {
        meshd_process::sidecar_args(&program, service, "127.0.0.1:1", &temp.path(certs))
    };
    let (status, log) = meshd_process::run_meshd_to_exit(&sidecar("worf", "worf"));
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains("the bundle has no service `worf`") && log.contains("picard"),
        "{log}"
    );
    let (status, log) = meshd_process::run_meshd_to_exit(&sidecar("picard", "riker"));
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains(
            "is for spiffe://starfleet/riker, but service `picard` is spiffe://starfleet/picard"
        ),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_rotate_under_a_steady_stream_of_calls_without_a_failure() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    let mesh = Arc::new(Mesh::start("rotate").await);
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let callers: Vec<_> = (0..2)
        .map(|_| {
            let (mesh, stop, served, failures) = (
                Arc::clone(&mesh),
                Arc::clone(&stop),
                Arc::clone(&served),
                Arc::clone(&failures),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let answer = mesh.call("picard", "GET", "riker", "/reports", &[]).await;
                    if answer.status == 200 {
                        served.fetch_add(1, Ordering::SeqCst);
                    } else {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{}: {}", answer.status, answer.body));
                    }
                }
            })
        })
        .collect();
    support::eventually("calls flow", async || served.load(Ordering::SeqCst) > 20).await;

    // Both ends rotate, each by `meshd ca issue` in its own process, while calls keep flowing.
    let mut serials = Vec::new();
    for service in ["riker", "picard"] {
        let (ca_dir, out) = (mesh.ca.dir.clone(), mesh.temp.path(service));
        let serial =
            tokio::task::spawn_blocking(move || TestCa { dir: ca_dir }.issue(service, &out, &[]))
                .await
                .unwrap();
        serials.push((service, serial));
    }
    for (service, serial) in &serials {
        let process = &mesh.sidecar(service).process;
        let serial = serial.clone();
        tokio::task::block_in_place(|| {
            process.wait_for_line(|l| {
                l.contains("workload certificate rotated") && l.contains(&serial)
            })
        });
    }
    let after_rotation = served.load(Ordering::SeqCst);
    support::eventually("calls keep flowing after the rotation", async || {
        served.load(Ordering::SeqCst) > after_rotation + 20
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    for caller in callers {
        caller.await.unwrap();
    }
    assert_eq!(failures.lock().unwrap().clone(), Vec::<String>::new());

    // A new handshake meets riker's new certificate.
    let picard_copy = mesh.temp.path("picard-client");
    mesh.ca.issue("picard", &picard_copy, &[]);
    let connection = connect(
        &workload(&picard_copy),
        &id("spiffe://starfleet/riker"),
        mesh.sidecar("riker").inbound,
    )
    .await
    .unwrap();
    assert_eq!(connection.server_serial, serials[0].1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_a_sidecar_answering_every_call_in_flight() {
    let mesh = Mesh::start("drain").await;
    let riker = mesh.sidecar("riker");
    riker.app.set_behaviour(Behaviour::Slow(1000));
    let mesh = std::sync::Arc::new(mesh);
    let calls: Vec<_> = (0..5)
        .map(|_| {
            let mesh = std::sync::Arc::clone(&mesh);
            tokio::spawn(async move { mesh.call("picard", "GET", "riker", "/slow", &[]).await })
        })
        .collect();
    let riker = mesh.sidecar("riker");
    support::eventually("the calls reach riker's app", async || {
        riker.app.requests() >= 5
    })
    .await;

    // SAFETY: kill(2) on the pid of a child this test started and still holds.
    let sent = unsafe { libc::kill(riker.process.pid() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(sent, 0);
    support::eventually("riker's sidecar reports not ready", async || {
        let admin = riker.process.admin;
        tokio::task::spawn_blocking(move || meshd_process::http_get(admin, "/readyz"))
            .await
            .unwrap()
            .is_ok_and(|(status, _)| status == 503)
    })
    .await;
    for call in calls {
        let answer = call.await.unwrap();
        assert_eq!(
            answer.status, 200,
            "a call in flight was cut: {}",
            answer.body
        );
    }
    let line = tokio::task::block_in_place(|| {
        riker
            .process
            .wait_for_line(|l| l.contains("drained: every request was answered"))
    });
    assert!(line.contains("drained"), "{line}");
}

/// A reload that makes riker an h2c service: picard's sidecar then calls riker's over HTTP/2, and
/// riker's sidecar speaks h2c to its app from the next call on (the app serves both).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_changes_the_protocol_changes_how_the_app_is_spoken_to() {
    let mesh = Mesh::start("protocol").await;
    let version = async |mesh: &Mesh| {
        let answer = mesh.call("picard", "GET", "riker", "/reports", &[]).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.json()["version"].as_str().unwrap().to_string()
    };
    assert_eq!(version(&mesh).await, "HTTP/1.1");

    let before = mesh.sidecar("riker").process.digest();
    let data = mesh.sidecar("data").inbound;
    let services = services_source(&mesh.endpoints, data).replace(
        &format!(
            "service riker {{ endpoints [\"{}\"] timeout 5s }}",
            mesh.sidecar("riker").inbound
        ),
        &format!(
            "service riker {{ endpoints [\"{}\"] timeout 5s protocol h2c }}",
            mesh.sidecar("riker").inbound
        ),
    );
    assert!(services.contains("protocol h2c"), "{services}");
    std::fs::write(mesh.program.join("services.mesh"), services).unwrap();
    for sidecar in &mesh.sidecars {
        support::eventually("the sidecar serves the new bundle", async || {
            sidecar.process.digest() != before
        })
        .await;
    }
    assert_eq!(version(&mesh).await, "HTTP/2.0");
}
