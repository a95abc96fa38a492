//! Tests of JWT authentication.

use super::*;
use crate::secrets::Secret;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{encode, EncodingKey, Header};
use meshwork_bundle::{Consumer, Credential, Gateway};
use serde_json::json;

const RSA: &str = include_str!("../../../../../runtime/tests/admission_fixtures/rsa_private.pem");
const RSA_OTHER: &str =
    include_str!("../../../../../runtime/tests/admission_fixtures/rsa_other_private.pem");
const EC: &str = include_str!("../../../../../runtime/tests/admission_fixtures/ec_private.pem");
const HMAC: &[u8] = b"a shared secret of the bridge crew";

fn loc() -> SourceLocation {
    SourceLocation {
        file: "edge.mesh".into(),
        line: 18,
        column: 5,
    }
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn directory() -> ConsumerDirectory {
    let gateway = Gateway {
        name: "edge".into(),
        listeners: Vec::new(),
        consumers: vec![Consumer {
            name: "riker".into(),
            credentials: vec![Credential::Jwt {
                subject: "will".into(),
            }],
            groups: vec!["officers".into()],
            source: loc(),
        }],
        routes: Vec::new(),
        source: loc(),
    };
    ConsumerDirectory::build(&gateway, &SecretStore::new()).unwrap()
}

fn jwks() -> Vec<u8> {
    let mut rsa = Jwk::from_encoding_key(
        &EncodingKey::from_rsa_pem(RSA.as_bytes()).unwrap(),
        Algorithm::RS256,
    )
    .unwrap();
    rsa.common.key_id = Some("rsa-1".into());
    let mut ec = Jwk::from_encoding_key(
        &EncodingKey::from_ec_pem(EC.as_bytes()).unwrap(),
        Algorithm::ES256,
    )
    .unwrap();
    ec.common.key_id = Some("ec-1".into());
    serde_json::to_vec(&JwkSet {
        keys: vec![rsa, ec],
    })
    .unwrap()
}

fn secrets() -> SecretStore {
    let mut store = SecretStore::new();
    store.insert(&SecretRef::File("jwks.json".into()), Secret::new(jwks()));
    store.insert(
        &SecretRef::Env("JWT_SECRET".into()),
        Secret::new(HMAC.to_vec()),
    );
    store
}

fn auth(alg: Option<&str>, keys: bool, secret: bool) -> JwtAuth {
    let keys_ref = SecretRef::File("jwks.json".into());
    let secret_ref = SecretRef::Env("JWT_SECRET".into());
    JwtAuth::build(
        JwtSettings {
            issuer: Some("https://id.starfleet.test"),
            audience: Some("edge"),
            alg,
            keys: keys.then_some(&keys_ref),
            secret: secret.then_some(&secret_ref),
            realm: "edge",
        },
        "captains_log",
        &loc(),
        &secrets(),
    )
    .unwrap()
}

fn claims() -> serde_json::Value {
    json!({
        "sub": "will",
        "iss": "https://id.starfleet.test",
        "aud": "edge",
        "exp": now() + 600,
        "rank": "commander",
    })
}

fn sign(alg: Algorithm, kid: Option<&str>, claims: &serde_json::Value) -> String {
    let key = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(RSA.as_bytes()).unwrap(),
        Algorithm::ES256 => EncodingKey::from_ec_pem(EC.as_bytes()).unwrap(),
        Algorithm::HS256 => EncodingKey::from_secret(HMAC),
        other => panic!("no test key for {other:?}"),
    };
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    encode(&header, claims, &key).unwrap()
}

fn run(auth: &JwtAuth, token: &str) -> Result<String, AuthFailure> {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    let facts = RequestFacts::new(
        &http::Method::GET,
        "/",
        &headers,
        "127.0.0.1:1".parse().unwrap(),
    );
    let directory = directory();
    auth.authenticate(&facts, &directory).map(|found| {
        assert_eq!(
            found.claims.as_ref().unwrap().get("rank").unwrap(),
            "commander"
        );
        found.consumer.name().to_string()
    })
}

fn reason(result: Result<String, AuthFailure>) -> String {
    result
        .expect_err("the token should be refused")
        .reason
        .into_owned()
}

#[test]
fn rs256_token_from_the_jwks_names_its_consumer() {
    let auth = auth(Some("RS256"), true, false);
    assert_eq!(
        run(&auth, &sign(Algorithm::RS256, Some("rsa-1"), &claims())).unwrap(),
        "riker"
    );
    assert_eq!(
        run(&auth, &sign(Algorithm::RS256, None, &claims())).unwrap(),
        "riker"
    );
}

#[test]
fn es256_token_from_the_jwks_names_its_consumer() {
    let auth = auth(Some("ES256"), true, false);
    assert_eq!(
        run(&auth, &sign(Algorithm::ES256, Some("ec-1"), &claims())).unwrap(),
        "riker"
    );
}

#[test]
fn hs256_token_with_the_shared_secret_names_its_consumer() {
    let auth = auth(Some("HS256"), false, true);
    assert_eq!(
        run(&auth, &sign(Algorithm::HS256, None, &claims())).unwrap(),
        "riker"
    );
}

#[test]
fn unpinned_route_accepts_the_algorithms_of_its_keys() {
    let auth = auth(None, true, false);
    assert!(run(&auth, &sign(Algorithm::RS256, None, &claims())).is_ok());
    assert!(run(&auth, &sign(Algorithm::ES256, None, &claims())).is_ok());
    assert!(reason(run(&auth, &sign(Algorithm::HS256, None, &claims())))
        .contains("HS256 is not allowed"));
}

