//! Request CEL compiled once at load and evaluated per request: [`RequestCondition`] (a `when`,
//! true or false) and [`RequestExpression`] (a value: a Kafka key, a balance hash input).

use std::sync::{Arc, LazyLock};

use cel::common::types::{CelBool, CelBytes, CelDouble, CelInt, CelNull, CelString, CelUInt};
use cel::common::value::{CowVal, Val};
use cel::{Context, Env, Program, Value};

use super::activation::{Activation, BodyProblem, CelInput};
use super::fast_path::{FastCondition, StringSource};

/// The one CEL environment of request expressions: the standard library plus the strings
/// extension (`lowerAscii`, `split`, …). Built once per process.
static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    // Registering the crate's own extension on a fresh stdlib cannot conflict; if a future cel
    // release made it conflict, the standard library alone still serves.
    let _ = env.add_extension(cel::extensions::strings);
    Arc::new(env)
});

/// A CEL expression that does not compile.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct CelCompileError {
    /// The parser's message (with line and column inside the expression).
    pub message: String,
}

/// Why an evaluation produced no usable value. Evaluation never panics; the caller turns this
/// into a 403 (a condition) or its own refusal (a key, a hash).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CelEvalError {
    /// CEL itself failed (no such key, no such overload, division by zero…).
    #[error("{0}")]
    Execution(#[from] cel::ExecutionError),
    /// A condition evaluated to something other than a bool.
    #[error("the condition is a {0}, not a bool")]
    NotBool(String),
    /// An expression evaluated to a value that has no bytes (a map, a list).
    #[error("the expression is a {0}, not a string, bytes or number")]
    NotBytes(String),
    /// `request.body` was read but is not available.
    #[error("request.body is not available: the body was not buffered for this expression")]
    BodyNotBuffered,
    /// `request.body` was read but is not JSON.
    #[error("request.body is not JSON: {0}")]
    BodyNotJson(String),
}

/// A compiled request expression with its source.
#[derive(Debug)]
struct Compiled {
    source: String,
    program: Program,
    reads_body: bool,
}

/// How a condition is evaluated.
#[derive(Debug)]
enum ConditionPlan {
    /// Without the interpreter (see [`super::fast_path`]).
    Fast(FastCondition),
    /// By the interpreter.
    Interpreted,
}

impl Compiled {
    fn compile(source: &str) -> Result<Self, CelCompileError> {
        let program = ENV.compile(source).map_err(|e| CelCompileError {
            message: e.to_string().replace('\n', "; "),
        })?;
        Ok(Compiled {
            source: source.to_string(),
            program,
            reads_body: source.contains("body"),
        })
    }

    /// Evaluates against `input` and hands the result to `finish` while the borrowed request
    /// data is still alive (so strings are not copied).
    fn evaluate<R>(
        &self,
        input: CelInput<'_>,
        finish: impl FnOnce(&dyn Val) -> Result<R, CelEvalError>,
    ) -> Result<R, CelEvalError> {
        let activation = Activation::new(input);
        let mut context = Context::with_env(Arc::clone(&ENV));
        context.set_variable_resolver(&activation);
        let result = Value::resolve_val(self.program.expression(), &context);
        match activation.body_problem() {
            Some(BodyProblem::NotBuffered) => return Err(CelEvalError::BodyNotBuffered),
            Some(BodyProblem::NotJson(e)) => return Err(CelEvalError::BodyNotJson(e.clone())),
            None => {}
        }
        let value: CowVal<'_, '_> = result?;
        finish(value.as_ref())
    }
}

/// A `when` condition: true admits, false or an error refuses.
#[derive(Debug)]
pub struct RequestCondition(Compiled, ConditionPlan);

impl RequestCondition {
    /// Compiles `source`.
    pub fn compile(source: &str) -> Result<Self, CelCompileError> {
        let compiled = Compiled::compile(source)?;
        let plan = match FastCondition::from_expression(compiled.program.expression()) {
            Some(fast) => ConditionPlan::Fast(fast),
            None => ConditionPlan::Interpreted,
        };
        Ok(RequestCondition(compiled, plan))
    }

