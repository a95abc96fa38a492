//! Query-string matching without allocating: names and values compared after percent-decoding.

/// Whether `query` (raw, without `?`) has parameter `name` with value `value`, both compared
/// percent-decoded (`+` is not a space). A parameter without `=` has the empty value.
pub(crate) fn query_has(query: &str, name: &str, value: &str) -> bool {
    query.split('&').any(|pair| {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        decoded_eq(raw_name, name) && decoded_eq(raw_value, value)
    })
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
    fn any_repeated_occurrence_may_match() {
        assert!(query_has("v=1&v=2", "v", "2"));
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
