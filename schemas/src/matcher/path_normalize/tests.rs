//! Path normalization, vector by vector, with the RFC rule each one follows.

use proptest::prelude::*;

use super::*;

const KEEP: PathPolicy = PathPolicy {
    merge_slashes: true,
    escaped_slashes: EscapedSlashes::Keep,
};
const UNESCAPE: PathPolicy = PathPolicy {
    merge_slashes: true,
    escaped_slashes: EscapedSlashes::Unescape,
};
const NO_MERGE: PathPolicy = PathPolicy {
    merge_slashes: false,
    escaped_slashes: EscapedSlashes::Reject,
};

fn norm(path: &str) -> String {
    normalize_path(path).unwrap().into_owned()
}

fn norm_with(path: &str, policy: &PathPolicy) -> Result<String, PathError> {
    normalize_request_path(path, policy).map(Cow::into_owned)
}

#[test]
fn a_plain_path_is_borrowed_unchanged() {
    assert!(matches!(
        normalize_path("/a/b/"),
        Ok(Cow::Borrowed("/a/b/"))
    ));
    assert!(matches!(normalize_path("/a..b/.c"), Ok(Cow::Borrowed(_))));
    assert!(matches!(
        normalize_path("/.well-known/acme"),
        Ok(Cow::Borrowed(_))
    ));
    // An escape that is already normal is borrowed too (no copy per request).
    assert!(matches!(normalize_path("/sp%20ace"), Ok(Cow::Borrowed(_))));
}

#[test]
fn unreserved_escapes_are_decoded_and_others_upper_cased() {
    // RFC 3986 §6.2.2.2: percent-encoded unreserved characters are decoded; §6.2.2.1: the hex
    // digits of the other escapes are upper-cased.
    assert_eq!(norm("/%61dmin"), "/admin");
    assert_eq!(norm("/a%7Eb%2d"), "/a~b-");
    assert_eq!(norm("/caf%c3%a9"), "/caf%C3%A9");
    assert_eq!(norm("/sp%20ace"), "/sp%20ace");
    assert_eq!(norm("/q%3fx"), "/q%3Fx");
}

#[test]
fn dot_segments_are_removed_without_climbing_above_the_root() {
    // RFC 3986 §5.2.4 (remove_dot_segments) and §6.2.2.3.
    assert_eq!(norm("/a/./b"), "/a/b");
    assert_eq!(norm("/a/../admin"), "/admin");
    assert_eq!(norm("/../../etc"), "/etc");
    assert_eq!(norm("/a/b/.."), "/a/");
    assert_eq!(norm("/a/."), "/a/");
    assert_eq!(norm("/.."), "/");
    assert_eq!(norm("/."), "/");
}

#[test]
fn encoded_dots_are_removed_too() {
    // RFC 3986 §6.2.2.2 decodes `%2E` to `.` first; §5.2.4 then removes the segment.
    assert_eq!(norm("/x/%2e%2E/admin"), "/admin");
    assert_eq!(norm("/x/%2e/y"), "/x/y");
}

#[test]
fn runs_of_slashes_are_merged_before_dot_segments_are_removed() {
    // Not RFC 3986 (where empty segments are significant) but what nginx's merge_slashes and
    // Envoy's merge_slashes do, and what the upstreams behind a gateway usually do.
    assert_eq!(norm("//admin"), "/admin");
    assert_eq!(norm("/admin//x"), "/admin/x");
    assert_eq!(norm("///"), "/");
    assert_eq!(norm("/a//../b"), "/b");
    assert_eq!(norm("/a/%2e%2e//b"), "/b");
    // Without merging, empty segments count as segments for `..`.
    assert_eq!(norm_with("//admin", &NO_MERGE), Ok("//admin".into()));
    assert_eq!(norm_with("/a//../b", &NO_MERGE), Ok("/a/b".into()));
}

#[test]
fn escaped_slashes_and_backslashes_are_refused_by_default() {
    assert_eq!(
        normalize_path("/admin%2Fx"),
        Err(PathError::EscapedSlash(6))
    );
    assert_eq!(normalize_path("/%2fadmin"), Err(PathError::EscapedSlash(1)));
    assert_eq!(
        normalize_path("/public%2F..%2Fadmin"),
        Err(PathError::EscapedSlash(7))
    );
    assert_eq!(normalize_path("/a%5cb"), Err(PathError::EscapedSlash(2)));
    assert_eq!(normalize_path("/a%5Cb"), Err(PathError::EscapedSlash(2)));
    assert_eq!(normalize_path("/a\\b"), Err(PathError::Backslash(2)));
}

