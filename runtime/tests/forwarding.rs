//! Forwarding over real sockets: path rewriting, forwarded headers, hop-by-hop hygiene,
//! connection reuse, balancing spread and weighted splits.

mod support;

use support::*;

fn service_block(name: &str, endpoints: &[&Upstream], extra: &str) -> String {
    let list: Vec<String> = endpoints
        .iter()
        .map(|u| format!("\"{}\"", u.address))
        .collect();
    format!(
        "service {name} {{ endpoints [{}] {extra} }}\n",
        list.join(", ")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strip_prefix_and_rewrite_shape_the_upstream_path_and_keep_the_query() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = TempDir::new("rewrite");
    let source = format!(
        r#"
gateway edge {{
  listen "127.0.0.1:0"
  route strip {{ match GET prefix "/officers" public forward crew strip_prefix "/officers" }}
  route moved {{ match GET "/v1/crew/{{id}}" public forward crew rewrite "/v2/people/{{id}}" }}
}}
{}"#,
        service_block("crew", &[&upstream], "")
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    let stripped = get(edge, "/officers/picard?rank=captain", &[]).await.json();
    assert_eq!(stripped["path"], "/picard");
    assert_eq!(stripped["query"], "rank=captain");
    assert_eq!(get(edge, "/officers", &[]).await.json()["path"], "/");
    assert_eq!(
        get(edge, "/v1/crew/riker", &[]).await.json()["path"],
        "/v2/people/riker"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_are_added_and_hop_by_hop_headers_removed_both_ways() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = TempDir::new("headers");
    let source = format!(
        r#"
gateway edge {{
  listen "127.0.0.1:0"
  route all {{ match * prefix "/" public forward crew }}
}}
{}"#,
        service_block("crew", &[&upstream], "")
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    let answer = get(
        edge,
        "/x",
        &[
            ("host", "api.starfleet.test"),
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "gopher"),
            ("connection", "x-client-secret"),
            ("x-client-secret", "hop"),
            ("te", "trailers"),
            ("proxy-authorization", "Basic Zm9vOmJhcg=="),
            ("x-kept", "yes"),
        ],
    )
    .await;
    let seen = &answer.json()["headers"];
    assert_eq!(seen["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert_eq!(seen["x-forwarded-proto"], "http");
    assert_eq!(seen["x-forwarded-host"], "api.starfleet.test");
    assert_eq!(seen["host"], "api.starfleet.test");
    assert_eq!(seen["x-kept"], "yes");
    for gone in ["x-client-secret", "te", "proxy-authorization"] {
        assert!(seen.get(gone).is_none(), "{gone} was forwarded: {seen}");
    }
    // The upstream's own hop-by-hop headers do not reach the client.
    assert_eq!(answer.header("x-upstream"), Some("crew"));
    assert_eq!(answer.header("x-upstream-secret"), None);
    assert_eq!(answer.header("keep-alive"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_connections_are_kept_alive_and_reused() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = TempDir::new("reuse");
    let source = format!(
        "gateway edge {{ listen \"127.0.0.1:0\" route all {{ match * prefix \"/\" public forward crew }} }}\n{}",
        service_block("crew", &[&upstream], "")
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    let client = client();
    for _ in 0..50 {
        let request = http::Request::get(format!("http://{edge}/x"))
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        assert_eq!(send(&client, request).await.status, 200);
    }
    assert_eq!(upstream.requests(), 50);
    // One connection per worker at most, however many requests.
    assert!(
        upstream.connections() <= 2,
        "{} connections",
        upstream.connections()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_spreads_requests_evenly_over_endpoints() {
    let ups = [
        Upstream::start("a", Behaviour::Answer).await,
        Upstream::start("b", Behaviour::Answer).await,
        Upstream::start("c", Behaviour::Answer).await,
    ];
    let dir = TempDir::new("round-robin");
    let source = format!(
        "gateway edge {{ listen \"127.0.0.1:0\" route all {{ match * prefix \"/\" public forward crew }} }}\n{}",
        service_block("crew", &[&ups[0], &ups[1], &ups[2]], "balance round_robin")
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    for _ in 0..90 {
        assert_eq!(get(edge, "/", &[]).await.status, 200);
    }
    for upstream in &ups {
        assert_eq!(upstream.requests(), 30);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_and_least_request_reach_every_endpoint() {
    for policy in ["random", "least_request"] {
        let ups = [
            Upstream::start("a", Behaviour::Answer).await,
            Upstream::start("b", Behaviour::Answer).await,
        ];
        let dir = TempDir::new(policy);
        let source = format!(
            "gateway edge {{ listen \"127.0.0.1:0\" route all {{ match * prefix \"/\" public forward crew }} }}\n{}",
            service_block("crew", &[&ups[0], &ups[1]], &format!("balance {policy}"))
        );
        let server = start_mesh(&dir, &source).await;
        let edge = server.listener("edge").unwrap();
        for _ in 0..100 {
            assert_eq!(get(edge, "/", &[]).await.status, 200);
        }
        for upstream in &ups {
            assert!(
                upstream.requests() >= 20,
                "{policy}: {} of 100",
                upstream.requests()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hash_balancing_keeps_each_key_on_one_endpoint() {
    let ups = [
        Upstream::start("a", Behaviour::Answer).await,
        Upstream::start("b", Behaviour::Answer).await,
        Upstream::start("c", Behaviour::Answer).await,
    ];
    let dir = TempDir::new("hash");
    let source = format!(
        "gateway edge {{ listen \"127.0.0.1:0\" route all {{ match * prefix \"/\" public forward crew }} }}\n{}",
        service_block("crew", &[&ups[0], &ups[1], &ups[2]], "balance hash(request.headers[\"x-user\"])")
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    let mut homes = std::collections::BTreeSet::new();
    for user in ["picard", "riker", "data", "troi", "worf", "crusher"] {
        let first = get(edge, "/", &[("x-user", user)]).await.json()["upstream"].clone();
        for _ in 0..5 {
            assert_eq!(
                get(edge, "/", &[("x-user", user)]).await.json()["upstream"],
                first,
                "{user}"
            );
        }
        homes.insert(first.to_string());
    }
    assert!(homes.len() >= 2, "every key landed on {homes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weighted_split_sends_each_service_its_share() {
    let stable = Upstream::start("stable", Behaviour::Answer).await;
    let canary = Upstream::start("canary", Behaviour::Answer).await;
    let dir = TempDir::new("split");
    let source = format!(
        "gateway edge {{ listen \"127.0.0.1:0\" route all {{ match * prefix \"/\" public forward stable 80%, canary 20% }} }}\n{}{}",
        service_block("stable", &[&stable], ""),
        service_block("canary", &[&canary], "")
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    for _ in 0..400 {
        assert_eq!(get(edge, "/", &[]).await.status, 200);
    }
    let share = canary.requests();
    assert_eq!(stable.requests() + share, 400);
    // 20% of 400 is 80; binomial standard deviation 8, so 40..120 fails by chance about never.
    assert!((40..=120).contains(&share), "canary got {share} of 400");
}