    /// The CEL source as written.
    pub fn source(&self) -> &str {
        &self.0.source
    }

    /// Whether the condition runs without the CEL interpreter (string comparisons of request
    /// fields; see [`super::fast_path`]).
    pub fn is_fast(&self) -> bool {
        matches!(self.1, ConditionPlan::Fast(_))
    }

    /// Whether the expression may read `request.body` (the server must buffer the body first).
    /// Conservative: any mention of `body` counts.
    pub fn reads_body(&self) -> bool {
        self.0.reads_body
    }

    /// Evaluates the condition.
    pub fn evaluate(&self, input: CelInput<'_>) -> Result<bool, CelEvalError> {
        match &self.1 {
            ConditionPlan::Fast(plan) => Ok(plan.evaluate(&input)?),
            ConditionPlan::Interpreted => self.interpret(input),
        }
    }

    /// Evaluates with the interpreter, whatever the plan.
    fn interpret(&self, input: CelInput<'_>) -> Result<bool, CelEvalError> {
        self.0.evaluate(input, |value| {
            value
                .downcast_ref::<CelBool>()
                .map(|b| *b.inner())
                .ok_or_else(|| CelEvalError::NotBool(value.get_type().name().to_owned()))
        })
    }
}

/// A value expression: a Kafka record key, a `balance hash(…)` input.
#[derive(Debug)]
pub struct RequestExpression(Compiled, Option<StringSource>);

impl RequestExpression {
    /// Compiles `source`.
    pub fn compile(source: &str) -> Result<Self, CelCompileError> {
        let compiled = Compiled::compile(source)?;
        let fast = StringSource::from_expression(compiled.program.expression());
        Ok(RequestExpression(compiled, fast))
    }

    /// Whether the expression is a request field read without the CEL interpreter.
    pub fn is_fast(&self) -> bool {
        self.1.is_some()
    }

    /// The CEL source as written.
    pub fn source(&self) -> &str {
        &self.0.source
    }

    /// Whether the expression may read `request.body` (see [`RequestCondition::reads_body`]).
    pub fn reads_body(&self) -> bool {
        self.0.reads_body
    }

    /// Evaluates to an owned CEL value.
    pub fn evaluate(&self, input: CelInput<'_>) -> Result<Value, CelEvalError> {
        if let Some(source) = &self.1 {
            let text = source.read(&input)?;
            return Ok(Value::String(Arc::new(text.into_owned())));
        }
        self.0.evaluate(input, |value| Ok(Value::try_from(value)?))
    }

    /// Evaluates and passes the result's bytes to `use_bytes` without copying them: a string or
    /// bytes as they are, a number or bool as its decimal text, `null` as `None`.
    pub fn with_bytes<R>(
        &self,
        input: CelInput<'_>,
        use_bytes: impl FnOnce(Option<&[u8]>) -> R,
    ) -> Result<R, CelEvalError> {
        if let Some(source) = &self.1 {
            let text = source.read(&input)?;
            return Ok(use_bytes(Some(text.as_bytes())));
        }
        self.interpret_bytes(input, use_bytes)
    }

    /// [`RequestExpression::with_bytes`] by the interpreter, whatever the plan.
    fn interpret_bytes<R>(
        &self,
        input: CelInput<'_>,
        use_bytes: impl FnOnce(Option<&[u8]>) -> R,
    ) -> Result<R, CelEvalError> {
        self.0.evaluate(input, |value| {
            if let Some(s) = value.downcast_ref::<CelString>() {
                return Ok(use_bytes(Some(s.inner().as_bytes())));
            }
            if let Some(b) = value.downcast_ref::<CelBytes>() {
                return Ok(use_bytes(Some(b.inner())));
            }
            if value.downcast_ref::<CelNull>().is_some() {
                return Ok(use_bytes(None));
            }
            let text = if let Some(i) = value.downcast_ref::<CelInt>() {
                i.inner().to_string()
            } else if let Some(u) = value.downcast_ref::<CelUInt>() {
                u.inner().to_string()
            } else if let Some(d) = value.downcast_ref::<CelDouble>() {
                d.inner().to_string()
            } else if let Some(b) = value.downcast_ref::<CelBool>() {
                b.inner().to_string()
            } else {
                return Err(CelEvalError::NotBytes(value.get_type().name().to_owned()));
            };
            Ok(use_bytes(Some(text.as_bytes())))
        })
    }

