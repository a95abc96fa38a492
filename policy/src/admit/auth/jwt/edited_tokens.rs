//! Any edit to a signed token is refused, and any text as a token is refused without a panic.
//! Tokens are signed with each family (HMAC, RSA, EC; with and without `kid`) and edited by
//! characters: replaced (by base64url characters most of the time, so the edit stays decodable),
//! inserted or deleted, anywhere in header, payload or signature. base64url's unused low bits
//! are where an edit could leave the decoded bytes unchanged; the decoder refuses non-zero ones,
//! so even those edits are refused.

use std::sync::OnceLock;

use jsonwebtoken::Algorithm;
use proptest::prelude::*;

use super::tests::{auth, claims, run, sign};
use super::JwtAuth;

const BASE64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let byte = prop_oneof![
        8 => prop::sample::select(BASE64URL),
        1 => prop::sample::select(&b".= +/"[..]),
    ];
    prop_oneof![
        4 => (any::<usize>(), byte.clone()).prop_map(|(at, b)| Edit::Replace(at, b)),
        1 => (any::<usize>(), byte).prop_map(|(at, b)| Edit::Insert(at, b)),
        1 => any::<usize>().prop_map(Edit::Delete),
    ]
}

fn edited(token: &str, edits: &[Edit]) -> String {
    let mut bytes = token.as_bytes().to_vec();
    for edit in edits {
        match *edit {
            Edit::Replace(at, b) => {
                let at = at % bytes.len();
                bytes[at] = b;
            }
            Edit::Insert(at, b) => bytes.insert(at % (bytes.len() + 1), b),
            Edit::Delete(at) if bytes.len() > 1 => {
                bytes.remove(at % bytes.len());
            }
            Edit::Delete(_) => {}
        }
    }
    String::from_utf8(bytes).expect("edits keep ASCII")
}

const SIGNED: [(Algorithm, Option<&str>); 4] = [
    (Algorithm::HS256, None),
    (Algorithm::RS256, Some("rsa-1")),
    (Algorithm::RS256, None),
    (Algorithm::ES256, Some("ec-1")),
];

/// Each family's verifier and a token it passes, made once (RSA signing is slow in debug builds).
fn signed() -> &'static [(JwtAuth, String)] {
    static SIGNED_ONCE: OnceLock<Vec<(JwtAuth, String)>> = OnceLock::new();
    SIGNED_ONCE.get_or_init(|| {
        SIGNED
            .iter()
            .map(|(alg, kid)| {
                let auth = auth(Some(&format!("{alg:?}")), true, *alg == Algorithm::HS256);
                (auth, sign(*alg, *kid, &claims()))
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn an_edited_token_is_refused(
        which in 0..SIGNED.len(),
        edits in prop::collection::vec(edit(), 1..3),
    ) {
        let (auth, token) = &signed()[which];
        prop_assert!(run(auth, token).is_ok(), "the token as signed must pass");
        let changed = edited(token, &edits);
        if changed != *token {
            prop_assert!(run(auth, &changed).is_err(), "an edited token passed: {}", changed);
        }
    }

    #[test]
    fn any_text_as_a_token_is_refused(token in "[ -~]{0,300}") {
        let auth = auth(None, true, true);
        prop_assert!(run(&auth, &token).is_err());
    }
}
