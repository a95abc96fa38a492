//! Matching over real sockets: precedence, 404 and 405 answers, path normalization, hosts.

mod support;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_most_specific_route_answers_whatever_the_order_in_the_file() {
    let a = Upstream::start("prefix", Behaviour::Answer).await;
    let b = Upstream::start("template", Behaviour::Answer).await;
    let dir = TempDir::new("precedence");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_route_is_a_404_with_a_json_reason_and_a_wrong_method_a_405_with_allow() {
    let dir = TempDir::new("404");
    let server = start_mesh(
        &dir,
        r#"
gateway edge {
  listen "127.0.0.1:0"
  route read { match GET "/log/{entry}" public respond 200 "read" }
  route write { match PUT "/log/{entry}" public respond 201 "written" }
}
"#,
    )
    .await;
    let edge = server.listener("edge").unwrap();
    let missing = get(edge, "/nowhere", &[]).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("content-type"), Some("application/json"));
    assert_eq!(missing.json()["reason"], "no route matches this request");

    let request = http::Request::delete(format!("http://{edge}/log/7"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let wrong = send(&client(), request).await;
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.header("allow"), Some("GET, PUT"));
    assert_eq!(wrong.json()["status"], 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encoded_or_dotted_path_reaches_the_route_it_names_and_the_upstream_sees_it_normalized()
{
    let upstream = Upstream::start("admin", Behaviour::Answer).await;
    let dir = TempDir::new("normalize");
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
    let dir = TempDir::new("hosts");
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
