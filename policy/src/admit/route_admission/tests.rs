//! Every admission step through `RouteAdmission`, allowing and refusing.

use std::sync::Arc;

use http::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, AUTHORIZATION, CONTENT_LENGTH, RETRY_AFTER, VARY, WWW_AUTHENTICATE,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use meshwork_bundle::{
    AccessSubject, AdmissionStep, AuthMethod, Consumer, Credential, Effect, Gateway,
    HeaderDirection, KeyLocation, PathKind, PathMatch, RateLimitKey, Route, RouteAction,
    RouteMatch, SecretRef, SourceLocation,
};

use super::*;
use crate::admit::limit::{RATELIMIT_LIMIT, RATELIMIT_REMAINING, RATELIMIT_RESET};
use crate::admit::{GatewayAdmission, DENIED_BY};
use crate::secrets::Secret;

mod limits;

fn at(line: u32) -> SourceLocation {
    SourceLocation {
        file: "edge.mesh".into(),
        line,
        column: 5,
    }
}

fn gateway(routes: Vec<Route>) -> Gateway {
    let consumer = |name: &str, env: &str, groups: &[&str]| Consumer {
        name: name.into(),
        credentials: vec![
            Credential::Key {
                secret: SecretRef::Env(env.into()),
            },
            Credential::Basic {
                user: name.into(),
                password: SecretRef::Env(format!("{env}_PW")),
            },
        ],
        groups: groups.iter().map(|g| g.to_string()).collect(),
        source: at(3),
    };
    Gateway {
        name: "edge".into(),
        listeners: Vec::new(),
        consumers: vec![
            consumer("picard", "PICARD_KEY", &["captains"]),
            consumer("wesley", "WESLEY_KEY", &["ensigns"]),
        ],
        routes,
        path_policy: Default::default(),
        method_mismatch: Default::default(),
        identity: None,
        tracing: None,
        source: at(1),
    }
}

fn secrets() -> SecretStore {
    let mut store = SecretStore::new();
    for (name, value) in [
        ("PICARD_KEY", "engage"),
        ("PICARD_KEY_PW", "earl-grey"),
        ("WESLEY_KEY", "shut-up-wesley"),
        ("WESLEY_KEY_PW", "crusher"),
    ] {
        store.insert(
            &SecretRef::Env(name.into()),
            Secret::new(value.as_bytes().to_vec()),
        );
    }
    store
}

fn route(admission: Vec<AdmissionStep>) -> Route {
    Route {
        name: "officers".into(),
        matcher: RouteMatch {
            method: Some("GET".into()),
            path: PathMatch {
                kind: PathKind::Template,
                value: "/officers/{id}".into(),
                params: vec!["id".into()],
            },
            host: None,
            headers: Vec::new(),
            query: Vec::new(),
        },
        public: false,
        admission,
        action: RouteAction::Respond {
            status: 200,
            body: "ok".into(),
            content_type: "text/plain".into(),
        },
        source: at(7),
    }
}

fn key_auth() -> AdmissionStep {
    AdmissionStep::Auth {
        method: AuthMethod::Key {
            location: KeyLocation::Header,
            name: "x-api-key".into(),
        },
        source: at(8),
    }
}

fn limit(count: u64, per: RateLimitKey, shared: bool) -> AdmissionStep {
    AdmissionStep::RateLimit {
        count,
        period_ms: 60_000,
        per,
        burst: None,
        shared,
        on_store_failure: meshwork_bundle::StoreFailure::Local,
        source: at(10),
    }
}

fn build(steps: Vec<AdmissionStep>) -> RouteAdmission {
    build_with(steps, &AdmitOptions::default())
}

fn build_with(steps: Vec<AdmissionStep>, options: &AdmitOptions) -> RouteAdmission {
    let route = route(steps);
    RouteAdmission::build(&gateway(vec![route.clone()]), &route, &secrets(), options).unwrap()
}

/// A request's parts, owned so facts can borrow them.
struct Request {
    method: Method,
    headers: HeaderMap,
    remote: std::net::SocketAddr,
    query: Option<&'static str>,
}

impl Request {
    fn get() -> Self {
        Request {
            method: Method::GET,
            headers: HeaderMap::new(),
            remote: "10.0.0.1:4000".parse().unwrap(),
            query: None,
        }
    }

    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers
            .append(name, HeaderValue::from_str(value).unwrap());
        self
    }

    fn key(self, key: &str) -> Self {
        self.header("x-api-key", key)
    }

    fn from(mut self, remote: &str) -> Self {
        self.remote = remote.parse().unwrap();
        self
    }

    fn facts(&self) -> RequestFacts<'_> {
        RequestFacts::new(&self.method, "/officers/1701", &self.headers, self.remote)
            .with_query(self.query)
    }
}

async fn admit(admission: &RouteAdmission, request: &Request) -> Result<Option<String>, Denial> {
    admission
        .admit(&request.facts())
        .await
        .map(|admitted| admitted.consumer_name().map(str::to_string))
}

