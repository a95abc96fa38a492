//! A stream's output against its destination topic's schema (E0513, E0514, W0410). What is
//! decided: a `value {…}` map literal's keys against the schema's properties and `required`, and
//! its literal and `event.value.…` entries against the property types; a record passed through
//! unchanged from a topic with the same schema. Everything else is flagged, not guessed.

use cel::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue, SourceInfo};
use serde_json::Value;

use crate::diagnostics::Diagnostic;
use crate::source::{SourceMap, Span};
use crate::syntax::ast;
use crate::topic_schema::shape::{self, Child};
use crate::topic_schema::LoadedSchema;

crate::diagnostics::codes::codes! {
    /// A stream's output map has a key the destination schema does not have, or a value of a
    /// type it does not allow.
    OUTPUT_BREAKS_SCHEMA = "E0513", "stream output breaks the destination schema",
        "The stream writes `value {…}` to a topic whose JSON Schema lists its properties, and the map has a key the schema does not list (the object is closed or lists every property it allows), or an entry whose type the schema visibly refuses (a literal, or a field of the source record whose own schema gives it another type). Every record republished would break the destination's contract.",
        "Rename the key or change the entry to what the destination schema says, or change that schema.",
        "topic \"red-alerts\" { schema \"alert.schema.json\" }\nstream s { from topic \"log\" to topic \"red-alerts\" value {\"alrt\": event.value} }";
    /// A stream's output map lacks a property the destination schema requires.
    OUTPUT_MISSING_REQUIRED = "E0514", "stream output misses a required property",
        "The stream writes `value {…}` to a topic whose JSON Schema requires properties the map does not have: no record the stream writes could satisfy it.",
        "Add the property to the map, or drop it from the schema's `required`.",
        "topic \"red-alerts\" { schema \"alert.schema.json\" }   # required: [\"alert\", \"ship\"]\nstream s { from topic \"log\" to topic \"red-alerts\" value {\"alert\": event.value} }";
    /// The compiler cannot decide that a stream's output satisfies the destination schema.
    OUTPUT_UNDECIDED = "W0410", "stream output not proven against the destination schema",
        "The stream writes to a topic with a JSON Schema, but its output is not something the compiler can check: a computed `value` expression, or records passed through unchanged from a topic with no schema or another one. meshd does not validate stream outputs on the way out, so records that break the destination's contract could be written.",
        "Give the source topic the same schema, or write the output as a `value {…}` map the compiler can check.",
        "topic \"red-alerts\" { schema \"alert.schema.json\" }\nstream s { from topic \"log\" to topic \"red-alerts\" }";
}

/// What a stream writes: its `to` statement and the schemas of both ends.
pub struct Output<'a> {
    pub stream: &'a ast::Stream,
    pub destination: &'a str,
    pub destination_schema: &'a LoadedSchema,
    pub to_span: Span,
    pub source: Option<(&'a str, &'a LoadedSchema)>,
    /// The `value` expression and its parse, when written.
    pub value: Option<(&'a ast::Cel, &'a IdedExpr, &'a SourceInfo)>,
}

