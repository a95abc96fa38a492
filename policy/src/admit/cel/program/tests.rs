//! Tests of request CEL.

use super::*;
use crate::admit::cel::MeshCaller;
use crate::admit::consumers::ConsumerDirectory;
use crate::admit::facts::RequestFacts;
use crate::admit::JwtClaims;
use crate::secrets::SecretStore;
use http::{HeaderMap, HeaderValue, Method};
use meshwork_bundle::{Consumer, Credential, Gateway, SourceLocation};

fn headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-stardate", HeaderValue::from_static("47457.1"));
    headers.insert("host", HeaderValue::from_static("api.starfleet.test:8080"));
    headers.append("x-crew", HeaderValue::from_static("data"));
    headers.append("x-crew", HeaderValue::from_static("worf"));
    headers
}

const PARAMS: &[(&str, &str)] = &[("id", "1701"), ("deck", "7")];

fn facts(headers: &HeaderMap) -> RequestFacts<'_> {
    RequestFacts::new(
        &Method::POST,
        "/officers/1701",
        headers,
        "10.1.2.3:5555".parse().unwrap(),
    )
    .with_query(Some("v=2&who=jean%20luc&v=3"))
    .with_params(PARAMS)
}

fn condition(source: &str, input: CelInput<'_>) -> Result<bool, CelEvalError> {
    RequestCondition::compile(source).unwrap().evaluate(input)
}

fn holds(source: &str) -> bool {
    let headers = headers();
    let facts = facts(&headers);
    condition(source, CelInput::request(&facts)).unwrap_or_else(|e| panic!("{source}: {e}"))
}