#[tokio::test]
async fn key_auth_admits_the_right_key_and_refuses_others() {
    let admission = build(vec![key_auth()]);
    let picard = admit(&admission, &Request::get().key("engage"))
        .await
        .unwrap();
    assert_eq!(picard.as_deref(), Some("picard"));

    let wrong = admit(&admission, &Request::get().key("make-it-so"))
        .await
        .unwrap_err();
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.reason, "API key is not valid");
    assert_eq!(wrong.step(), StepKind::Auth);
    assert_eq!(
        wrong.response_headers()[&DENIED_BY],
        "route=officers; step=auth; source=edge.mesh:8"
    );

    assert_eq!(wrong.consumer(), None);

    let missing = admit(&admission, &Request::get()).await.unwrap_err();
    assert_eq!(
        missing.reason,
        "missing API key: send it in header x-api-key"
    );
}

#[tokio::test]
async fn key_auth_reads_a_query_parameter() {
    let admission = build(vec![AdmissionStep::Auth {
        method: AuthMethod::Key {
            location: KeyLocation::Query,
            name: "apikey".into(),
        },
        source: at(8),
    }]);
    let mut request = Request::get();
    request.query = Some("apikey=shut-up-wesley&x=1");
    assert_eq!(
        admit(&admission, &request).await.unwrap().as_deref(),
        Some("wesley")
    );
    request.query = Some("apikey=nope");
    assert_eq!(
        admit(&admission, &request).await.unwrap_err().status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn basic_auth_admits_and_refuses_with_a_realm_challenge() {
    use base64::Engine;
    let admission = build(vec![AdmissionStep::Auth {
        method: AuthMethod::Basic {
            realm: Some("bridge".into()),
        },
        source: at(8),
    }]);
    let basic = |user: &str, password: &str| {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        Request::get().header("authorization", &format!("Basic {encoded}"))
    };
    assert_eq!(
        admit(&admission, &basic("picard", "earl-grey"))
            .await
            .unwrap()
            .as_deref(),
        Some("picard")
    );
    let refused = admit(&admission, &basic("picard", "coffee"))
        .await
        .unwrap_err();
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.reason, "user or password is not valid");
    assert_eq!(
        refused.headers[WWW_AUTHENTICATE],
        "Basic realm=\"bridge\", charset=\"UTF-8\""
    );
    let bearer = Request::get().header(AUTHORIZATION.as_str(), "Bearer abc");
    assert_eq!(
        admit(&admission, &bearer).await.unwrap_err().reason,
        "missing basic credentials"
    );
}

#[tokio::test]
async fn allow_groups_refuses_consumers_outside_them_with_403() {
    let admission = build(vec![
        key_auth(),
        AdmissionStep::Access {
            effect: Effect::Allow,
            subject: AccessSubject::Groups,
            values: vec!["captains".into()],
            source: at(9),
        },
    ]);
    assert!(admit(&admission, &Request::get().key("engage"))
        .await
        .is_ok());
    let wesley = admit(&admission, &Request::get().key("shut-up-wesley"))
        .await
        .unwrap_err();
    assert_eq!(wesley.status, StatusCode::FORBIDDEN);
    assert_eq!(wesley.step(), StepKind::Access);
    assert_eq!(wesley.consumer(), Some("wesley"));
    assert_eq!(wesley.source().line, 9);
}

#[tokio::test]
async fn deny_ips_refuses_the_listed_network() {
    let admission = build(vec![AdmissionStep::Access {
        effect: Effect::Deny,
        subject: AccessSubject::Ips,
        values: vec!["192.168.0.0/16".into()],
        source: at(9),
    }]);
    assert!(admit(&admission, &Request::get().from("10.0.0.1:1"))
        .await
        .is_ok());
    let refused = admit(&admission, &Request::get().from("192.168.4.2:1"))
        .await
        .unwrap_err();
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused.reason,
        "client 192.168.4.2 is denied by ips [192.168.0.0/16]"
    );
}

#[tokio::test]
async fn condition_false_or_failing_refuses_with_403_and_the_expression() {
    let admission = build(vec![
        key_auth(),
        AdmissionStep::Condition {
            cel: r#"request.headers["x-stardate"] != "" && consumer.name == "picard""#.into(),
            source: at(11),
        },
    ]);
    let ok = Request::get().key("engage").header("x-stardate", "47457.1");
    assert!(admit(&admission, &ok).await.is_ok());
    let wesley = Request::get()
        .key("shut-up-wesley")
        .header("x-stardate", "47457.1");
    let refused = admit(&admission, &wesley).await.unwrap_err();
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.step(), StepKind::Condition);
    assert!(refused.reason.ends_with("is false"), "{}", refused.reason);
    let failing = admit(&admission, &Request::get().key("engage"))
        .await
        .unwrap_err();
    assert_eq!(failing.status, StatusCode::FORBIDDEN);
    assert!(failing.reason.contains("failed:"), "{}", failing.reason);
}