/// Checks one stream output.
pub fn check(sources: &SourceMap, output: &Output<'_>) -> Vec<Diagnostic> {
    let place = |pointer: &str| {
        let span = output.destination_schema.span_of(sources, pointer);
        let at = sources.line_col(span);
        format!("{}:{}:{}", sources.file(span.file).path, at.line, at.column)
    };
    let Some((cel, expression, info)) = output.value else {
        let same = output
            .source
            .is_some_and(|(_, schema)| schema.document == output.destination_schema.document);
        if same {
            return Vec::new();
        }
        let why = match output.source {
            None => "its records pass through unchanged from a topic with no schema".to_string(),
            Some((topic, _)) => {
                format!("its records pass through unchanged from \"{topic}\", whose schema differs")
            }
        };
        return vec![undecided(output, output.to_span, &why, &place(""))];
    };
    let Expr::Map(map) = &expression.expr else {
        return vec![undecided(
            output,
            cel.span,
            "its `value` is computed, not a `{…}` map",
            &place(""),
        )];
    };
    let document = &output.destination_schema.document;
    let mut out = Vec::new();
    let mut keys = Vec::new();
    for entry in &map.entries {
        let EntryExpr::MapEntry(entry) = &entry.expr else {
            continue;
        };
        let Expr::Literal(LiteralValue::String(key)) = &entry.key.expr else {
            return vec![undecided(
                output,
                cel.span,
                "a key of its `value` map is computed",
                &place(""),
            )];
        };
        let key = key.inner().to_owned();
        let key_span = span_in(cel, info, entry.key.id);
        match shape::child(document, "", &key) {
            Child::Missing { properties, known } => out.push(
                Diagnostic::error(
                    &OUTPUT_BREAKS_SCHEMA,
                    format!("stream `{}` writes key \"{key}\", which the schema of topic \"{}\" does not have", output.stream.name.node, output.destination),
                )
                .with_label(key_span, "not a property of the destination")
                .with_help(format!("{} lists {}", place(&properties), known.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", "))),
            ),
            Child::Known(pointer) => {
                if let Some((ty, what)) = entry_type(&entry.value, output.source) {
                    let allowed = shape::types(document, &pointer);
                    let numeric = |t: &str| matches!(t, "integer" | "number");
                    let fits = allowed.is_empty()
                        || allowed.iter().any(|a| *a == ty || (numeric(a) && numeric(ty)) || (*a == "number" && ty == "integer"));
                    if !fits {
                        out.push(
                            Diagnostic::error(
                                &OUTPUT_BREAKS_SCHEMA,
                                format!("stream `{}` writes \"{key}\" as {what} {ty}; the schema of topic \"{}\" wants {}", output.stream.name.node, output.destination, allowed.join(" or ")),
                            )
                            .with_label(key_span, format!("written from {what} {ty}"))
                            .with_help(format!("{} declares \"{key}\"", place(&pointer))),
                        );
                    }
                }
            }
            Child::Open => {}
        }
        keys.push(key);
    }
    if let Some(required) = document.get("required").and_then(Value::as_array) {
        let missing: Vec<&str> = required
            .iter()
            .filter_map(Value::as_str)
            .filter(|name| !keys.iter().any(|k| k == name))
            .collect();
        if !missing.is_empty() {
            out.push(
                Diagnostic::error(
                    &OUTPUT_MISSING_REQUIRED,
                    format!(
                        "stream `{}` writes records without {} that topic \"{}\" requires",
                        output.stream.name.node,
                        missing
                            .iter()
                            .map(|m| format!("\"{m}\""))
                            .collect::<Vec<_>>()
                            .join(", "),
                        output.destination
                    ),
                )
                .with_label(cel.span, "this map")
                .with_help(format!("{} requires them", place("/required"))),
            );
        }
    }
    out
}

/// The JSON type of a map entry when visible: a literal, or a field of the source record whose
/// schema gives it one type.
fn entry_type(
    value: &IdedExpr,
    source: Option<(&str, &LoadedSchema)>,
) -> Option<(&'static str, &'static str)> {
    if let Expr::Literal(literal) = &value.expr {
        let ty = match literal {
            LiteralValue::Boolean(_) => "boolean",
            LiteralValue::Double(_) => "number",
            LiteralValue::Int(_) | LiteralValue::UInt(_) => "integer",
            LiteralValue::Null => "null",
            LiteralValue::String(_) => "string",
            LiteralValue::Bytes(_) => return None,
        };
        return Some((ty, "a literal"));
    }
    let (_, schema) = source?;
    let mut fields = Vec::new();
    let mut at = value;
    loop {
        match &at.expr {
            Expr::Select(select) if !select.test => {
                if let Expr::Ident(root) = &select.operand.expr {
                    if root == "event" && select.field == "value" {
                        break;
                    }
                    return None;
                }
                fields.push(select.field.as_str());
                at = &select.operand;
            }
            _ => return None,
        }
    }
    let mut pointer = String::new();
    for field in fields.iter().rev() {
        match shape::child(&schema.document, &pointer, field) {
            Child::Known(next) => pointer = next,
            _ => return None,
        }
    }
    match shape::types(&schema.document, &pointer).as_slice() {
        [one] => Some((one, "the source field, of type")),
        _ => None,
    }
}

fn undecided(output: &Output<'_>, span: Span, why: &str, schema_at: &str) -> Diagnostic {
    Diagnostic::warning(
        &OUTPUT_UNDECIDED,
        format!(
            "stream `{}` writes to topic \"{}\", whose schema its output is not proven to satisfy",
            output.stream.name.node, output.destination
        ),
    )
    .with_label(span, why.to_string())
    .with_help(format!(
        "the destination's schema is {schema_at}; give the source topic the same schema or write `value {{…}}` with its properties"
    ))
}

fn span_in(cel: &ast::Cel, info: &SourceInfo, id: u64) -> Span {
    let (start, stop) = info.offset_for(id).unwrap_or((0, 0));
    let len = cel.source.len();
    let base = cel.span.start as usize;
    let start = (start as usize).min(len);
    let end = (stop as usize + 1).max(start).min(len);
    Span::new(cel.span.file, base + start, base + end)
}
