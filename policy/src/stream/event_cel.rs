//! CEL over Kafka records: `event.{topic, partition, offset, key, value, headers, timestamp}`.
//!
//! Expressions are compiled once per stream. Per record, only the fields the stream's expressions
//! mention are built, borrowing from the record wherever possible, so a filter on the key never
//! parses the value.
//!
//! Types: `topic` string; `partition`, `offset` int; `key` string (bytes when not UTF-8) or null;
//! `value` the parsed JSON when it parses, else string (bytes when not UTF-8), null when absent;
//! `headers` a map of string to string (bytes when not UTF-8); `timestamp` int milliseconds since
//! the Unix epoch, or null.

use std::collections::HashMap;

use cel::common::ast::{EntryExpr, Expr};
use cel::common::types::{CelBool, CelInt, CelMap, CelMapKey, CelNull, CelString};
use cel::{Context, IdedExpr, Program, Value};

use super::json_cel::{parse_json, record_bytes, text_or_bytes, BoxedVal};

/// The name of the one variable stream expressions see.
pub const EVENT: &str = "event";

/// A set of `event` fields an expression reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventFields(u8);

impl EventFields {
    /// `event.topic`.
    pub const TOPIC: EventFields = EventFields(1);
    /// `event.partition`.
    pub const PARTITION: EventFields = EventFields(1 << 1);
    /// `event.offset`.
    pub const OFFSET: EventFields = EventFields(1 << 2);
    /// `event.key`.
    pub const KEY: EventFields = EventFields(1 << 3);
    /// `event.value`.
    pub const VALUE: EventFields = EventFields(1 << 4);
    /// `event.headers`.
    pub const HEADERS: EventFields = EventFields(1 << 5);
    /// `event.timestamp`.
    pub const TIMESTAMP: EventFields = EventFields(1 << 6);
    /// Every field (`event` used as a whole, or indexed dynamically).
    pub const ALL: EventFields = EventFields(0x7f);

    /// Whether every field of `other` is in `self`.
    pub fn contains(self, other: EventFields) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets together.
    pub fn union(self, other: EventFields) -> EventFields {
        EventFields(self.0 | other.0)
    }

    fn named(field: &str) -> EventFields {
        match field {
            "topic" => Self::TOPIC,
            "partition" => Self::PARTITION,
            "offset" => Self::OFFSET,
            "key" => Self::KEY,
            "value" => Self::VALUE,
            "headers" => Self::HEADERS,
            "timestamp" => Self::TIMESTAMP,
            // An unknown field is an evaluation error either way; building nothing extra is fine.
            _ => EventFields(0),
        }
    }
}

/// Why a stream expression does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CEL expression `{source_text}` does not parse: {message}")]
pub struct EventCelError {
    /// The expression as written.
    pub source_text: String,
    /// The parser's explanation.
    pub message: String,
}

/// A compiled expression over `event`.
pub struct EventExpression {
    program: Program,
    source: String,
    fields: EventFields,
}

impl std::fmt::Debug for EventExpression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventExpression")
            .field("source", &self.source)
            .field("fields", &self.fields)
            .finish()
    }
}

impl EventExpression {
    /// Compiles `source` and works out which `event` fields it reads.
    pub fn compile(source: &str) -> Result<Self, EventCelError> {
        crate::cel_scan::check_bounds(source).map_err(|error| EventCelError {
            source_text: source.to_owned(),
            message: error.to_string(),
        })?;
        let program = Program::compile(source).map_err(|errors| EventCelError {
            source_text: source.to_owned(),
            message: errors.to_string(),
        })?;
        let mut fields = EventFields::default();
        collect_fields(program.expression(), &mut fields);
        Ok(EventExpression {
            program,
            source: source.to_owned(),
            fields,
        })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The `event` fields the expression reads.
    pub fn fields(&self) -> EventFields {
        self.fields
    }
}

/// Adds to `fields` what `expr` reads of `event`: `event.<field>` adds that field, any other use
/// of `event` (passed whole, indexed with `[]`) adds all of them.
fn collect_fields(expr: &IdedExpr, fields: &mut EventFields) {
    match &expr.expr {
        Expr::Select(select) => {
            if matches!(&select.operand.expr, Expr::Ident(name) if name == EVENT) {
                *fields = fields.union(EventFields::named(&select.field));
            } else {
                collect_fields(&select.operand, fields);
            }
        }
        Expr::Ident(name) if name == EVENT => *fields = EventFields::ALL,
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                collect_fields(target, fields);
            }
            call.args.iter().for_each(|arg| collect_fields(arg, fields));
        }
        Expr::Comprehension(comprehension) => {
            for part in [
                &comprehension.iter_range,
                &comprehension.accu_init,
                &comprehension.loop_cond,
                &comprehension.loop_step,
                &comprehension.result,
            ] {
                collect_fields(part, fields);
            }
        }
        Expr::List(list) => list
            .elements
            .iter()
            .for_each(|element| collect_fields(element, fields)),
        Expr::Map(map) => map.entries.iter().for_each(|entry| match &entry.expr {
            EntryExpr::MapEntry(entry) => {
                collect_fields(&entry.key, fields);
                collect_fields(&entry.value, fields);
            }
            EntryExpr::StructField(field) => collect_fields(&field.value, fields),
        }),
        Expr::Struct(structure) => structure
            .entries
            .iter()
            .for_each(|entry| match &entry.expr {
                EntryExpr::MapEntry(entry) => {
                    collect_fields(&entry.key, fields);
                    collect_fields(&entry.value, fields);
                }
                EntryExpr::StructField(field) => collect_fields(&field.value, fields),
            }),
    }
}