#[test]
fn request_variables_read_the_request() {
    assert!(holds(r#"request.headers["x-stardate"] != """#));
    assert!(holds(r#"request.headers["X-Stardate"] == "47457.1""#));
    assert!(holds(r#"request.headers["x-crew"] == "data, worf""#));
    assert!(holds(
        r#"request.method == "POST" && request.path.startsWith("/officers/")"#
    ));
    assert!(holds(r#"request.host == "api.starfleet.test""#));
    assert!(holds(r#"request.remote_addr == "10.1.2.3""#));
    assert!(holds(
        r#"request.query.v == "2" && request.query["who"] == "jean luc""#
    ));
    assert!(holds(
        r#"request.params.id == "1701" && int(request.params.deck) > 5"#
    ));
    assert!(!holds(r#"request.method == "GET""#));
}

#[test]
fn lazy_maps_support_in_has_size_and_comprehensions() {
    assert!(holds(r#""x-stardate" in request.headers"#));
    assert!(!holds(r#""x-missing" in request.headers"#));
    assert!(holds(
        r#"has(request.headers.host) && !has(request.headers.nope)"#
    ));
    assert!(holds(
        r#"size(request.params) == 2 && size(request.query) == 2"#
    ));
    assert!(holds(r#"request.params.exists(k, k == "deck")"#));
    assert!(holds(r#"request.headers.all(k, k == k.lowerAscii())"#));
    assert!(holds(
        r#"request["path"] == "/officers/1701" && has(request.method)"#
    ));
}

#[test]
fn consumer_and_claims_are_visible_when_known() {
    let source = SourceLocation {
        file: "edge.mesh".into(),
        line: 1,
        column: 1,
    };
    let gateway = Gateway {
        name: "edge".into(),
        listeners: Vec::new(),
        consumers: vec![Consumer {
            name: "picard".into(),
            credentials: vec![Credential::Jwt {
                subject: "jl".into(),
            }],
            groups: vec!["captains".into()],
            source: source.clone(),
        }],
        routes: Vec::new(),
        identity: None,
        tracing: None,
        path_policy: Default::default(),
        method_mismatch: Default::default(),
        source,
    };
    let directory = ConsumerDirectory::build(&gateway, &SecretStore::new()).unwrap();
    let claims = JwtClaims::new(
        serde_json::json!({"sub": "jl", "rank": 4, "ships": ["enterprise"]})
            .as_object()
            .unwrap()
            .clone(),
    );
    let headers = headers();
    let facts = facts(&headers);
    let input = CelInput {
        facts: &facts,
        consumer: directory.by_name("picard"),
        claims: Some(&claims),
        source: MeshCaller::default(),
    };
    let source = r#"consumer.name == "picard" && "captains" in consumer.groups
        && jwt.claims.rank >= 4 && "enterprise" in jwt.claims.ships"#;
    assert_eq!(condition(source, input), Ok(true));
    let anonymous = CelInput::request(&facts);
    assert_eq!(
        condition(
            r#"consumer.name == "" && size(consumer.groups) == 0 && size(jwt.claims) == 0"#,
            anonymous
        ),
        Ok(true)
    );
}

#[test]
fn evaluation_errors_are_errors_not_panics() {
    let headers = headers();
    let facts = facts(&headers);
    let input = CelInput::request(&facts);
    let missing = condition(r#"request.headers["x-missing"] == "1""#, input).unwrap_err();
    assert!(missing.to_string().contains("x-missing"), "{missing}");
    assert_eq!(
        condition(r#"request.path"#, input),
        Err(CelEvalError::NotBool("string".into()))
    );
    assert!(condition("1 / 0 == 1", input).is_err());
    assert!(condition("nobody.knows", input).is_err());
    assert!(condition(r#"request.headers["not a header name\n"] == """#, input).is_err());
    assert!(condition(r#"request.headers[1] == """#, input).is_err());
    assert!(RequestCondition::compile("1 + ").is_err());
}

#[test]
fn body_is_parsed_as_json_only_when_read() {
    let headers = headers();
    let body = br#"{"severity": "red", "ship": {"name": "enterprise"}}"#;
    let with_body = facts(&headers).with_body(Some(body));
    let input = CelInput::request(&with_body);
    assert_eq!(
        condition(
            r#"request.body.severity == "red" && request.body.ship.name == "enterprise""#,
            input
        ),
        Ok(true)
    );
    let not_json = facts(&headers).with_body(Some(b"red alert"));
    assert!(matches!(
        condition(
            r#"request.body.severity == "red""#,
            CelInput::request(&not_json)
        ),
        Err(CelEvalError::BodyNotJson(_))
    ));
    assert_eq!(
        condition(r#"request.method == "POST""#, CelInput::request(&not_json)),
        Ok(true),
        "a body nobody reads is never parsed"
    );
    let unbuffered = facts(&headers);
    assert_eq!(
        condition(
            r#"request.body.severity == "red""#,
            CelInput::request(&unbuffered)
        ),
        Err(CelEvalError::BodyNotBuffered)
    );
    assert!(RequestCondition::compile("request.body.x == 1")
        .unwrap()
        .reads_body());
    assert!(!RequestCondition::compile("request.path == '/'")
        .unwrap()
        .reads_body());
}

#[test]
fn expressions_give_key_bytes() {
    let headers = headers();
    let body = br#"{"ship": "enterprise", "deck": 7}"#;
    let facts = facts(&headers).with_body(Some(body));
    let input = CelInput::request(&facts);
    let bytes = |source: &str| {
        RequestExpression::compile(source)
            .unwrap()
            .evaluate_bytes(input)
    };
    assert_eq!(
        bytes(r#"request.headers["x-stardate"]"#),
        Ok(Some(b"47457.1".to_vec()))
    );
    assert_eq!(bytes("request.params.id"), Ok(Some(b"1701".to_vec())));
    assert_eq!(bytes("request.body.ship"), Ok(Some(b"enterprise".to_vec())));
    assert_eq!(bytes("request.body.deck"), Ok(Some(b"7".to_vec())));
    assert_eq!(bytes("b'raw'"), Ok(Some(b"raw".to_vec())));
    assert_eq!(bytes("null"), Ok(None));
    assert_eq!(bytes("{'a': 1}"), Err(CelEvalError::NotBytes("map".into())));
    let expression = RequestExpression::compile("request.path").unwrap();
    assert_eq!(
        expression.evaluate(input),
        Ok(cel::Value::String(Arc::new("/officers/1701".into())))
    );
    let length = expression
        .with_bytes(input, |b| b.map(<[u8]>::len))
        .unwrap();
    assert_eq!(length, Some(14));
}

/// Requests the differential tests run every expression against.
fn requests() -> Vec<(HeaderMap, Option<&'static str>)> {
    let mut with_everything = headers();
    with_everything.insert("x-bytes", HeaderValue::from_bytes(b"caf\xe9").unwrap());
    vec![
        (with_everything, Some("v=2&who=jean%20luc&empty=")),
        (HeaderMap::new(), None),
        (
            {
                let mut h = HeaderMap::new();
                h.insert("x-stardate", HeaderValue::from_static(""));
                h
            },
            Some("v=3"),
        ),
    ]
}

const DIFFERENTIAL: &[&str] = &[
    r#"request.headers["x-stardate"] != """#,
    r#"request.headers["X-Stardate"] == "47457.1""#,
    r#"request.headers.host == "api.starfleet.test:8080""#,
    r#""47457.1" == request.headers["x-stardate"]"#,
    r#"request.headers["x-crew"] == "data, worf""#,
    r#"request.headers["x-bytes"] == "caf\ufffd""#,
    r#"request.method == "POST" && request.path == "/officers/1701""#,
    r#"request.headers["x-missing"] == "1" && request.method == "GET""#,
    r#"request.method == "GET" && request.headers["x-missing"] == "1""#,
    r#"request.headers["x-missing"] == "1" || request.method == "POST""#,
    r#"request.method == "POST" || request.headers["x-missing"] == "1""#,
    r#"request.headers["x-missing"] == "1" || request.headers["x-other"] == "1""#,
    r#"!(request.host == "api.starfleet.test")"#,
    r#"request.query.v == "2" && request.query["who"] == "jean luc""#,
    r#"request.query["empty"] == """#,
    r#"request.params.id == "1701" || request.params["nope"] == "x""#,
    r#"consumer.name == """#,
];

#[test]
fn fast_conditions_agree_with_the_interpreter() {
    for source in DIFFERENTIAL {
        let condition = RequestCondition::compile(source).unwrap();
        assert!(condition.is_fast(), "{source} should take the fast path");
        for (headers, query) in requests() {
            let facts = facts(&headers).with_query(query);
            let input = CelInput::request(&facts);
            let fast = condition.evaluate(input).map_err(|e| e.to_string());
            let interpreted = condition.interpret(input).map_err(|e| e.to_string());
            assert_eq!(fast, interpreted, "{source} on {headers:?} {query:?}");
        }
    }
}

#[test]
fn other_shapes_are_left_to_the_interpreter() {
    for source in [
        r#"request.headers["x"].startsWith("a")"#,
        r#"size(request.path) > 1"#,
        r#"request.headers[request.path] == "x""#,
        r#"has(request.headers.x)"#,
        r#"request.body.x == "1""#,
        r#""a" == "a""#,
        r#"request.headers["x"] == 1"#,
    ] {
        assert!(
            !RequestCondition::compile(source).unwrap().is_fast(),
            "{source}"
        );
    }
}

#[test]
fn fast_keys_agree_with_the_interpreter() {
    for source in [
        r#"request.headers["x-stardate"]"#,
        r#"request.headers["x-missing"]"#,
        "request.params.id",
        r#"request.query["who"]"#,
        "request.method",
        "consumer.name",
    ] {
        let expression = RequestExpression::compile(source).unwrap();
        assert!(expression.is_fast(), "{source}");
        for (headers, query) in requests() {
            let facts = facts(&headers).with_query(query);
            let input = CelInput::request(&facts);
            let own = |b: Option<&[u8]>| b.map(<[u8]>::to_vec);
            let fast = expression.with_bytes(input, own).map_err(|e| e.to_string());
            let interpreted = expression
                .interpret_bytes(input, own)
                .map_err(|e| e.to_string());
            assert_eq!(fast, interpreted, "{source} on {headers:?}");
        }
    }
}

#[test]
fn mesh_conditions_read_the_caller_fast_and_interpreted_alike() {
    let headers = headers();
    let facts = facts(&headers);
    let callers = [
        MeshCaller {
            service: "picard",
            identity: "spiffe://starfleet/picard",
        },
        MeshCaller::default(),
    ];
    for source in [
        r#"source.service == "picard""#,
        r#"source.identity == "spiffe://starfleet/picard" && request.method == "GET""#,
        r#"source.service != "" || request.headers["x-missing"] == "1""#,
    ] {
        let condition = RequestCondition::compile(source).unwrap();
        assert!(condition.is_fast(), "{source}");
        for caller in callers {
            let input = CelInput::mesh_call(&facts, caller);
            let fast = condition.evaluate(input).map_err(|e| e.to_string());
            let interpreted = condition.interpret(input).map_err(|e| e.to_string());
            assert_eq!(fast, interpreted, "{source} for {caller:?}");
        }
    }
    let picard = CelInput::mesh_call(&facts, callers[0]);
    assert_eq!(condition(r#"source.service == "picard""#, picard), Ok(true));
    let anonymous = CelInput::mesh_call(&facts, callers[1]);
    assert_eq!(condition(r#"source.identity == """#, anonymous), Ok(true));
    assert_eq!(
        condition(
            r#"source.identity.startsWith("spiffe://starfleet/")"#,
            picard
        ),
        Ok(true)
    );
}
