//! CEL against topic schemas (E0510–E0512): where an expression reads a record whose topic has a
//! JSON Schema — `event.value` in a stream over that topic, `request.body` in the key of a route
//! producing the raw body to it — a field the schema does not have, a comparison with a literal
//! of a type the schema does not allow, and a literal outside the field's `enum` are errors, with
//! the schema's own location beside the expression's.

use cel::common::ast::{Expr, IdedExpr, LiteralValue, SourceInfo};
use serde_json::{json, Value};

use crate::diagnostics::suggest::closest;
use crate::diagnostics::Diagnostic;
use crate::source::{SourceMap, Span};
use crate::syntax::ast;
use crate::topic_schema::shape::{self, Child};
use crate::topic_schema::LoadedSchema;

crate::diagnostics::codes::codes! {
    /// A CEL expression reads a field the topic's schema does not have.
    UNKNOWN_SCHEMA_FIELD = "E0510", "field not in the topic schema",
        "The record is read as `event.value` (streams) or `request.body` (a produce key of a route writing the raw body), and its topic names a JSON Schema whose object lists its `properties` without this one. Every record that satisfies the schema lacks the field (or, when the object is open, nothing says what it holds), so the expression fails or never matches: usually a misspelt name. Objects that leave fields to `additionalProperties`, `patternProperties` or a combinator are not checked.",
        "Fix the name (the help suggests the closest property), or add the property to the schema.",
        "topic \"captains-log\" { schema \"log.schema.json\" }\nstream s { from topic \"captains-log\" when event.value.severty == \"red\" to topic \"red-alerts\" }";
    /// A comparison between a schema field and a literal of another type.
    SCHEMA_TYPE_MISMATCH = "E0511", "comparison with the wrong type for the schema",
        "The schema gives the field a type (`\"type\": \"number\"`, or the types of its `enum`) and the expression compares it with a literal of another type: `event.value.stardate == \"41153.7\"` never holds (CEL does not convert a string to a number) and fails at run time.",
        "Compare with a literal of the field's type, or convert explicitly.",
        "stream s { from topic \"captains-log\" when event.value.stardate > \"41000\" to topic \"x\" }";
    /// A comparison with a value outside the field's `enum`.
    VALUE_OUTSIDE_ENUM = "E0512", "value outside the schema's enum",
        "The schema limits the field to a set of values (`enum` or `const`), and the expression compares it (`==`, `!=`, `in`) with a literal that is not one of them: the equality can never hold for a record that passed the schema (and an inequality always holds). Usually a misspelt value or a schema that changed.",
        "Use one of the allowed values (the help lists them), or add the value to the schema's `enum`.",
        "stream s { from topic \"captains-log\" when event.value.severity == \"crimson\" to topic \"x\" }";
}

/// Where the record is read in an expression: `event.value` or `request.body`.
#[derive(Debug, Clone, Copy)]
pub struct RecordRoot {
    pub variable: &'static str,
    pub field: &'static str,
}

/// `event.value` in streams.
pub const EVENT_VALUE: RecordRoot = RecordRoot {
    variable: "event",
    field: "value",
};
/// `request.body` in produce keys.
pub const REQUEST_BODY: RecordRoot = RecordRoot {
    variable: "request",
    field: "body",
};

/// Checks `expression` (the parse of `cel`) against `schema`, the record read at `root`.
pub fn check(
    sources: &SourceMap,
    cel: &ast::Cel,
    expression: &IdedExpr,
    info: &SourceInfo,
    root: RecordRoot,
    topic: &str,
    schema: &LoadedSchema,
) -> Vec<Diagnostic> {
    let mut checker = Checker {
        sources,
        cel,
        info,
        root,
        topic,
        schema,
        out: Vec::new(),
    };
    checker.visit(expression);
    checker.out
}

/// One step of a path into the record: the field name and the node that names it.
struct Step<'e> {
    field: String,
    id: u64,
    /// True for `x["field"]` (the span is the literal's), false for `x.field`.
    indexed: Option<&'e IdedExpr>,
}