/// A record's headers, however the consumer holds them (meshd: librdkafka's borrowed headers;
/// `meshc test`: the test's). Read only when an expression reads `event.headers`.
pub trait EventHeaders {
    /// Calls `visit` with every header's name and value (`None` for a null value), in order.
    fn each<'a>(&'a self, visit: &mut dyn FnMut(&'a str, Option<&'a [u8]>));
}

/// One record as stream expressions see it (everything borrowed from the consumer's message).
#[derive(Clone, Copy)]
pub struct RecordView<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
    /// The key, if any.
    pub key: Option<&'a [u8]>,
    /// The value, if any.
    pub value: Option<&'a [u8]>,
    /// The headers, if any.
    pub headers: Option<&'a dyn EventHeaders>,
    /// Milliseconds since the Unix epoch, if the record has a timestamp.
    pub timestamp_ms: Option<i64>,
}

/// Why an expression failed on one record: the reason that goes into the dead-letter headers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The expression reads `event.value` and the value is not JSON.
    #[error("the value is not JSON ({parse_error}); `{expression}` needs it: {cel_error}")]
    InvalidJson {
        /// The failing expression.
        expression: String,
        /// serde_json's explanation.
        parse_error: String,
        /// The CEL error it caused.
        cel_error: String,
    },
    /// The expression failed (a missing field, a type mismatch, …).
    #[error("`{expression}` failed: {cel_error}")]
    Cel {
        /// The failing expression.
        expression: String,
        /// The CEL error.
        cel_error: String,
    },
    /// A condition produced something other than a bool.
    #[error("`{expression}` gave a {kind}, not a bool")]
    NotBool {
        /// The failing expression.
        expression: String,
        /// The CEL type it produced.
        kind: String,
    },
    /// A key or value expression produced something that cannot be written.
    #[error("`{expression}`: {reason}")]
    Output {
        /// The failing expression.
        expression: String,
        /// Why.
        reason: String,
    },
}

impl EventError {
    /// A short, stable name for metrics labels and the dead-letter `reason` header.
    pub fn reason(&self) -> &'static str {
        match self {
            EventError::InvalidJson { .. } => "invalid_json",
            EventError::Cel { .. } | EventError::NotBool { .. } => "cel_error",
            EventError::Output { .. } => "invalid_output",
        }
    }
}

/// The evaluation environment shared by every record of a stream (built once: the standard
/// library's function registry is not free to create).
#[derive(Default)]
pub struct EventEvaluator {
    root: Context<'static, 'static>,
}

impl std::fmt::Debug for EventEvaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventEvaluator")
    }
}