#[tokio::test]
async fn declared_body_over_the_limit_gets_413() {
    let admission = build(vec![AdmissionStep::BodyLimit {
        max_bytes: 10,
        source: at(13),
    }]);
    assert_eq!(admission.body_limit(), Some(10));
    assert!(admit(
        &admission,
        &Request::get().header(CONTENT_LENGTH.as_str(), "10")
    )
    .await
    .is_ok());
    let refused = admit(
        &admission,
        &Request::get().header(CONTENT_LENGTH.as_str(), "11"),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        refused.reason,
        "the body of 11 bytes is larger than the limit of 10 bytes"
    );
    let streamed = admission.body_too_large().unwrap();
    assert_eq!(streamed.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(streamed.step(), StepKind::BodyLimit);
}

#[tokio::test]
async fn header_rules_shape_the_request_and_the_response() {
    let header = |direction, name: &str, value: Option<&str>| AdmissionStep::Header {
        direction,
        name: name.into(),
        value: value.map(str::to_string),
        source: at(14),
    };
    let admission = build(vec![
        header(HeaderDirection::Request, "x-source", Some("edge")),
        header(HeaderDirection::Request, "x-api-key", None),
        header(HeaderDirection::Response, "server", None),
        header(HeaderDirection::Response, "x-served-by", Some("meshwork")),
    ]);
    let request = Request::get().key("engage").header("x-source", "spoofed");
    let facts = request.facts();
    let admitted = admission.admit(&facts).await.unwrap();
    let mut upstream = request.headers.clone();
    admitted.apply_request_headers(&mut upstream);
    assert_eq!(upstream["x-source"], "edge");
    assert!(upstream.get("x-api-key").is_none());
    let mut response = HeaderMap::new();
    response.insert("server", HeaderValue::from_static("upstream/1.0"));
    admitted.apply_response_headers(&mut response);
    assert!(response.get("server").is_none());
    assert_eq!(response["x-served-by"], "meshwork");
}

fn cors() -> AdmissionStep {
    AdmissionStep::Cors {
        origins: vec!["https://starfleet.test".into()],
        methods: vec!["GET".into()],
        headers: vec!["x-api-key".into()],
        expose: Vec::new(),
        credentials: true,
        max_age_ms: Some(600_000),
        source: at(12),
    }
}

#[tokio::test]
async fn cors_preflight_is_answered_before_auth_and_denials_stay_readable() {
    let admission = build(vec![key_auth(), cors()]);
    let mut preflight = Request::get()
        .header("origin", "https://starfleet.test")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "x-api-key");
    preflight.method = Method::OPTIONS;
    let answer = admission.preflight(&preflight.facts()).unwrap().unwrap();
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(
        answer.headers[ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://starfleet.test"
    );

    let mut evil = Request::get()
        .header("origin", "https://romulus.test")
        .header("access-control-request-method", "GET");
    evil.method = Method::OPTIONS;
    let refused = admission.preflight(&evil.facts()).unwrap().unwrap_err();
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.step(), StepKind::Cors);

    assert!(admission.preflight(&Request::get().facts()).is_none());

    let denied = admit(
        &admission,
        &Request::get().header("origin", "https://starfleet.test"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        denied.headers[ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://starfleet.test"
    );
    assert_eq!(denied.headers[VARY], "Origin");

    let request = Request::get()
        .key("engage")
        .header("origin", "https://starfleet.test");
    let facts = request.facts();
    let admitted = admission.admit(&facts).await.unwrap();
    let mut response = HeaderMap::new();
    admitted.apply_response_headers(&mut response);
    assert_eq!(
        response[ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://starfleet.test"
    );
}

#[test]
fn a_broken_rule_fails_the_build_with_its_place() {
    let route = route(vec![AdmissionStep::Condition {
        cel: "request.path ==".into(),
        source: at(11),
    }]);
    let error = RouteAdmission::build(
        &gateway(vec![route.clone()]),
        &route,
        &secrets(),
        &AdmitOptions::default(),
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("edge.mesh:11:5: route officers: CEL does not compile"),
        "{error}"
    );

    let route = self::route(vec![key_auth()]);
    let error = RouteAdmission::build(
        &gateway(vec![route.clone()]),
        &route,
        &SecretStore::new(),
        &AdmitOptions::default(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("env(\"PICARD_KEY\")"), "{error}");
}

#[test]
fn gateway_admission_builds_every_route_in_order() {
    let mut second = route(vec![key_auth()]);
    second.name = "bridge".into();
    let gateway = gateway(vec![route(Vec::new()), second]);
    let built = GatewayAdmission::build(&gateway, &secrets(), &AdmitOptions::default()).unwrap();
    assert_eq!(built.routes().len(), 2);
    assert_eq!(built.route(1).unwrap().route(), "bridge");
    assert!(built.route(2).is_none());
    assert_eq!(built.directory().consumers().len(), 2);
    assert!(
        Arc::strong_count(built.directory()) >= 3,
        "routes share the directory"
    );
}

#[test]
fn admit_future_can_move_between_threads() {
    fn assert_send<T: Send>(_: &T) {}
    let admission = build(vec![key_auth(), limit(1, RateLimitKey::Consumer, true)]);
    let request = Request::get().key("engage");
    let facts = request.facts();
    let future = admission.admit(&facts);
    assert_send(&future);
}