struct Checker<'a> {
    sources: &'a SourceMap,
    cel: &'a ast::Cel,
    info: &'a SourceInfo,
    root: RecordRoot,
    topic: &'a str,
    schema: &'a LoadedSchema,
    out: Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    fn visit(&mut self, e: &IdedExpr) {
        if let Some(steps) = self.path(e) {
            self.resolve(&steps);
            return;
        }
        match &e.expr {
            Expr::Select(select) => self.visit(&select.operand),
            Expr::Call(call) => {
                if let [left, right] = call.args.as_slice() {
                    self.comparison(e.id, &call.func_name, left, right);
                }
                if let Some(target) = &call.target {
                    self.visit(target);
                }
                for arg in &call.args {
                    self.visit(arg);
                }
            }
            Expr::List(list) => list.elements.iter().for_each(|x| self.visit(x)),
            Expr::Map(map) => {
                for entry in &map.entries {
                    if let cel::common::ast::EntryExpr::MapEntry(m) = &entry.expr {
                        self.visit(&m.key);
                        self.visit(&m.value);
                    }
                }
            }
            Expr::Comprehension(c) => {
                for part in [
                    &c.iter_range,
                    &c.accu_init,
                    &c.loop_cond,
                    &c.loop_step,
                    &c.result,
                ] {
                    self.visit(part);
                }
            }
            _ => {}
        }
    }

    /// The fields read below the record root, if `e` is such a path (`event.value.a.b`,
    /// `event.value["a"]`); an empty path is the record itself.
    fn path<'e>(&self, e: &'e IdedExpr) -> Option<Vec<Step<'e>>> {
        match &e.expr {
            Expr::Select(select) if !select.test => {
                if let Expr::Ident(variable) = &select.operand.expr {
                    return (variable == self.root.variable && select.field == self.root.field)
                        .then(Vec::new);
                }
                let mut steps = self.path(&select.operand)?;
                steps.push(Step {
                    field: select.field.clone(),
                    id: e.id,
                    indexed: None,
                });
                Some(steps)
            }
            Expr::Call(call) if call.func_name == "_[_]" => {
                let [container, key] = call.args.as_slice() else {
                    return None;
                };
                let Expr::Literal(LiteralValue::String(field)) = &key.expr else {
                    return None;
                };
                let mut steps = self.path(container)?;
                steps.push(Step {
                    field: field.inner().to_owned(),
                    id: e.id,
                    indexed: Some(key),
                });
                Some(steps)
            }
            _ => None,
        }
    }

    /// The schema pointer `steps` lead to, reporting the first field the schema does not have.
    fn resolve(&mut self, steps: &[Step<'_>]) -> Option<String> {
        let document = &self.schema.document;
        let mut pointer = String::new();
        for step in steps {
            match shape::child(document, &pointer, &step.field) {
                Child::Known(next) => pointer = next,
                Child::Open => return None,
                Child::Missing { properties, known } => {
                    let span = self.step_span(step);
                    let at = self.schema_place(&properties);
                    let path = self.path_text(steps, step);
                    let mut d = Diagnostic::error(
                        &UNKNOWN_SCHEMA_FIELD,
                        format!(
                            "the schema of topic \"{}\" has no field `{}`",
                            self.topic, step.field
                        ),
                    )
                    .with_label(span, format!("`{path}` is not in the schema"));
                    let listed = known
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    d = match closest(&step.field, known.iter().copied()) {
                        Some(s) => d.with_help(format!("did you mean `{s}`? {at} lists {listed}")),
                        None => d.with_help(format!("{at} lists {listed}")),
                    };
                    self.out.push(d);
                    return None;
                }
            }
        }
        Some(pointer)
    }

    /// `a == literal`, `literal != a`, `a < literal`, `a in [literals]`.
    fn comparison(&mut self, id: u64, function: &str, left: &IdedExpr, right: &IdedExpr) {
        let equality = matches!(function, "_==_" | "_!=_");
        let ordering = matches!(function, "_<_" | "_<=_" | "_>_" | "_>=_");
        let (field, literals) = if function == "@in" {
            let Expr::List(list) = &right.expr else {
                return;
            };
            (left, list.elements.iter().collect::<Vec<_>>())
        } else if equality || ordering {
            match (self.path(left).is_some(), self.path(right).is_some()) {
                (true, false) => (left, vec![right]),
                (false, true) => (right, vec![left]),
                _ => return,
            }
        } else {
            return;
        };
        let Some(steps) = self.path(field) else {
            return;
        };
        if steps.is_empty() {
            return;
        }
        let Some(pointer) = self.resolve_quietly(&steps) else {
            return;
        };
        let document = &self.schema.document;
        let allowed_types = shape::types(document, &pointer);
        let allowed_values = shape::allowed_values(document, &pointer);
        let path = self.path_text(&steps, steps.last().expect("not empty"));
        for literal in literals {
            let Expr::Literal(value) = &literal.expr else {
                continue;
            };
            let Some(value) = literal_json(value) else {
                continue;
            };
            let ty = shape::json_type(&value);
            let span = self
                .node_span(literal.id)
                .unwrap_or_else(|| self.node_span(id).unwrap_or(self.cel.span));
            if !allowed_types.is_empty() && !type_allowed(&allowed_types, ty) {
                let at = self.schema_place(&pointer);
                self.out.push(
                    Diagnostic::error(
                        &SCHEMA_TYPE_MISMATCH,
                        format!(
                            "`{path}` is {} in the schema of topic \"{}\", compared with {}",
                            types_text(&allowed_types),
                            self.topic,
                            article(ty)
                        ),
                    )
                    .with_label(span, format!("{} literal", article(ty)))
                    .with_help(format!(
                        "{at} declares {}; compare with a literal of that type",
                        types_text(&allowed_types)
                    )),
                );
                continue;
            }
            if let (Some(values), false) = (&allowed_values, ordering) {
                if !values.iter().any(|v| same_value(v, &value)) {
                    let at = self.schema_place(&pointer);
                    let listed = values
                        .iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join(", ");
                    let verdict = if function == "_!=_" {
                        "always holds"
                    } else {
                        "never holds"
                    };
                    self.out.push(
                        Diagnostic::error(
                            &VALUE_OUTSIDE_ENUM,
                            format!(
                                "{value} is not a value `{path}` can take in topic \"{}\"",
                                self.topic
                            ),
                        )
                        .with_label(span, format!("not in the enum: the comparison {verdict}"))
                        .with_help(format!("{at} allows {listed}")),
                    );
                }
            }
        }
    }

    /// Like [`Checker::resolve`] without reporting (the field itself is reported by the visit).
    fn resolve_quietly(&self, steps: &[Step<'_>]) -> Option<String> {
        let mut pointer = String::new();
        for step in steps {
            match shape::child(&self.schema.document, &pointer, &step.field) {
                Child::Known(next) => pointer = next,
                _ => return None,
            }
        }
        Some(pointer)
    }

    /// `file:line:col` of `pointer` in the schema file.
    fn schema_place(&self, pointer: &str) -> String {
        let span = self.schema.span_of(self.sources, pointer);
        let at = self.sources.line_col(span);
        format!(
            "{}:{}:{}",
            self.sources.file(span.file).path,
            at.line,
            at.column
        )
    }

    fn path_text(&self, steps: &[Step<'_>], last: &Step<'_>) -> String {
        let mut text = format!("{}.{}", self.root.variable, self.root.field);
        for step in steps {
            text.push('.');
            text.push_str(&step.field);
            if std::ptr::eq(step, last) {
                break;
            }
        }
        text
    }

    fn step_span(&self, step: &Step<'_>) -> Span {
        if let Some(key) = step.indexed {
            return self.node_span(key.id).unwrap_or(self.cel.span);
        }
        let dot = self.info.offset_for(step.id).map_or(0, |(s, _)| s as usize);
        let after = self.cel.source.get(dot + 1..).unwrap_or("");
        let start = dot + 1 + (after.len() - after.trim_start().len());
        self.at(start, start + step.field.len())
    }

    fn node_span(&self, id: u64) -> Option<Span> {
        let (start, stop) = self.info.offset_for(id)?;
        Some(self.at(start as usize, (stop as usize + 1).max(start as usize)))
    }

    fn at(&self, start: usize, end: usize) -> Span {
        let len = self.cel.source.len();
        let base = self.cel.span.start as usize;
        Span::new(
            self.cel.span.file,
            base + start.min(len),
            base + end.min(len),
        )
    }
}

/// A literal as the JSON value it compares with; bytes have no JSON form.
fn literal_json(literal: &LiteralValue) -> Option<Value> {
    Some(match literal {
        LiteralValue::Boolean(b) => json!(**b),
        LiteralValue::Double(d) => json!(**d),
        LiteralValue::Int(i) => json!(**i),
        LiteralValue::UInt(u) => json!(**u),
        LiteralValue::Null => Value::Null,
        LiteralValue::String(s) => json!(s.inner()),
        LiteralValue::Bytes(_) => return None,
    })
}

/// Whether a literal of JSON type `ty` can equal a value of one of `allowed` (numbers compare
/// across integer and number, as CEL compares int and double).
fn type_allowed(allowed: &[&str], ty: &str) -> bool {
    let numeric = |t: &str| matches!(t, "integer" | "number");
    allowed
        .iter()
        .any(|a| *a == ty || (numeric(a) && numeric(ty)) || ty == "null")
}

/// JSON values equal as CEL sees them (1 == 1.0).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn article(ty: &str) -> String {
    match ty {
        "integer" => "an integer".into(),
        "object" => "an object".into(),
        "array" => "an array".into(),
        other => format!("a {other}"),
    }
}

fn types_text(types: &[&str]) -> String {
    types
        .iter()
        .map(|t| article(t))
        .collect::<Vec<_>>()
        .join(" or ")
}