impl EventEvaluator {
    /// Binds `event` for one record, building only `fields`.
    pub fn scope<'a>(&'a self, record: &RecordView<'a>, fields: EventFields) -> EventScope<'a> {
        let mut event: HashMap<CelMapKey<'a>, BoxedVal<'a>> = HashMap::with_capacity(8);
        let mut json_error = None;
        if fields.contains(EventFields::TOPIC) {
            event.insert("topic".into(), Box::new(CelString::from(record.topic)));
        }
        if fields.contains(EventFields::PARTITION) {
            event.insert(
                "partition".into(),
                Box::new(CelInt::from(i64::from(record.partition))),
            );
        }
        if fields.contains(EventFields::OFFSET) {
            event.insert("offset".into(), Box::new(CelInt::from(record.offset)));
        }
        if fields.contains(EventFields::KEY) {
            event.insert("key".into(), optional_bytes(record.key));
        }
        if fields.contains(EventFields::VALUE) {
            let value = match record.value {
                None => Box::new(CelNull) as BoxedVal<'a>,
                Some(bytes) => match parse_json(bytes) {
                    Ok(parsed) => parsed,
                    Err(error) => {
                        json_error = Some(error.to_string());
                        text_or_bytes(bytes)
                    }
                },
            };
            event.insert("value".into(), value);
        }
        if fields.contains(EventFields::HEADERS) {
            event.insert("headers".into(), headers_map(record.headers));
        }
        if fields.contains(EventFields::TIMESTAMP) {
            let timestamp: BoxedVal<'a> = match record.timestamp_ms {
                Some(millis) => Box::new(CelInt::from(millis)),
                None => Box::new(CelNull),
            };
            event.insert("timestamp".into(), timestamp);
        }
        let mut context = self.root.new_inner_scope();
        context.add_variable_as_val(EVENT, Box::new(CelMap::from(event)));
        EventScope {
            context,
            json_error,
        }
    }
}

fn optional_bytes(bytes: Option<&[u8]>) -> BoxedVal<'_> {
    match bytes {
        Some(bytes) => text_or_bytes(bytes),
        None => Box::new(CelNull),
    }
}

fn headers_map<'a>(headers: Option<&'a dyn EventHeaders>) -> BoxedVal<'a> {
    let mut map: HashMap<CelMapKey<'a>, BoxedVal<'a>> = HashMap::new();
    if let Some(headers) = headers {
        headers.each(&mut |key, value| {
            map.insert(CelMapKey::from(key), optional_bytes(value));
        });
    }
    Box::new(CelMap::from(map))
}

/// `event` bound for one record; evaluate any number of the stream's expressions in it.
pub struct EventScope<'a> {
    context: Context<'a, 'a>,
    json_error: Option<String>,
}