    /// Evaluates to owned bytes (`None` for `null`); see [`RequestExpression::with_bytes`].
    pub fn evaluate_bytes(&self, input: CelInput<'_>) -> Result<Option<Vec<u8>>, CelEvalError> {
        self.with_bytes(input, |bytes| bytes.map(<[u8]>::to_vec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admit::consumers::ConsumerDirectory;
    use crate::admit::facts::RequestFacts;
    use crate::admit::JwtClaims;
    use crate::load::secrets::SecretStore;
    use http::{HeaderMap, HeaderValue, Method};
    use meshwork_bundle::{Consumer, Credential, Gateway, SourceLocation};

    fn headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-stardate", HeaderValue::from_static("47457.1"));
        headers.insert("host", HeaderValue::from_static("api.starfleet.test:8080"));
        headers.append("x-crew", HeaderValue::from_static("data"));
        headers.append("x-crew", HeaderValue::from_static("worf"));
        headers
    }

    const PARAMS: &[(&str, &str)] = &[("id", "1701"), ("deck", "7")];

    fn facts(headers: &HeaderMap) -> RequestFacts<'_> {
        RequestFacts::new(
            &Method::POST,
            "/officers/1701",
            headers,
            "10.1.2.3:5555".parse().unwrap(),
        )
        .with_query(Some("v=2&who=jean%20luc&v=3"))
        .with_params(PARAMS)
    }

    fn condition(source: &str, input: CelInput<'_>) -> Result<bool, CelEvalError> {
        RequestCondition::compile(source).unwrap().evaluate(input)
    }

    fn holds(source: &str) -> bool {
        let headers = headers();
        let facts = facts(&headers);
        condition(source, CelInput::request(&facts)).unwrap_or_else(|e| panic!("{source}: {e}"))
    }

    #[test]
    fn request_variables_read_the_request() {
        assert!(holds(r#"request.headers["x-stardate"] != """#));
        assert!(holds(r#"request.headers["X-Stardate"] == "47457.1""#));
        assert!(holds(r#"request.headers["x-crew"] == "data, worf""#));
        assert!(holds(
            r#"request.method == "POST" && request.path.startsWith("/officers/")"#
        ));
        assert!(holds(r#"request.host == "api.starfleet.test""#));
        assert!(holds(r#"request.remote_addr == "10.1.2.3""#));
        assert!(holds(
            r#"request.query.v == "2" && request.query["who"] == "jean luc""#
        ));
        assert!(holds(
            r#"request.params.id == "1701" && int(request.params.deck) > 5"#
        ));
        assert!(!holds(r#"request.method == "GET""#));
    }

    #[test]
    fn lazy_maps_support_in_has_size_and_comprehensions() {
        assert!(holds(r#""x-stardate" in request.headers"#));
        assert!(!holds(r#""x-missing" in request.headers"#));
        assert!(holds(
            r#"has(request.headers.host) && !has(request.headers.nope)"#
        ));
        assert!(holds(
            r#"size(request.params) == 2 && size(request.query) == 2"#
        ));
        assert!(holds(r#"request.params.exists(k, k == "deck")"#));
        assert!(holds(r#"request.headers.all(k, k == k.lowerAscii())"#));
        assert!(holds(
            r#"request["path"] == "/officers/1701" && has(request.method)"#
        ));
    }

    #[test]
    fn consumer_and_claims_are_visible_when_known() {
        let source = SourceLocation {
            file: "edge.mesh".into(),
            line: 1,
            column: 1,
        };
        let gateway = Gateway {
            name: "edge".into(),
            listeners: Vec::new(),
            consumers: vec![Consumer {
                name: "picard".into(),
                credentials: vec![Credential::Jwt {
                    subject: "jl".into(),
                }],
                groups: vec!["captains".into()],
                source: source.clone(),
            }],
            routes: Vec::new(),
            source,
        };
        let directory = ConsumerDirectory::build(&gateway, &SecretStore::new()).unwrap();
        let claims = JwtClaims::new(
            serde_json::json!({"sub": "jl", "rank": 4, "ships": ["enterprise"]})
                .as_object()
                .unwrap()
                .clone(),
        );
        let headers = headers();
        let facts = facts(&headers);
        let input = CelInput {
            facts: &facts,
            consumer: directory.by_name("picard"),
            claims: Some(&claims),
        };
        let source = r#"consumer.name == "picard" && "captains" in consumer.groups
            && jwt.claims.rank >= 4 && "enterprise" in jwt.claims.ships"#;
        assert_eq!(condition(source, input), Ok(true));
        let anonymous = CelInput::request(&facts);
        assert_eq!(
            condition(
                r#"consumer.name == "" && size(consumer.groups) == 0 && size(jwt.claims) == 0"#,
                anonymous
            ),
            Ok(true)
        );
    }

    #[test]
    fn evaluation_errors_are_errors_not_panics() {
        let headers = headers();
        let facts = facts(&headers);
        let input = CelInput::request(&facts);
        let missing = condition(r#"request.headers["x-missing"] == "1""#, input).unwrap_err();
        assert!(missing.to_string().contains("x-missing"), "{missing}");
        assert_eq!(
            condition(r#"request.path"#, input),
            Err(CelEvalError::NotBool("string".into()))
        );
        assert!(condition("1 / 0 == 1", input).is_err());
        assert!(condition("nobody.knows", input).is_err());
        assert!(condition(r#"request.headers["not a header name\n"] == """#, input).is_err());
        assert!(condition(r#"request.headers[1] == """#, input).is_err());
        assert!(RequestCondition::compile("1 + ").is_err());
    }

    #[test]
    fn body_is_parsed_as_json_only_when_read() {
        let headers = headers();
        let body = br#"{"severity": "red", "ship": {"name": "enterprise"}}"#;
        let with_body = facts(&headers).with_body(Some(body));
        let input = CelInput::request(&with_body);
        assert_eq!(
            condition(
                r#"request.body.severity == "red" && request.body.ship.name == "enterprise""#,
                input
            ),
            Ok(true)
        );
        let not_json = facts(&headers).with_body(Some(b"red alert"));
        assert!(matches!(
            condition(
                r#"request.body.severity == "red""#,
                CelInput::request(&not_json)
            ),
            Err(CelEvalError::BodyNotJson(_))
        ));
        assert_eq!(
            condition(r#"request.method == "POST""#, CelInput::request(&not_json)),
            Ok(true),
            "a body nobody reads is never parsed"
        );
        let unbuffered = facts(&headers);
        assert_eq!(
            condition(
                r#"request.body.severity == "red""#,
                CelInput::request(&unbuffered)
            ),
            Err(CelEvalError::BodyNotBuffered)
        );
        assert!(RequestCondition::compile("request.body.x == 1")
            .unwrap()
            .reads_body());
        assert!(!RequestCondition::compile("request.path == '/'")
            .unwrap()
            .reads_body());
    }

    #[test]
    fn expressions_give_key_bytes() {
        let headers = headers();
        let body = br#"{"ship": "enterprise", "deck": 7}"#;
        let facts = facts(&headers).with_body(Some(body));
        let input = CelInput::request(&facts);
        let bytes = |source: &str| {
            RequestExpression::compile(source)
                .unwrap()
                .evaluate_bytes(input)
        };
        assert_eq!(
            bytes(r#"request.headers["x-stardate"]"#),
            Ok(Some(b"47457.1".to_vec()))
        );
        assert_eq!(bytes("request.params.id"), Ok(Some(b"1701".to_vec())));
        assert_eq!(bytes("request.body.ship"), Ok(Some(b"enterprise".to_vec())));
        assert_eq!(bytes("request.body.deck"), Ok(Some(b"7".to_vec())));
        assert_eq!(bytes("b'raw'"), Ok(Some(b"raw".to_vec())));
        assert_eq!(bytes("null"), Ok(None));
        assert_eq!(bytes("{'a': 1}"), Err(CelEvalError::NotBytes("map".into())));
        let expression = RequestExpression::compile("request.path").unwrap();
        assert_eq!(
            expression.evaluate(input),
            Ok(cel::Value::String(Arc::new("/officers/1701".into())))
        );
        let length = expression
            .with_bytes(input, |b| b.map(<[u8]>::len))
            .unwrap();
        assert_eq!(length, Some(14));
    }

    /// Requests the differential tests run every expression against.
    fn requests() -> Vec<(HeaderMap, Option<&'static str>)> {
        let mut with_everything = headers();
        with_everything.insert("x-bytes", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        vec![
            (with_everything, Some("v=2&who=jean%20luc&empty=")),
            (HeaderMap::new(), None),
            (
                {
                    let mut h = HeaderMap::new();
                    h.insert("x-stardate", HeaderValue::from_static(""));
                    h
                },
                Some("v=3"),
            ),
        ]
    }

    const DIFFERENTIAL: &[&str] = &[
        r#"request.headers["x-stardate"] != """#,
        r#"request.headers["X-Stardate"] == "47457.1""#,
        r#"request.headers.host == "api.starfleet.test:8080""#,
        r#""47457.1" == request.headers["x-stardate"]"#,
        r#"request.headers["x-crew"] == "data, worf""#,
        r#"request.headers["x-bytes"] == "caf\ufffd""#,
        r#"request.method == "POST" && request.path == "/officers/1701""#,
        r#"request.headers["x-missing"] == "1" && request.method == "GET""#,
        r#"request.method == "GET" && request.headers["x-missing"] == "1""#,
        r#"request.headers["x-missing"] == "1" || request.method == "POST""#,
        r#"request.method == "POST" || request.headers["x-missing"] == "1""#,
        r#"request.headers["x-missing"] == "1" || request.headers["x-other"] == "1""#,
        r#"!(request.host == "api.starfleet.test")"#,
        r#"request.query.v == "2" && request.query["who"] == "jean luc""#,
        r#"request.query["empty"] == """#,
        r#"request.params.id == "1701" || request.params["nope"] == "x""#,
        r#"consumer.name == """#,
    ];

    #[test]
    fn fast_conditions_agree_with_the_interpreter() {
        for source in DIFFERENTIAL {
            let condition = RequestCondition::compile(source).unwrap();
            assert!(condition.is_fast(), "{source} should take the fast path");
            for (headers, query) in requests() {
                let facts = facts(&headers).with_query(query);
                let input = CelInput::request(&facts);
                let fast = condition.evaluate(input).map_err(|e| e.to_string());
                let interpreted = condition.interpret(input).map_err(|e| e.to_string());
                assert_eq!(fast, interpreted, "{source} on {headers:?} {query:?}");
            }
        }
    }

    #[test]
    fn other_shapes_are_left_to_the_interpreter() {
        for source in [
            r#"request.headers["x"].startsWith("a")"#,
            r#"size(request.path) > 1"#,
            r#"request.headers[request.path] == "x""#,
            r#"has(request.headers.x)"#,
            r#"request.body.x == "1""#,
            r#""a" == "a""#,
            r#"request.headers["x"] == 1"#,
        ] {
            assert!(
                !RequestCondition::compile(source).unwrap().is_fast(),
                "{source}"
            );
        }
    }

    #[test]
    fn fast_keys_agree_with_the_interpreter() {
        for source in [
            r#"request.headers["x-stardate"]"#,
            r#"request.headers["x-missing"]"#,
            "request.params.id",
            r#"request.query["who"]"#,
            "request.method",
            "consumer.name",
        ] {
            let expression = RequestExpression::compile(source).unwrap();
            assert!(expression.is_fast(), "{source}");
            for (headers, query) in requests() {
                let facts = facts(&headers).with_query(query);
                let input = CelInput::request(&facts);
                let own = |b: Option<&[u8]>| b.map(<[u8]>::to_vec);
                let fast = expression.with_bytes(input, own).map_err(|e| e.to_string());
                let interpreted = expression
                    .interpret_bytes(input, own)
                    .map_err(|e| e.to_string());
                assert_eq!(fast, interpreted, "{source} on {headers:?}");
            }
        }
    }
}
