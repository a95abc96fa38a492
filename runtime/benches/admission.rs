//! Per-request cost of admission: the chain the gateway benchmark uses (key auth + rate limit +
//! one CEL condition) and each step alone.
//!
//! `cargo bench -p meshd --bench admission`

use std::future::Future;
use std::hint::black_box;
use std::net::SocketAddr;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{criterion_group, criterion_main, Criterion};
use http::{HeaderMap, HeaderValue, Method};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use meshd::admit::cel::{CelInput, RequestCondition, RequestExpression};
use meshd::admit::{AdmitOptions, RequestFacts, RouteAdmission};
use meshd::load::secrets::{Secret, SecretStore};
use meshwork_bundle::{
    AdmissionStep, AuthMethod, Consumer, Credential, Gateway, KeyLocation, PathKind, PathMatch,
    RateLimitKey, Route, RouteAction, RouteMatch, SecretRef, SourceLocation,
};

const RSA: &str = include_str!("../tests/admission_fixtures/rsa_private.pem");
const EC: &str = include_str!("../tests/admission_fixtures/ec_private.pem");

fn at(line: u32) -> SourceLocation {
    SourceLocation {
        file: "edge.mesh".into(),
        line,
        column: 5,
    }
}

/// A gateway with `consumers` key-holding consumers (the directory size should not matter).
fn gateway(consumers: usize) -> Gateway {
    Gateway {
        name: "edge".into(),
        listeners: Vec::new(),
        consumers: (0..consumers)
            .map(|i| Consumer {
                name: format!("consumer{i}"),
                credentials: vec![
                    Credential::Key {
                        secret: SecretRef::Env(format!("KEY{i}")),
                    },
                    Credential::Jwt {
                        subject: format!("subject{i}"),
                    },
                ],
                groups: vec!["crew".into()],
                source: at(3),
            })
            .collect(),
        routes: Vec::new(),
        path_policy: Default::default(),
        method_mismatch: Default::default(),
        identity: None,
        tracing: None,
        source: at(1),
    }
}

fn secrets(consumers: usize) -> SecretStore {
    let mut store = SecretStore::new();
    for i in 0..consumers {
        store.insert(
            &SecretRef::Env(format!("KEY{i}")),
            Secret::new(format!("key-{i}-0123456789abcdef").into_bytes()),
        );
    }
    store.insert(
        &SecretRef::Env("JWT_SECRET".into()),
        Secret::new(b"bench-secret".to_vec()),
    );
    let jwks = |pem: &str, alg| {
        let key = match alg {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
            _ => EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        };
        let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&key, alg).unwrap();
        serde_json::to_vec(&jsonwebtoken::jwk::JwkSet { keys: vec![jwk] }).unwrap()
    };
    store.insert(
        &SecretRef::File("rsa.json".into()),
        Secret::new(jwks(RSA, Algorithm::RS256)),
    );
    store.insert(
        &SecretRef::File("ec.json".into()),
        Secret::new(jwks(EC, Algorithm::ES256)),
    );
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

fn jwt_auth(alg: &str) -> AdmissionStep {
    let (keys, secret) = match alg {
        "HS256" => (None, Some(SecretRef::Env("JWT_SECRET".into()))),
        "RS256" => (Some(SecretRef::File("rsa.json".into())), None),
        _ => (Some(SecretRef::File("ec.json".into())), None),
    };
    AdmissionStep::Auth {
        method: AuthMethod::Jwt {
            issuer: None,
            audience: None,
            alg: Some(alg.into()),
            keys,
            secret,
        },
        source: at(8),
    }
}

/// A limit that never refuses within a benchmark, so every iteration does the same work.
fn limit(per: RateLimitKey) -> AdmissionStep {
    AdmissionStep::RateLimit {
        count: u64::MAX / 1_000_000_000,
        period_ms: 1,
        per,
        burst: Some(u64::MAX / 2),
        shared: false,
        on_store_failure: meshwork_bundle::StoreFailure::Local,
        source: at(10),
    }
}

fn condition() -> AdmissionStep {
    AdmissionStep::Condition {
        cel: r#"request.headers["x-stardate"] != """#.into(),
        source: at(11),
    }
}

fn build(steps: Vec<AdmissionStep>) -> RouteAdmission {
    const CONSUMERS: usize = 1_000;
    RouteAdmission::build(
        &gateway(CONSUMERS),
        &route(steps),
        &secrets(CONSUMERS),
        &AdmitOptions::default(),
    )
    .unwrap()
}

