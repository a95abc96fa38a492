//! Matching over real sockets: precedence, 404 (and the opt-in 405) answers, path normalization,
//! hosts; where it matters, `meshc explain` is asked the same question and must agree.

mod scratch;
mod support;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_most_specific_route_answers_whatever_the_order_in_the_file() {
    let a = Upstream::start("prefix", Behaviour::Answer).await;
    let b = Upstream::start("template", Behaviour::Answer).await;
    let dir = Scratch::new("precedence");
    let source = format!(
        r#"
gateway edge {{
  listen "127.0.0.1:0"
  route catch_all {{ match * prefix "/" public respond 200 "catch-all" }}
  route api {{ match * prefix "/officers" public forward by_prefix }}
  route one {{ match GET "/officers/{{id}}" public forward by_template }}
  route exact {{ match GET "/officers/picard" public respond 200 "exact" }}
}}
service by_prefix {{ endpoints ["{a}"] }}
service by_template {{ endpoints ["{b}"] }}
"#,
        a = a.address,
        b = b.address
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    assert_eq!(get(edge, "/officers/picard", &[]).await.body, "exact");
    assert_eq!(
        get(edge, "/officers/riker", &[]).await.json()["upstream"],
        "template"
    );
    assert_eq!(
        get(edge, "/officers/riker/log", &[]).await.json()["upstream"],
        "prefix"
    );
    assert_eq!(get(edge, "/officersx", &[]).await.body, "catch-all");
}

/// What `meshc explain` says about `request_line` for `source`: the same matcher meshd runs.
fn explain(source: &str, request_line: &str) -> String {
    let compilation = meshc::pipeline::compile_text("routing.mesh", source);
    let request = meshc::explain::ExplainRequest::parse(request_line, &[]).unwrap();
    meshc::explain::explain(&compilation, &request).expect("the program compiles")
}

const LOG_ROUTES: &str = r#"
gateway edge {
  listen "127.0.0.1:0"
  route read { match GET "/log/{entry}" public respond 200 "read" }
  route write { match PUT "/log/{entry}" public respond 201 "written" }
}
"#;

fn delete(
    edge: std::net::SocketAddr,
    path: &str,
) -> http::Request<http_body_util::Full<bytes::Bytes>> {
    http::Request::delete(format!("http://{edge}{path}"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap()
}

/// Gateway API (`HTTPRouteMatch.Method`, `HTTPRouteRule.Matches`): a route whose method differs
/// does not match, and a request no rule matches gets 404 — the same answer as an unknown path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_matched_with_another_method_is_a_404_like_any_miss_and_explain_agrees() {
    let dir = Scratch::new("404");
    let server = start_mesh(&dir, LOG_ROUTES).await;
    let edge = server.listener("edge").unwrap();
    let missing = get(edge, "/nowhere", &[]).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("content-type"), Some("application/json"));
    assert_eq!(missing.json()["reason"], "no route matches this request");

    let wrong = send(&client(), delete(edge, "/log/7")).await;
    assert_eq!(wrong.status, 404);
    assert_eq!(wrong.header("allow"), None);
    assert_eq!(
        wrong.body, missing.body,
        "indistinguishable from any other miss"
    );

    let text = explain(LOG_ROUTES, "DELETE /log/7");
    assert!(text.contains("no route matches DELETE /log/7"), "{text}");
    assert!(text.contains("404 Not Found"), "{text}");
    assert!(
        text.contains("route `read` would match but for the method: GET \"/log/{entry}\""),
        "{text}"
    );
    assert!(
        text.contains("route `write` would match but for the method: PUT"),
        "{text}"
    );
}

/// `method_mismatch 405` opts a gateway into RFC 9110's 405 with `Allow`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_with_method_mismatch_405_answers_405_with_allow_and_explain_agrees() {
    let source = LOG_ROUTES.replace(
        "listen \"127.0.0.1:0\"",
        "listen \"127.0.0.1:0\"\n  method_mismatch 405",
    );
    let dir = Scratch::new("405");
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    let wrong = send(&client(), delete(edge, "/log/7")).await;
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.header("allow"), Some("GET, PUT"));
    assert_eq!(wrong.json()["status"], 405);
    assert_eq!(get(edge, "/nowhere", &[]).await.status, 404);
    assert_eq!(get(edge, "/log/7", &[]).await.status, 200);

    let text = explain(&source, "DELETE /log/7");
    assert!(
        text.contains("405 Method Not Allowed (Allow: GET, PUT)"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encoded_or_dotted_path_reaches_the_route_it_names_and_the_upstream_sees_it_normalized()
{
    let upstream = Upstream::start("admin", Behaviour::Answer).await;
    let dir = Scratch::new("normalize");
    let source = format!(
        r#"
gateway edge {{
  listen "127.0.0.1:0"
  route admin {{ match GET "/admin" public forward admin }}
  route open {{ match * prefix "/" public respond 200 "open" }}
}}
service admin {{ endpoints ["{}"] }}
"#,
        upstream.address
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    for path in ["/%61dmin", "/x/../admin", "/./admin"] {
        let answer = get(edge, path, &[]).await;
        assert_eq!(answer.json()["path"], "/admin", "{path}");
    }
    // An encoded slash is refused by default (see path_normalization.rs for the policies).
    let encoded = get(edge, "/ad%2Fmin", &[]).await;
    assert_eq!(encoded.status, 400, "{}", encoded.body);
    assert!(encoded.body.contains("encoded slash"), "{}", encoded.body);
    let malformed = raw_exchange(edge, b"GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(malformed.starts_with("HTTP/1.1 400"), "{malformed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_bound_to_a_host_answer_only_for_it() {
    let dir = Scratch::new("hosts");
    let server = start_mesh(
        &dir,
        r#"
gateway edge {
  listen "127.0.0.1:0"
  route bridge { match GET "/" host "api.starfleet.test" public respond 200 "bridge" }
  route any_ship { match GET "/" host "*.starfleet.test" public respond 200 "ship" }
  route other { match GET "/" public respond 200 "other" }
}
"#,
    )
    .await;
    let edge = server.listener("edge").unwrap();
    assert_eq!(
        get(edge, "/", &[("host", "API.starfleet.test:8080")])
            .await
            .body,
        "bridge"
    );
    assert_eq!(
        get(edge, "/", &[("host", "enterprise.starfleet.test")])
            .await
            .body,
        "ship"
    );
    assert_eq!(
        get(edge, "/", &[("host", "starfleet.test")]).await.body,
        "other"
    );
}

const REPEATED: &str = r#"
gateway edge {
  listen "127.0.0.1:0"
  route both { match GET "/h" header "x-ship" "enterprise, voyager" public respond 200 "both" }
  route one { match GET "/h" header "x-ship" "enterprise" public respond 200 "one" }
  route first { match GET "/q" query "v" "1" public respond 200 "first" }
  route when_both { match GET "/w" public when request.headers["x-ship"] == "enterprise, voyager" respond 200 "when" }
}
"#;

/// Gateway API `HTTPHeaderMatch.Name` ("proxies should follow the guidance from the RFC" for a
/// header repeated in the request) and `HTTPQueryParamMatch.Name` ("match against the first value
/// of the param"), over a real HTTP/1.1 connection; a `match` and a CEL condition read a repeated
/// header the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_request_header_is_one_joined_value_and_a_repeated_query_parameter_its_first() {
    let dir = Scratch::new("repeated");
    let server = start_mesh(&dir, REPEATED).await;
    let edge = server.listener("edge").unwrap();
    let ask = |target: &str, headers: &str| {
        format!("GET {target} HTTP/1.1\r\nHost: edge\r\n{headers}Connection: close\r\n\r\n")
    };
    let twice = "X-Ship: enterprise\r\nx-ship: voyager\r\n";
    let answer = raw_exchange(edge, ask("/h", twice).as_bytes()).await;
    assert!(answer.ends_with("both"), "{answer}");
    let answer = raw_exchange(edge, ask("/h", "x-ship: enterprise\r\n").as_bytes()).await;
    assert!(answer.ends_with("one"), "{answer}");
    let answer = raw_exchange(edge, ask("/w", twice).as_bytes()).await;
    assert!(answer.ends_with("when"), "{answer}");

    assert_eq!(get(edge, "/q?v=1&v=2", &[]).await.body, "first");
    assert_eq!(get(edge, "/q?v=2&v=1", &[]).await.status, 404);
}
