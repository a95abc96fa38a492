//! What a check claims about routing is what the shared matcher does: the requests W0211 says go
//! to two places do go there when `meshc explain` (the matcher meshd routes with) is asked, and
//! what W0709 says about POST retries is what explain prints for the route.

use meshc::explain::{explain, ExplainRequest};
use meshc::pipeline::compile_text;

fn ask(source: &str, line: &str) -> String {
    let compilation = compile_text("fleet.mesh", source);
    let request = ExplainRequest::parse(line, &[]).expect("a request line");
    explain(&compilation, &request).expect("the program compiles")
}

fn codes(source: &str) -> Vec<&'static str> {
    compile_text("fleet.mesh", source)
        .diagnostics
        .iter()
        .map(|d| d.code.id)
        .collect()
}

const HOST_SPLIT: &str = r#"gateway edge {
  listen "127.0.0.1:8080"
  route api_officers { match GET prefix "/officers" host "api.starfleet.test" public forward picard }
  route fleet_officers { match GET "/officers/{id}" host "*.starfleet.test" public forward riker }
}
service picard { endpoints ["127.0.0.1:9101"] }
service riker { endpoints ["127.0.0.1:9103"] }
"#;

#[test]
fn the_host_split_w0211_reports_is_the_one_the_matcher_makes() {
    assert_eq!(codes(HOST_SPLIT), ["W0211"]);
    let exact = ask(HOST_SPLIT, "GET http://api.starfleet.test/officers/7");
    assert!(exact.contains("route `api_officers` wins"), "{exact}");
    assert!(exact.contains("forwarded to service `picard`"), "{exact}");
    let other = ask(HOST_SPLIT, "GET http://api2.starfleet.test/officers/7");
    assert!(other.contains("route `fleet_officers` wins"), "{other}");
    assert!(other.contains("forwarded to service `riker`"), "{other}");
}

#[test]
fn what_w0709_says_about_post_retries_is_what_explain_prints() {
    let source = r#"gateway edge {
  listen "127.0.0.1:8080"
  route pay { match POST "/pay" public forward payments }
  route charge { match POST "/charge" public idempotent forward payments }
}
service payments { endpoints ["127.0.0.1:9101", "127.0.0.1:9102"] retry 2 on [503] health_check GET "/healthz" every 5s }
"#;
    assert_eq!(codes(source), ["W0709"]);
    let pay = ask(source, "POST /pay");
    assert!(
        pay.contains("POST, PATCH and other non-idempotent methods only on connect_failure"),
        "{pay}"
    );
    let charge = ask(source, "POST /charge");
    assert!(
        charge.contains("the route is `idempotent`: every method is retried"),
        "{charge}"
    );
}
