//! Query-string matching without allocating: names and values compared after percent-decoding.

/// Whether the first parameter of `query` (raw, without `?`) named `name` has value `value`, both
/// compared percent-decoded and case-sensitively (`+` is not a space). A parameter without `=`
/// has the empty value. Only the first occurrence counts, as the Gateway API recommends for a
/// repeated parameter (`HTTPQueryParamMatch.Name`): `?v=1&v=2` has `v` = `1`, so a client cannot
/// satisfy a match by appending a second value the upstream may never read.
pub(crate) fn query_has(query: &str, name: &str, value: &str) -> bool {
    query
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .find(|(raw_name, _)| decoded_eq(raw_name, name))
        .is_some_and(|(_, raw_value)| decoded_eq(raw_value, value))
}

/// Whether `raw` percent-decodes to exactly the bytes of `expected`. A malformed escape is
/// compared literally.
fn decoded_eq(raw: &str, expected: &str) -> bool {
    let (raw, expected) = (raw.as_bytes(), expected.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < raw.len() {
        let byte = match raw[i] {
            b'%' => match (raw.get(i + 1), raw.get(i + 2)) {
                (Some(&hi), Some(&lo)) if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => {
                    i += 3;
                    hex(hi) * 16 + hex(lo)
                }
                _ => {
                    i += 1;
                    b'%'
                }
            },
            other => {
                i += 1;
                other
            }
        };
        if expected.get(j) != Some(&byte) {
            return false;
        }
        j += 1;
    }
    j == expected.len()
}

fn hex(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_parameter_anywhere_in_the_query() {
        assert!(query_has("a=1&v=2&b=3", "v", "2"));
        assert!(!query_has("a=1&v=3", "v", "2"));
        assert!(!query_has("", "v", "2"));
    }

    #[test]
    fn only_the_first_occurrence_of_a_repeated_parameter_counts() {
        // Gateway API, HTTPQueryParamMatch.Name: "it is *recommended* that implementations should
        // match against the first value of the param".
        assert!(query_has("v=1&v=2", "v", "1"));
        assert!(!query_has("v=1&v=2", "v", "2"));
        assert!(
            query_has("x=9&v%3D=3&v=1", "v", "1"),
            "`v=` decoded is another name"
        );
    }

    #[test]
    fn names_and_values_are_case_sensitive() {
        // Gateway API conformance, httproute-query-param-matching: `?ANIMAL=Whale` does not match
        // `animal=whale` ("This must be an exact string match").
        assert!(!query_has("ANIMAL=Whale", "animal", "whale"));
        assert!(query_has("ANIMAL=Whale", "ANIMAL", "Whale"));
        assert!(!query_has("animal=Whale", "animal", "whale"));
    }

    #[test]
    fn names_and_values_are_percent_decoded_but_plus_is_literal() {
        assert!(query_has("na%6De=a%20b", "name", "a b"));
        assert!(!query_has("name=a+b", "name", "a b"));
        assert!(query_has("name=a+b", "name", "a+b"));
    }

    #[test]
    fn a_bare_name_has_the_empty_value_and_bad_escapes_are_literal() {
        assert!(query_has("debug", "debug", ""));
        assert!(query_has("x=%zz", "x", "%zz"));
        assert!(!query_has("x=ab", "x", "a"));
        assert!(!query_has("x=a", "x", "ab"));
    }
}
