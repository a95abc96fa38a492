//! Forwarding over real sockets: path rewriting, forwarded headers, hop-by-hop hygiene,
//! connection reuse, balancing spread and weighted splits.

mod scratch;
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
    let dir = Scratch::new("rewrite");
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
    let dir = Scratch::new("headers");
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
    let dir = Scratch::new("reuse");
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
    let dir = Scratch::new("round-robin");
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
        let dir = Scratch::new(policy);
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
    let dir = Scratch::new("hash");
    let source = format!(
        "gateway edge {{ listen \"127.0.0.1:0\" route all {{ match * prefix \"/\" public forward crew }} }}\n{}",
        service_block("crew", &[&ups[0], &ups[1], &ups[2]], "balance hash(request.headers[\"x-user\"])")
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    let mut homes = std::collections::BTreeSet::new();
    // Endpoints are hashed by address and the ports change every run: with 24 keys, the chance
    // that all land on one of three endpoints is 3 × 3⁻²⁴, so the spread assertion cannot flake.
    for n in 0..24 {
        let user = format!("officer-{n}");
        let user = user.as_str();
        let first = get(edge, "/", &[("x-user", user)]).await.json()["upstream"].clone();
        for _ in 0..3 {
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
    let dir = Scratch::new("split");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_and_large_upstream_bodies_reach_the_client_whole() {
    let upstream = Upstream::start("big", Behaviour::Chunked(300 * 1024)).await;
    let dir = Scratch::new("chunked-response");
    let source = format!(
        "gateway edge {{ listen \"127.0.0.1:0\" route all {{ match * prefix \"/\" public forward big }} }}\n{}",
        service_block("big", &[&upstream], "")
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    for _ in 0..3 {
        let answer = get(edge, "/", &[]).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body.len(), 300 * 1024);
        assert!(answer.body.bytes().all(|b| b == b'x'));
    }
    // Bodies read to the end leave their connection reusable.
    assert!(
        upstream.connections() <= 2,
        "{} connections",
        upstream.connections()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_request_gets_headers_without_a_body() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("head");
    let source = format!(
        "gateway edge {{ listen \"127.0.0.1:0\" route all {{ match * prefix \"/\" public forward crew }} }}\n{}",
        service_block("crew", &[&upstream], "")
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    for _ in 0..3 {
        let request = http::Request::head(format!("http://{edge}/x"))
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        let answer = send(&client(), request).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("x-upstream"), Some("crew"));
        assert!(answer.body.is_empty());
    }
    assert_eq!(
        get(edge, "/after-head", &[]).await.json()["path"],
        "/after-head"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keep_alive_connection_the_upstream_closed_is_replaced_without_an_error() {
    let (address, served, _task) = one_shot_upstream().await;
    let dir = Scratch::new("stale");
    let source = format!(
        "gateway edge {{ listen \"127.0.0.1:0\" route all {{ match * prefix \"/\" public forward crew }} }}\nservice crew {{ endpoints [\"{address}\"] }}"
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    let client = client();
    for n in 0..30 {
        let request = http::Request::get(format!("http://{edge}/{n}"))
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        let answer = send(&client, request).await;
        assert_eq!(answer.status, 200, "request {n}: {}", answer.body);
        assert_eq!(answer.body, "ok");
    }
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_are_forwarded_with_their_length_or_chunked() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("request-body");
    let source = format!(
        "gateway edge {{ listen \"127.0.0.1:0\" route all {{ match * prefix \"/\" public forward crew }} }}\n{}",
        service_block("crew", &[&upstream], "")
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    let request = http::Request::post(format!("http://{edge}/log"))
        .body(http_body_util::Full::new(bytes::Bytes::from(
            "captain's log",
        )))
        .unwrap();
    let echo = send(&client(), request).await.json();
    assert_eq!(echo["body"], "captain's log");
    assert_eq!(echo["headers"]["content-length"], "13");
    let big = "y".repeat(200 * 1024);
    let mut raw = format!("POST /chunked HTTP/1.1\r\nHost: edge\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n", big.len()).into_bytes();
    raw.extend_from_slice(big.as_bytes());
    raw.extend_from_slice(b"\r\n0\r\n\r\n");
    let answer = raw_exchange_all(edge, &raw).await;
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "{}",
        &answer[..answer.len().min(300)]
    );
    assert!(answer.contains(&format!("\"body\":\"{big}\"")));
}