/// Polls a future that must be ready at once (admission without shared limits never waits).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("local admission should never wait"),
    }
}

fn request_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("api.starfleet.test"));
    headers.insert("user-agent", HeaderValue::from_static("wrk"));
    headers.insert("accept", HeaderValue::from_static("*/*"));
    headers.insert(
        "x-api-key",
        HeaderValue::from_static("key-500-0123456789abcdef"),
    );
    headers.insert("x-stardate", HeaderValue::from_static("47457.1"));
    headers
}

fn bench_route(c: &mut Criterion, name: &str, steps: Vec<AdmissionStep>, headers: &HeaderMap) {
    let admission = build(steps);
    let remote: SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let facts = RequestFacts::new(&Method::GET, "/officers/1701", headers, remote);
    assert!(ready(admission.admit(&facts)).is_ok(), "{name} must admit");
    c.bench_function(name, |b| {
        b.iter(|| {
            let facts = RequestFacts::new(&Method::GET, "/officers/1701", headers, remote);
            let admitted = ready(admission.admit(black_box(&facts)));
            black_box(admitted.is_ok())
        })
    });
}

fn chain_and_steps(c: &mut Criterion) {
    let headers = request_headers();
    bench_route(
        c,
        "admit/chain key+limit+cel",
        vec![key_auth(), limit(RateLimitKey::Consumer), condition()],
        &headers,
    );
    bench_route(c, "admit/none", Vec::new(), &headers);
    bench_route(c, "admit/key auth", vec![key_auth()], &headers);
    bench_route(
        c,
        "admit/rate limit per route",
        vec![limit(RateLimitKey::Route)],
        &headers,
    );
    bench_route(
        c,
        "admit/rate limit per consumer",
        vec![key_auth(), limit(RateLimitKey::Consumer)],
        &headers,
    );
    bench_route(
        c,
        "admit/rate limit per ip",
        vec![limit(RateLimitKey::Ip)],
        &headers,
    );
    bench_route(c, "admit/cel condition", vec![condition()], &headers);

    for alg in ["HS256", "RS256", "ES256"] {
        let claims = serde_json::json!({"sub": "subject500", "exp": 4_000_000_000u64});
        let key = match alg {
            "HS256" => EncodingKey::from_secret(b"bench-secret"),
            "RS256" => EncodingKey::from_rsa_pem(RSA.as_bytes()).unwrap(),
            _ => EncodingKey::from_ec_pem(EC.as_bytes()).unwrap(),
        };
        let token = encode(&Header::new(alg.parse().unwrap()), &claims, &key).unwrap();
        let mut headers = request_headers();
        headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        bench_route(
            c,
            &format!("admit/jwt {alg}"),
            vec![jwt_auth(alg)],
            &headers,
        );
    }
}

fn cel(c: &mut Criterion) {
    let headers = request_headers();
    let remote: SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let params = [("id", "1701")];
    let facts = RequestFacts::new(&Method::GET, "/officers/1701", &headers, remote)
        .with_params(&params)
        .with_query(Some("v=2"));
    let input = CelInput::request(&facts);
    for (name, source) in [
        (
            "cel/fast header != \"\"",
            r#"request.headers["x-stardate"] != """#,
        ),
        (
            "cel/fast param == literal",
            r#"request.params.id == "1701""#,
        ),
        (
            "cel/interpreted header.size() > 0",
            r#"request.headers["x-stardate"].size() > 0"#,
        ),
        (
            "cel/interpreted method && startsWith",
            r#"request.method == "GET" && request.path.startsWith("/officers/")"#,
        ),
    ] {
        let condition = RequestCondition::compile(source).unwrap();
        assert_eq!(condition.evaluate(input), Ok(true));
        c.bench_function(name, |b| {
            b.iter(|| black_box(condition.evaluate(black_box(input))))
        });
    }
    let key = RequestExpression::compile(r#"request.headers["x-stardate"]"#).unwrap();
    c.bench_function("cel/fast key bytes from header", |b| {
        b.iter(|| black_box(key.with_bytes(black_box(input), |bytes| bytes.map(<[u8]>::len))))
    });
}

criterion_group!(benches, chain_and_steps, cel);
criterion_main!(benches);