#[test]
fn keep_leaves_escaped_slashes_encoded_in_one_segment() {
    assert_eq!(norm_with("/admin%2fx", &KEEP), Ok("/admin%2Fx".into()));
    assert_eq!(
        norm_with("/public%2F..%2Fadmin", &KEEP),
        Ok("/public%2F..%2Fadmin".into())
    );
    // A raw backslash is not a URI character (RFC 3986 §2); kept, it is sent encoded.
    assert_eq!(norm_with("/a\\b", &KEEP), Ok("/a%5Cb".into()));
    assert_eq!(norm_with("/a%5cb", &KEEP), Ok("/a%5Cb".into()));
}

#[test]
fn unescape_turns_them_into_separators_before_anything_else() {
    assert_eq!(norm_with("/admin%2Fx", &UNESCAPE), Ok("/admin/x".into()));
    assert_eq!(norm_with("/%2Fadmin", &UNESCAPE), Ok("/admin".into()));
    assert_eq!(
        norm_with("/public%2F..%2Fadmin", &UNESCAPE),
        Ok("/admin".into())
    );
    assert_eq!(
        norm_with("/officers%2f7", &UNESCAPE),
        Ok("/officers/7".into())
    );
    assert_eq!(norm_with("/a\\..\\admin", &UNESCAPE), Ok("/admin".into()));
    assert_eq!(norm_with("/a%5C..%5Cadmin", &UNESCAPE), Ok("/admin".into()));
}

#[test]
fn malformed_escapes_nul_and_relative_paths_are_errors() {
    assert_eq!(normalize_path("/a%zz"), Err(PathError::BadEscape(2)));
    assert_eq!(normalize_path("/a%4"), Err(PathError::BadEscape(2)));
    assert_eq!(normalize_path("/a%"), Err(PathError::BadEscape(2)));
    assert_eq!(normalize_path("/admin%00"), Err(PathError::EncodedNul(6)));
    assert_eq!(normalize_path("*"), Err(PathError::NotAbsolute));
    assert_eq!(normalize_path(""), Err(PathError::NotAbsolute));
}

#[test]
fn multibyte_text_between_escapes_survives() {
    assert_eq!(norm("/é%41/ü"), "/éA/ü");
    assert_eq!(norm("//é//ü"), "/é/ü");
}

#[test]
fn hosts_are_lower_cased_without_trailing_dot() {
    assert_eq!(normalize_host("API.Example.com."), "api.example.com");
    assert!(matches!(normalize_host("a.io"), Cow::Borrowed("a.io")));
}

fn policy() -> impl Strategy<Value = PathPolicy> {
    (
        any::<bool>(),
        prop::sample::select(vec![
            EscapedSlashes::Reject,
            EscapedSlashes::Keep,
            EscapedSlashes::Unescape,
        ]),
    )
        .prop_map(|(merge_slashes, escaped_slashes)| PathPolicy {
            merge_slashes,
            escaped_slashes,
        })
}

fn path() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "/", "//", ".", "..", "a", "admin", "%2F", "%2f", "%5C", "\\", "%2e", "%2E%2e", "%41",
        "%20", "%zz", "%", "é", "~", "%00",
    ]);
    prop::collection::vec(piece, 0..12).prop_map(|pieces| format!("/{}", pieces.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// What is forwarded normalizes to itself: an upstream that normalizes again (or a second
    /// proxy) sees the path that was matched.
    #[test]
    fn a_normalized_path_is_a_fixed_point(path in path(), policy in policy()) {
        if let Ok(once) = normalize_request_path(&path, &policy) {
            let twice = normalize_request_path(&once, &policy);
            prop_assert_eq!(twice.as_deref(), Ok(&*once));
            prop_assert!(once.starts_with('/'));
            prop_assert!(!once.split('/').any(|s| s == "." || s == ".."), "{}", once);
            if policy.merge_slashes {
                prop_assert!(!once.contains("//"), "{}", once);
            }
            if policy.escaped_slashes != EscapedSlashes::Keep {
                let upper = once.to_ascii_uppercase();
                prop_assert!(!upper.contains("%2F") && !upper.contains("%5C") && !once.contains('\\'));
            }
        }
    }
}
