//! Request CEL compiled once at load and evaluated per request: [`RequestCondition`] (a `when`,
//! true or false) and [`RequestExpression`] (a value: a Kafka key, a balance hash input).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};

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
        crate::cel_scan::check_bounds(source).map_err(|e| CelCompileError {
            message: e.to_string(),
        })?;
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

/// A `when` condition: true admits, false or an error refuses. Routes with the same condition
/// text share one compiled condition.
#[derive(Debug)]
pub struct RequestCondition(Arc<ConditionParts>);

#[derive(Debug)]
struct ConditionParts {
    compiled: Compiled,
    plan: ConditionPlan,
}

/// Conditions alive in some state, by source text: a program repeats a few conditions over
/// many routes, and compiling one costs about 40 µs (4 s for 100 000 routes).
static CONDITIONS: LazyLock<Mutex<ConditionCache>> = LazyLock::new(Mutex::default);

#[derive(Default)]
struct ConditionCache {
    by_source: HashMap<String, Weak<ConditionParts>>,
    /// Entries after the last sweep of dead ones; the next sweep runs at twice as many.
    swept_at: usize,
}

impl RequestCondition {
    /// Compiles `source`, or shares the compiled condition of the same text.
    pub fn compile(source: &str) -> Result<Self, CelCompileError> {
        let mut cache = CONDITIONS.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(shared) = cache.by_source.get(source).and_then(Weak::upgrade) {
            return Ok(RequestCondition(shared));
        }
        let compiled = Compiled::compile(source)?;
        let plan = match FastCondition::from_expression(compiled.program.expression()) {
            Some(fast) => ConditionPlan::Fast(fast),
            None => ConditionPlan::Interpreted,
        };
        let condition = Arc::new(ConditionParts { compiled, plan });
        if cache.by_source.len() >= 2 * cache.swept_at.max(64) {
            cache.by_source.retain(|_, weak| weak.strong_count() > 0);
            cache.swept_at = cache.by_source.len();
        }
        cache
            .by_source
            .insert(source.to_string(), Arc::downgrade(&condition));
        Ok(RequestCondition(condition))
    }

    /// The CEL source as written.
    pub fn source(&self) -> &str {
        &self.0.compiled.source
    }

    /// Whether the condition runs without the CEL interpreter (string comparisons of request
    /// fields; see [`super::fast_path`]).
    pub fn is_fast(&self) -> bool {
        matches!(self.0.plan, ConditionPlan::Fast(_))
    }

    /// Whether the expression may read `request.body` (the server must buffer the body first).
    /// Conservative: any mention of `body` counts.
    pub fn reads_body(&self) -> bool {
        self.0.compiled.reads_body
    }

    /// Evaluates the condition.
    pub fn evaluate(&self, input: CelInput<'_>) -> Result<bool, CelEvalError> {
        match &self.0.plan {
            ConditionPlan::Fast(plan) => Ok(plan.evaluate(&input)?),
            ConditionPlan::Interpreted => self.interpret(input),
        }
    }

    /// Evaluates with the interpreter, whatever the plan.
    fn interpret(&self, input: CelInput<'_>) -> Result<bool, CelEvalError> {
        self.0.compiled.evaluate(input, |value| {
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
mod tests;
