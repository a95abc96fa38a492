//! The key of `balance hash(<CEL>)`: a CEL expression over `request.*`, compiled at load and
//! evaluated per request, hashed to a `u64`.
//!
//! TEMPORARY wiring: helper "admit" provides the compiled request-CEL type shared with `when`
//! conditions; once it lands this module delegates to it. Until then it compiles with the same
//! `cel` crate and builds the same `request` variables.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use cel::{Context, Program, Value};

use super::request_view::RequestView;

/// A compiled hash-key expression.
#[derive(Debug)]
pub struct HashKey {
    source: String,
    program: Program,
}

/// A hash-key expression that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("balance hash({source_text}) does not parse: {message}")]
pub struct HashKeyError {
    /// The CEL source.
    pub source_text: String,
    /// The parser's message.
    pub message: String,
}

impl HashKey {
    /// Compiles the CEL source.
    pub fn compile(source: &str) -> Result<HashKey, HashKeyError> {
        let program = Program::compile(source).map_err(|e| HashKeyError {
            source_text: source.to_string(),
            message: e.to_string(),
        })?;
        Ok(HashKey {
            source: source.to_string(),
            program,
        })
    }

    /// The CEL source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the key for `request` and hashes it; `None` when evaluation fails (for example a
    /// missing header), in which case the caller balances without the key.
    pub fn hash(&self, request: &RequestView<'_>) -> Option<u64> {
        let mut context = Context::default();
        context.add_variable_from_value("request", request_value(request));
        let value = self.program.execute(&context).ok()?;
        let mut hasher = foldhash::fast::FixedState::with_seed(0x6d65_7368).build_hasher();
        match value {
            Value::String(s) => hasher.write(s.as_bytes()),
            Value::Bytes(b) => hasher.write(&b),
            Value::Int(i) => hasher.write_i64(i),
            Value::UInt(u) => hasher.write_u64(u),
            Value::Bool(b) => hasher.write_u8(u8::from(b)),
            Value::Null => return None,
            other => hasher.write(format!("{other:?}").as_bytes()),
        }
        Some(hasher.finish())
    }
}

/// `request` as a CEL map: method, path, host, headers (lower-case names, first value), query
/// (first value per name) and remote_addr (the IP).
fn request_value(request: &RequestView<'_>) -> Value {
    let mut headers: HashMap<String, Value> = HashMap::new();
    for (name, value) in request.headers {
        if let Ok(text) = value.to_str() {
            headers
                .entry(name.as_str().to_string())
                .or_insert_with(|| Value::from(text));
        }
    }
    let mut query: HashMap<String, Value> = HashMap::new();
    for pair in request.query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        query
            .entry(name.to_string())
            .or_insert_with(|| Value::from(value));
    }
    let mut fields: HashMap<String, Value> = HashMap::new();
    fields.insert("method".into(), Value::from(request.method.as_str()));
    fields.insert("path".into(), Value::from(request.path));
    fields.insert("host".into(), Value::from(request.host));
    fields.insert("headers".into(), Value::from(headers));
    fields.insert("query".into(), Value::from(query));
    fields.insert(
        "remote_addr".into(),
        Value::from(request.remote_addr.ip().to_string()),
    );
    Value::from(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue, Method};

    fn view<'a>(headers: &'a HeaderMap) -> RequestView<'a> {
        RequestView {
            method: &Method::GET,
            path: "/a",
            host: "h",
            query: "",
            headers,
            remote_addr: "127.0.0.1:1".parse().unwrap(),
        }
    }

    #[test]
    fn the_same_header_value_hashes_the_same_and_another_differently() {
        let key = HashKey::compile(r#"request.headers["x-user"]"#).unwrap();
        let mut a = HeaderMap::new();
        a.insert("x-user", HeaderValue::from_static("alice"));
        let mut b = HeaderMap::new();
        b.insert("x-user", HeaderValue::from_static("bob"));
        assert_eq!(key.hash(&view(&a)), key.hash(&view(&a)));
        assert_ne!(key.hash(&view(&a)), key.hash(&view(&b)));
    }

    #[test]
    fn a_missing_header_gives_no_key() {
        let key = HashKey::compile(r#"request.headers["x-user"]"#).unwrap();
        assert_eq!(key.hash(&view(&HeaderMap::new())), None);
    }

    #[test]
    fn a_malformed_expression_is_a_load_error() {
        assert!(HashKey::compile("request.headers[").is_err());
    }
}
