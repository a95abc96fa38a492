//! The cost of admitting one request with a bearer JWT, per algorithm: header and claims
//! decoding, the signature check and the claim checks, through the route's admission as the
//! gateway runs it.
//!
//! `cargo bench -p meshd --bench jwt_verify` (criterion, wall time), or instructions per
//! verification under callgrind, which do not move with machine load: `bash bench/jwt_instructions.sh`
//! (it runs this binary with `JWT_VERIFY_COUNT=N JWT_VERIFY_ALG=RS256`, which admits N requests and
//! exits instead of benchmarking).

use std::future::Future;
use std::hint::black_box;
use std::net::SocketAddr;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{criterion_group, Criterion};
use http::{HeaderMap, HeaderValue, Method};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use meshd::admit::{AdmitOptions, RequestFacts, RouteAdmission};
use meshd::load::secrets::{Secret, SecretStore};
use meshwork_bundle::{
    AdmissionStep, AuthMethod, Consumer, Credential, Gateway, PathKind, PathMatch, Route,
    RouteAction, RouteMatch, SecretRef, SourceLocation,
};

const RSA: &str = include_str!("../tests/admission_fixtures/rsa_private.pem");
const EC: &str = include_str!("../tests/admission_fixtures/ec_private.pem");
const HMAC: &[u8] = b"bench-secret-of-the-bridge-crew";
const ALGS: [&str; 3] = ["HS256", "RS256", "ES256"];

fn at(line: u32) -> SourceLocation {
    SourceLocation {
        file: "edge.mesh".into(),
        line,
        column: 5,
    }
}

fn encoding_key(alg: &str) -> EncodingKey {
    match alg {
        "HS256" => EncodingKey::from_secret(HMAC),
        "RS256" => EncodingKey::from_rsa_pem(RSA.as_bytes()).unwrap(),
        _ => EncodingKey::from_ec_pem(EC.as_bytes()).unwrap(),
    }
}

/// A route admitting bearer JWTs of `alg` (keys from a one-key JWKS, or an HMAC secret).
fn admission(alg: &str) -> RouteAdmission {
    let gateway = Gateway {
        name: "edge".into(),
        listeners: Vec::new(),
        consumers: vec![Consumer {
            name: "riker".into(),
            credentials: vec![Credential::Jwt {
                subject: "will".into(),
            }],
            groups: vec!["officers".into()],
            source: at(3),
        }],
        routes: Vec::new(),
        identity: None,
        tracing: None,
        path_policy: Default::default(),
        method_mismatch: Default::default(),
        source: at(1),
    };
    let mut secrets = SecretStore::new();
    let (keys, secret) = if alg == "HS256" {
        let reference = SecretRef::Env("JWT_SECRET".into());
        secrets.insert(&reference, Secret::new(HMAC.to_vec()));
        (None, Some(reference))
    } else {
        let algorithm: Algorithm = alg.parse().unwrap();
        let mut jwk = Jwk::from_encoding_key(&encoding_key(alg), algorithm).unwrap();
        jwk.common.key_id = Some(format!("{alg}-1"));
        let reference = SecretRef::File("jwks.json".into());
        let set = serde_json::to_vec(&JwkSet { keys: vec![jwk] }).unwrap();
        secrets.insert(&reference, Secret::new(set));
        (Some(reference), None)
    };
    let route = Route {
        name: "officers".into(),
        matcher: RouteMatch {
            method: Some("GET".into()),
            path: PathMatch {
                kind: PathKind::Exact,
                value: "/officers".into(),
                params: Vec::new(),
            },
            host: None,
            headers: Vec::new(),
            query: Vec::new(),
        },
        public: false,
        admission: vec![AdmissionStep::Auth {
            method: AuthMethod::Jwt {
                issuer: Some("https://id.starfleet.test".into()),
                audience: Some("edge".into()),
                alg: Some(alg.into()),
                keys,
                secret,
            },
            source: at(8),
        }],
        action: RouteAction::Respond {
            status: 200,
            body: "ok".into(),
            content_type: "text/plain".into(),
        },
        source: at(7),
    };
    RouteAdmission::build(&gateway, &route, &secrets, &AdmitOptions::default()).unwrap()
}

fn headers(alg: &str) -> HeaderMap {
    let claims = serde_json::json!({
        "sub": "will",
        "iss": "https://id.starfleet.test",
        "aud": "edge",
        "exp": 4_000_000_000u64,
    });
    let mut header = Header::new(alg.parse().unwrap());
    header.kid = (alg != "HS256").then(|| format!("{alg}-1"));
    let token = encode(&header, &claims, &encoding_key(alg)).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    headers
}

/// Polls a future that must be ready at once (JWT admission never waits).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("JWT admission should never wait"),
    }
}

fn admit_once(admission: &RouteAdmission, headers: &HeaderMap) -> bool {
    let remote: SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let facts = RequestFacts::new(&Method::GET, "/officers", headers, remote);
    ready(admission.admit(black_box(&facts))).is_ok()
}

fn jwt_verify(c: &mut Criterion) {
    for alg in ALGS {
        let admission = admission(alg);
        let headers = headers(alg);
        assert!(admit_once(&admission, &headers), "{alg} must admit");
        c.bench_function(&format!("jwt/verify {alg}"), |b| {
            b.iter(|| black_box(admit_once(&admission, &headers)))
        });
    }
}

criterion_group!(benches, jwt_verify);

fn main() {
    if let Ok(count) = std::env::var("JWT_VERIFY_COUNT") {
        let count: usize = count.parse().expect("JWT_VERIFY_COUNT is a number");
        let alg = std::env::var("JWT_VERIFY_ALG").unwrap_or_else(|_| "RS256".into());
        let admission = admission(&alg);
        let headers = headers(&alg);
        for _ in 0..count {
            assert!(admit_once(&admission, &headers));
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
