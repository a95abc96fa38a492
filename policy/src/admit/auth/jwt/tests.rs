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
        path_policy: Default::default(),
        method_mismatch: Default::default(),
        identity: None,
        tracing: None,
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

pub(super) fn auth(alg: Option<&str>, keys: bool, secret: bool) -> JwtAuth {
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

pub(super) fn claims() -> serde_json::Value {
    json!({
        "sub": "will",
        "iss": "https://id.starfleet.test",
        "aud": "edge",
        "exp": now() + 600,
        "rank": "commander",
    })
}

pub(super) fn sign(alg: Algorithm, kid: Option<&str>, claims: &serde_json::Value) -> String {
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

pub(super) fn run(auth: &JwtAuth, token: &str) -> Result<String, AuthFailure> {
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

/// A route verifying `alg` (when pinned) with the keys of `set`.
fn auth_with_keys(alg: Option<&str>, set: Vec<Jwk>) -> Result<JwtAuth, AdmitBuildError> {
    let keys_ref = SecretRef::File("jwks.json".into());
    let mut store = SecretStore::new();
    store.insert(
        &keys_ref,
        Secret::new(serde_json::to_vec(&JwkSet { keys: set }).unwrap()),
    );
    JwtAuth::build(
        JwtSettings {
            issuer: Some("https://id.starfleet.test"),
            audience: Some("edge"),
            alg,
            keys: Some(&keys_ref),
            secret: None,
            realm: "edge",
        },
        "captains_log",
        &loc(),
        &store,
    )
}

fn jwk(key: &EncodingKey, alg: Algorithm, kid: Option<&str>, restrict: bool) -> Jwk {
    let mut jwk = Jwk::from_encoding_key(key, alg).unwrap();
    jwk.common.key_id = kid.map(str::to_string);
    if !restrict {
        jwk.common.key_algorithm = None;
    }
    jwk
}

fn signed_with(key: &EncodingKey, alg: Algorithm, kid: Option<&str>) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    encode(&header, &claims(), key).unwrap()
}

#[test]
fn a_token_without_kid_is_refused_when_several_keys_could_verify_it() {
    let rsa = EncodingKey::from_rsa_pem(RSA.as_bytes()).unwrap();
    let other = EncodingKey::from_rsa_pem(RSA_OTHER.as_bytes()).unwrap();
    let auth = auth_with_keys(
        Some("RS256"),
        vec![
            jwk(&rsa, Algorithm::RS256, Some("rsa-1"), false),
            jwk(&other, Algorithm::RS256, Some("rsa-2"), false),
        ],
    )
    .unwrap();
    assert_eq!(
        reason(run(&auth, &signed_with(&other, Algorithm::RS256, None))),
        "invalid token: the token has no kid and 2 keys could verify it; a kid must say which"
    );
    // With a kid, only that key is tried, and the same token verifies.
    assert_eq!(
        run(&auth, &signed_with(&other, Algorithm::RS256, Some("rsa-2"))).unwrap(),
        "riker"
    );
    assert_eq!(
        reason(run(
            &auth,
            &signed_with(&other, Algorithm::RS256, Some("rsa-1"))
        )),
        "invalid token: signature does not verify"
    );
}

#[test]
fn a_token_without_kid_is_accepted_when_exactly_one_key_fits_its_alg_and_family() {
    let rsa = EncodingKey::from_rsa_pem(RSA.as_bytes()).unwrap();
    let other = EncodingKey::from_rsa_pem(RSA_OTHER.as_bytes()).unwrap();
    let ec = EncodingKey::from_ec_pem(EC.as_bytes()).unwrap();
    // The other RSA key is restricted to RS512 and the EC key is another family: for an RS256
    // token only one key could verify it.
    let auth = auth_with_keys(
        None,
        vec![
            jwk(&rsa, Algorithm::RS256, Some("rsa-1"), true),
            jwk(&other, Algorithm::RS512, Some("rsa-512"), true),
            jwk(&ec, Algorithm::ES256, Some("ec-1"), true),
        ],
    )
    .unwrap();
    assert_eq!(
        run(&auth, &signed_with(&rsa, Algorithm::RS256, None)).unwrap(),
        "riker"
    );
    assert_eq!(
        run(&auth, &signed_with(&ec, Algorithm::ES256, None)).unwrap(),
        "riker"
    );
    assert_eq!(
        run(&auth, &signed_with(&other, Algorithm::RS512, None)).unwrap(),
        "riker"
    );
}

#[test]
fn ps256_es384_and_eddsa_verify_through_ring() {
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, ECDSA_P384_SHA384_FIXED_SIGNING};
    let random = SystemRandom::new();
    let p384 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &random).unwrap();
    let ed = Ed25519KeyPair::generate_pkcs8(&random).unwrap();
    let cases = [
        (
            EncodingKey::from_rsa_pem(RSA.as_bytes()).unwrap(),
            Algorithm::PS256,
        ),
        (EncodingKey::from_ec_der(p384.as_ref()), Algorithm::ES384),
        (EncodingKey::from_ed_der(ed.as_ref()), Algorithm::EdDSA),
    ];
    for (key, alg) in cases {
        let name = format!("{alg:?}");
        // The JWT library cannot make an Ed25519 JWK; it is written by hand (RFC 8037).
        let public = if alg == Algorithm::EdDSA {
            use base64::Engine;
            use ring::signature::KeyPair;
            let pair = Ed25519KeyPair::from_pkcs8(ed.as_ref()).unwrap();
            let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key());
            serde_json::from_value(json!({"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": x}))
                .unwrap()
        } else {
            jwk(&key, alg, Some("k"), true)
        };
        let auth = auth_with_keys(Some(&name), vec![public]).unwrap();
        assert_eq!(
            run(&auth, &signed_with(&key, alg, Some("k"))).unwrap(),
            "riker",
            "{name}"
        );
        let mut tampered = signed_with(&key, alg, Some("k"));
        let at = tampered.rfind('.').unwrap() + 5;
        let flipped = if &tampered[at..at + 1] == "A" {
            "B"
        } else {
            "A"
        };
        tampered.replace_range(at..at + 1, flipped);
        assert_eq!(
            reason(run(&auth, &tampered)),
            "invalid token: signature does not verify",
            "{name}"
        );
    }
}

#[test]
fn an_rsa_key_under_2048_bits_is_refused_at_load() {
    use base64::Engine;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let weak: Jwk = serde_json::from_value(json!({
        "kty": "RSA",
        "kid": "weak",
        "n": b64(&[0xc5; 128]),
        "e": b64(&[1, 0, 1]),
    }))
    .unwrap();
    let error = auth_with_keys(Some("RS256"), vec![weak]).unwrap_err();
    assert!(
        error.to_string().contains("key weak is not usable")
            && error.to_string().contains("1024 bits"),
        "{error}"
    );
}