#[test]
fn token_with_another_alg_than_the_pinned_one_is_refused() {
    let auth = auth(Some("RS256"), true, true);
    let refused = reason(run(&auth, &sign(Algorithm::ES256, None, &claims())));
    assert_eq!(
        refused,
        "invalid token: alg ES256 is not allowed here (expected RS256)"
    );
    let refused = reason(run(&auth, &sign(Algorithm::HS256, None, &claims())));
    assert!(refused.contains("HS256 is not allowed"), "{refused}");
}

#[test]
fn alg_none_is_refused() {
    use base64::Engine;
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap())
    };
    let token = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"})),
        b64(claims())
    );
    let auth = auth(Some("RS256"), true, false);
    assert_eq!(
        reason(run(&auth, &token)),
        "invalid token: alg none is refused"
    );
}

#[test]
fn token_signed_by_another_key_is_refused() {
    let auth = auth(Some("RS256"), true, false);
    let forged = encode(
        &Header::new(Algorithm::RS256),
        &claims(),
        &EncodingKey::from_rsa_pem(RSA_OTHER.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        reason(run(&auth, &forged)),
        "invalid token: signature does not verify"
    );
    let mut tampered = sign(Algorithm::RS256, None, &claims());
    tampered.insert(tampered.len() - 4, 'x');
    assert!(run(&auth, &tampered).is_err());
}

#[test]
fn expired_and_immature_tokens_are_refused_past_the_leeway() {
    let auth = auth(Some("HS256"), false, true);
    let mut expired = claims();
    expired["exp"] = json!(now() - LEEWAY_SECONDS - 10);
    assert_eq!(
        reason(run(&auth, &sign(Algorithm::HS256, None, &expired))),
        "invalid token: token has expired"
    );
    let mut skewed = claims();
    skewed["exp"] = json!(now() - 5);
    assert!(
        run(&auth, &sign(Algorithm::HS256, None, &skewed)).is_ok(),
        "within the leeway"
    );
    let mut immature = claims();
    immature["nbf"] = json!(now() + LEEWAY_SECONDS + 60);
    assert_eq!(
        reason(run(&auth, &sign(Algorithm::HS256, None, &immature))),
        "invalid token: token is not valid yet (nbf)"
    );
    let mut no_exp = claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        reason(run(&auth, &sign(Algorithm::HS256, None, &no_exp))),
        "invalid token: no exp claim"
    );
}

#[test]
fn wrong_or_missing_issuer_and_audience_are_refused() {
    let auth = auth(Some("HS256"), false, true);
    let mut issuer = claims();
    issuer["iss"] = json!("https://romulus.test");
    assert_eq!(
        reason(run(&auth, &sign(Algorithm::HS256, None, &issuer))),
        "invalid token: issuer is not \"https://id.starfleet.test\""
    );
    let mut audience = claims();
    audience["aud"] = json!("bridge");
    assert_eq!(
        reason(run(&auth, &sign(Algorithm::HS256, None, &audience))),
        "invalid token: audience is not \"edge\""
    );
    let mut no_issuer = claims();
    no_issuer.as_object_mut().unwrap().remove("iss");
    assert_eq!(
        reason(run(&auth, &sign(Algorithm::HS256, None, &no_issuer))),
        "invalid token: no iss claim"
    );
}

#[test]
fn unknown_subject_and_missing_token_are_refused() {
    let auth = auth(Some("HS256"), false, true);
    let mut stranger = claims();
    stranger["sub"] = json!("q");
    assert_eq!(
        reason(run(&auth, &sign(Algorithm::HS256, None, &stranger))),
        "token subject \"q\" is not a consumer of gateway edge"
    );
    let headers = http::HeaderMap::new();
    let facts = RequestFacts::new(
        &http::Method::GET,
        "/",
        &headers,
        "127.0.0.1:1".parse().unwrap(),
    );
    let failure = auth.authenticate(&facts, &directory()).unwrap_err();
    assert_eq!(failure.reason, "missing bearer token");
    assert_eq!(failure.challenge.unwrap(), "Bearer realm=\"edge\"");
}

#[test]
fn unknown_kid_is_refused() {
    let auth = auth(Some("RS256"), true, false);
    assert_eq!(
        reason(run(
            &auth,
            &sign(Algorithm::RS256, Some("rsa-9"), &claims())
        )),
        "invalid token: no key with kid \"rsa-9\""
    );
}

#[test]
fn a_pinned_alg_without_a_fitting_key_is_a_build_error() {
    let keys_ref = SecretRef::File("jwks.json".into());
    let error = JwtAuth::build(
        JwtSettings {
            issuer: None,
            audience: None,
            alg: Some("HS256"),
            keys: Some(&keys_ref),
            secret: None,
            realm: "edge",
        },
        "r",
        &loc(),
        &secrets(),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("no JWT key can verify HS256"),
        "{error}"
    );
    let error = JwtAuth::build(
        JwtSettings {
            issuer: None,
            audience: None,
            alg: Some("XX999"),
            keys: Some(&keys_ref),
            secret: None,
            realm: "edge",
        },
        "r",
        &loc(),
        &secrets(),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("\"XX999\" is not supported"),
        "{error}"
    );
}
