//! The key of `balance hash(<CEL>)`: a request expression compiled at load by admission's
//! request CEL (the one implementation of request CEL in meshd; fast for plain reads such as
//! `request.headers["x-user"]`) and evaluated per request over what admission saw
//! ([`crate::admit::Admitted::cel_input`]: the request, the consumer, the JWT claims), its bytes
//! hashed to a `u64`.

use std::hash::{BuildHasher, Hasher};

use crate::admit::cel::{CelCompileError, CelInput, RequestExpression};

/// A compiled hash-key expression.
#[derive(Debug)]
pub struct HashKey {
    expression: RequestExpression,
}

/// A hash-key expression that does not compile.
#[derive(Debug, thiserror::Error)]
#[error("balance hash({source_text}) does not compile: {message}")]
pub struct HashKeyError {
    /// The CEL source.
    pub source_text: String,
    /// The compiler's message.
    pub message: String,
}

impl HashKey {
    /// Compiles the CEL source.
    pub fn compile(source: &str) -> Result<HashKey, HashKeyError> {
        let expression =
            RequestExpression::compile(source).map_err(|e: CelCompileError| HashKeyError {
                source_text: source.to_string(),
                message: e.to_string(),
            })?;
        Ok(HashKey { expression })
    }

    /// The CEL source.
    pub fn source(&self) -> &str {
        self.expression.source()
    }

    /// Evaluates the key over `input` and hashes it; `None` when there is no key (a missing
    /// header, `null`, an evaluation error), in which case the caller balances without it.
    pub fn hash(&self, input: CelInput<'_>) -> Option<u64> {
        self.expression
            .with_bytes(input, |bytes| {
                bytes.map(|bytes| {
                    let mut hasher =
                        foldhash::fast::FixedState::with_seed(0x6d65_7368).build_hasher();
                    hasher.write(bytes);
                    hasher.finish()
                })
            })
            .ok()
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admit::RequestFacts;
    use http::{HeaderMap, HeaderValue, Method};

    fn hash(key: &HashKey, headers: &HeaderMap) -> Option<u64> {
        let facts = RequestFacts::new(&Method::GET, "/a", headers, "127.0.0.1:1".parse().unwrap());
        key.hash(CelInput::request(&facts))
    }

    #[test]
    fn the_same_header_value_hashes_the_same_and_another_differently() {
        let key = HashKey::compile(r#"request.headers["x-user"]"#).unwrap();
        let mut a = HeaderMap::new();
        a.insert("x-user", HeaderValue::from_static("alice"));
        let mut b = HeaderMap::new();
        b.insert("x-user", HeaderValue::from_static("bob"));
        assert_eq!(hash(&key, &a), hash(&key, &a));
        assert_ne!(hash(&key, &a), hash(&key, &b));
    }

    #[test]
    fn a_missing_header_gives_no_key() {
        let key = HashKey::compile(r#"request.headers["x-user"]"#).unwrap();
        assert_eq!(hash(&key, &HeaderMap::new()), None);
    }

    #[test]
    fn a_malformed_expression_is_a_load_error() {
        assert!(HashKey::compile("request.headers[").is_err());
    }
}