impl EventScope<'_> {
    /// Evaluates a condition: `true` keeps the record.
    pub fn condition(&self, expression: &EventExpression) -> Result<bool, EventError> {
        let result = Value::resolve_val(expression.program.expression(), &self.context)
            .map_err(|error| self.failure(expression, error))?;
        match result.downcast_ref::<CelBool>() {
            Some(flag) => Ok(*flag.inner()),
            None => Err(EventError::NotBool {
                expression: expression.source.clone(),
                kind: result.get_type().name().to_owned(),
            }),
        }
    }

    /// Evaluates a key or value expression into record bytes (`None` for `null`).
    pub fn bytes(&self, expression: &EventExpression) -> Result<Option<Vec<u8>>, EventError> {
        let result = Value::resolve_val(expression.program.expression(), &self.context)
            .map_err(|error| self.failure(expression, error))?;
        record_bytes(result.as_ref()).map_err(|error| EventError::Output {
            expression: expression.source.clone(),
            reason: error.to_string(),
        })
    }

    /// Whether the record's value failed to parse as JSON (built only when `value` was asked for).
    pub fn value_is_json(&self) -> bool {
        self.json_error.is_none()
    }

    fn failure(&self, expression: &EventExpression, error: cel::ExecutionError) -> EventError {
        match (
            &self.json_error,
            expression.fields.contains(EventFields::VALUE),
        ) {
            (Some(parse_error), true) => EventError::InvalidJson {
                expression: expression.source.clone(),
                parse_error: parse_error.clone(),
                cel_error: error.to_string(),
            },
            _ => EventError::Cel {
                expression: expression.source.clone(),
                cel_error: error.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expression_nested_past_the_bound_is_refused_before_it_is_parsed() {
        let deep = format!(
            "{}event.value.ok{}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        let error = EventExpression::compile(&deep).unwrap_err();
        assert!(error.message.contains("nests deeper than 64"), "{error:?}");
    }

    /// Headers as a list of pairs.
    struct Pairs(Vec<(&'static str, &'static [u8])>);

    impl EventHeaders for Pairs {
        fn each<'a>(&'a self, visit: &mut dyn FnMut(&'a str, Option<&'a [u8]>)) {
            for (name, value) in &self.0 {
                visit(name, Some(value));
            }
        }
    }

    fn record<'a>(value: &'a [u8], headers: Option<&'a dyn EventHeaders>) -> RecordView<'a> {
        RecordView {
            topic: "captains-log",
            partition: 2,
            offset: 41,
            key: Some(b"picard"),
            value: Some(value),
            headers,
            timestamp_ms: Some(1_700_000_000_000),
        }
    }

    fn check(source: &str, value: &[u8]) -> Result<bool, EventError> {
        let expression = EventExpression::compile(source).unwrap();
        let evaluator = EventEvaluator::default();
        let view = record(value, None);
        let scope = evaluator.scope(&view, expression.fields());
        scope.condition(&expression)
    }

    #[test]
    fn fields_are_those_the_expression_reads() {
        let fields = |source| EventExpression::compile(source).unwrap().fields();
        assert_eq!(
            fields(r#"event.value.severity == "red""#),
            EventFields::VALUE
        );
        assert_eq!(
            fields(r#"event.key == "a" && event.headers["x"] == "b""#),
            EventFields::KEY.union(EventFields::HEADERS)
        );
        assert_eq!(fields(r#"event["value"] != null"#), EventFields::ALL);
        assert_eq!(fields("size(event) > 0"), EventFields::ALL);
        assert_eq!(
            fields("[1].exists(x, x == event.offset)"),
            EventFields::OFFSET
        );
        assert_eq!(fields("true"), EventFields::default());
    }

    #[test]
    fn a_condition_on_the_json_value_keeps_matching_records() {
        assert_eq!(
            check(r#"event.value.severity == "red""#, br#"{"severity":"red"}"#),
            Ok(true)
        );
        assert_eq!(
            check(
                r#"event.value.severity == "red""#,
                br#"{"severity":"green"}"#
            ),
            Ok(false)
        );
        assert_eq!(check("event.value.count >= 3", br#"{"count":3}"#), Ok(true));
    }

    #[test]
    fn every_event_field_is_available() {
        let headers = Pairs(vec![("x-ship", b"enterprise")]);
        let expression = EventExpression::compile(
            r#"event.topic == "captains-log" && event.partition == 2 && event.offset == 41
               && event.key == "picard" && event.headers["x-ship"] == "enterprise"
               && event.timestamp == 1700000000000 && event.value == "plain text""#,
        )
        .unwrap();
        let evaluator = EventEvaluator::default();
        let view = record(b"plain text", Some(&headers));
        let scope = evaluator.scope(&view, expression.fields());
        assert_eq!(scope.condition(&expression), Ok(true));
    }

    #[test]
    fn a_value_that_is_not_json_is_reported_as_such_when_the_condition_needs_it() {
        let error = check(r#"event.value.severity == "red""#, b"{not json").unwrap_err();
        assert_eq!(error.reason(), "invalid_json", "{error}");
    }

    #[test]
    fn a_value_that_is_not_json_does_not_matter_when_unread() {
        assert_eq!(check(r#"event.key == "picard""#, b"{not json"), Ok(true));
    }

    #[test]
    fn a_missing_field_is_a_cel_error() {
        let error = check(r#"event.value.severity == "red""#, br#"{"level":1}"#).unwrap_err();
        assert_eq!(error.reason(), "cel_error", "{error}");
    }

    #[test]
    fn a_condition_that_is_not_bool_is_an_error() {
        let error = check("event.offset", b"{}").unwrap_err();
        assert!(matches!(error, EventError::NotBool { .. }), "{error}");
    }

    #[test]
    fn key_and_value_expressions_reshape_the_record() {
        let evaluator = EventEvaluator::default();
        let key = EventExpression::compile("event.value.ship").unwrap();
        let value =
            EventExpression::compile(r#"{"ship": event.value.ship, "offset": event.offset}"#)
                .unwrap();
        let view = record(br#"{"ship":"enterprise","severity":"red"}"#, None);
        let scope = evaluator.scope(&view, key.fields().union(value.fields()));
        assert_eq!(scope.bytes(&key), Ok(Some(b"enterprise".to_vec())));
        assert_eq!(
            scope.bytes(&value),
            Ok(Some(br#"{"offset":41,"ship":"enterprise"}"#.to_vec()))
        );
    }

    #[test]
    fn a_syntax_error_is_refused_at_compile_time() {
        let error = EventExpression::compile("event.value ==").unwrap_err();
        assert_eq!(error.source_text, "event.value ==");
    }
}
