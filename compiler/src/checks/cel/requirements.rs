//! What a route condition requires of the request, where the compiler can decide it: the
//! conjuncts of a `when` (`a && b && …`) that constrain the method, a header or a query parameter
//! to a value, a set of values, or presence. Anything else (a disjunction, a function, another
//! variable) is left out, so a requirement found here always holds for every admitted request.
//!
//! At run time `request.headers["h"]` and `request.query["q"]` are evaluation errors when the
//! name is absent, and an error refuses the request, so `==` and `!=` on them also require the
//! name to be present.

use cel::common::ast::{Expr, IdedExpr, LiteralValue, SourceInfo};

use crate::source::Span;
use crate::syntax::ast;

/// What one conjunct requires of one request attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// The method is one of these (`==`, `in [..]`) or, when `negated`, none of them.
    Method { methods: Vec<String>, negated: bool },
    /// A header (lower-case name) or query parameter condition.
    Field {
        kind: FieldKind,
        name: String,
        condition: FieldCondition,
    },
}

/// Which request map a [`Requirement::Field`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FieldKind {
    Header,
    Query,
}

impl FieldKind {
    /// `header` or `query parameter`.
    pub fn describe(self) -> &'static str {
        match self {
            FieldKind::Header => "header",
            FieldKind::Query => "query parameter",
        }
    }
}

/// What a condition says about a header or query parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldCondition {
    Present,
    Absent,
    Equals(String),
    NotEquals(String),
}

/// One requirement with the span of the conjunct that states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conjunct {
    pub requirement: Requirement,
    pub span: Span,
}

/// The decidable requirements of `expression`, the parse of `cel`.
pub fn requirements(cel: &ast::Cel, expression: &IdedExpr, info: &SourceInfo) -> Vec<Conjunct> {
    let mut out = Vec::new();
    collect(cel, info, expression, &mut out);
    out
}

fn collect(cel: &ast::Cel, info: &SourceInfo, e: &IdedExpr, out: &mut Vec<Conjunct>) {
    if let Expr::Call(call) = &e.expr {
        if call.func_name == "_&&_" && call.target.is_none() {
            for arg in &call.args {
                collect(cel, info, arg, out);
            }
            return;
        }
    }
    if let Some(requirement) = requirement(e) {
        out.push(Conjunct {
            requirement,
            span: node_span(cel, info, e),
        });
    }
}

/// The file span of a whole node: from its first to its last token, with the brackets it opened
/// (`!(…)`, `has(…)`, `[…]`) closed.
fn node_span(cel: &ast::Cel, info: &SourceInfo, e: &IdedExpr) -> Span {
    let source = cel.source.as_str();
    let Some((start, mut end)) = node_range(source, info, e) else {
        return cel.span;
    };
    let mut open = unclosed_brackets(source.get(start..end).unwrap_or(""));
    while open > 0 {
        let rest = source.get(end..).unwrap_or("");
        let trimmed = rest.trim_start();
        if !trimmed.starts_with([')', ']']) {
            break;
        }
        end += rest.len() - trimmed.len() + 1;
        open -= 1;
    }
    let base = cel.span.start as usize;
    let len = source.len();
    Span::new(cel.span.file, base + start.min(len), base + end.min(len))
}

/// The byte range of a node's tokens (a selection ends after its field name).
fn node_range(source: &str, info: &SourceInfo, e: &IdedExpr) -> Option<(usize, usize)> {
    let mut range = info
        .offset_for(e.id)
        .map(|(s, stop)| (s as usize, stop as usize + 1));
    let mut widen = |other: Option<(usize, usize)>| {
        if let Some((s, t)) = other {
            range = Some(range.map_or((s, t), |(a, b)| (a.min(s), b.max(t))));
        }
    };
    match &e.expr {
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                widen(node_range(source, info, target));
            }
            for arg in &call.args {
                widen(node_range(source, info, arg));
            }
        }
        Expr::Select(select) => {
            let operand = node_range(source, info, &select.operand);
            widen(operand);
            // The field follows the operand's `.`; a `has(…)` node sits at its `(`.
            if let Some((_, operand_end)) = operand {
                let after = source.get(operand_end..).unwrap_or("");
                if let Some(dot) = after.find('.') {
                    let name = &after[dot + 1..];
                    let field_start =
                        operand_end + dot + 1 + (name.len() - name.trim_start().len());
                    widen(Some((field_start, field_start + select.field.len())));
                }
            }
            if select.test {
                if let Some((paren, _)) = info.offset_for(e.id) {
                    let before = source.get(..paren as usize).unwrap_or("").trim_end();
                    if before.ends_with("has") {
                        widen(Some((before.len() - 3, before.len())));
                    }
                }
            }
        }
        Expr::List(list) => {
            for element in &list.elements {
                widen(node_range(source, info, element));
            }
        }
        _ => {}
    }
    range
}

/// How many `(` and `[` in `text` stay open (brackets inside string literals do not count).
fn unclosed_brackets(text: &str) -> usize {
    let (mut depth, mut quote, mut escaped) = (0usize, None, false);
    for c in text.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '(' | '[' => depth += 1,
                ')' | ']' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    depth
}

fn requirement(e: &IdedExpr) -> Option<Requirement> {
    match &e.expr {
        // `has(request.headers.x)`
        Expr::Select(select) if select.test => {
            let kind = request_map(&select.operand)?;
            Some(field(kind, &select.field, FieldCondition::Present))
        }
        Expr::Call(call) if call.target.is_none() => {
            match (call.func_name.as_str(), &call.args[..]) {
                ("!_", [inner]) => negate(requirement(inner)?),
                ("_==_" | "_!=_", [a, b]) => {
                    let equal = call.func_name == "_==_";
                    let (subject, value) = match (string_literal(a), string_literal(b)) {
                        (None, Some(v)) => (a, v),
                        (Some(v), None) => (b, v),
                        _ => return None,
                    };
                    if is_request_field(subject, "method") {
                        return Some(Requirement::Method {
                            methods: vec![value],
                            negated: !equal,
                        });
                    }
                    let (kind, name) = indexed_field(subject)?;
                    let condition = if equal {
                        FieldCondition::Equals(value)
                    } else {
                        FieldCondition::NotEquals(value)
                    };
                    Some(field(kind, &name, condition))
                }
                ("@in", [element, container]) => {
                    if is_request_field(element, "method") {
                        let Expr::List(list) = &container.expr else {
                            return None;
                        };
                        let methods: Option<Vec<String>> =
                            list.elements.iter().map(string_literal).collect();
                        return Some(Requirement::Method {
                            methods: methods?,
                            negated: false,
                        });
                    }
                    let name = string_literal(element)?;
                    let kind = request_map(container)?;
                    Some(field(kind, &name, FieldCondition::Present))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

fn field(kind: FieldKind, name: &str, condition: FieldCondition) -> Requirement {
    let name = match kind {
        FieldKind::Header => name.to_ascii_lowercase(),
        FieldKind::Query => name.to_string(),
    };
    Requirement::Field {
        kind,
        name,
        condition,
    }
}

/// `!requirement`: `!(a == b)` is `a != b`, `!("h" in request.headers)` is absence. On a map
/// entry, `!(h == v)` still requires `h`: an absent entry is an error, and `!` keeps it one.
fn negate(requirement: Requirement) -> Option<Requirement> {
    match requirement {
        Requirement::Method { methods, negated } => Some(Requirement::Method {
            methods,
            negated: !negated,
        }),
        Requirement::Field {
            kind,
            name,
            condition,
        } => {
            let condition = match condition {
                FieldCondition::Present => FieldCondition::Absent,
                FieldCondition::Absent => FieldCondition::Present,
                FieldCondition::Equals(v) => FieldCondition::NotEquals(v),
                FieldCondition::NotEquals(v) => FieldCondition::Equals(v),
            };
            Some(Requirement::Field {
                kind,
                name,
                condition,
            })
        }
    }
}

fn string_literal(e: &IdedExpr) -> Option<String> {
    match &e.expr {
        Expr::Literal(LiteralValue::String(s)) => Some(s.to_string()),
        _ => None,
    }
}

/// True for `request.<field>`.
fn is_request_field(e: &IdedExpr, name: &str) -> bool {
    matches!(&e.expr, Expr::Select(s) if !s.test && s.field == name
        && matches!(&s.operand.expr, Expr::Ident(root) if root == "request"))
}

/// `request.headers` or `request.query`.
fn request_map(e: &IdedExpr) -> Option<FieldKind> {
    if is_request_field(e, "headers") {
        Some(FieldKind::Header)
    } else if is_request_field(e, "query") {
        Some(FieldKind::Query)
    } else {
        None
    }
}

/// `request.headers["h"]`, `request.query["q"]` (or `.h` / `.q` selections).
fn indexed_field(e: &IdedExpr) -> Option<(FieldKind, String)> {
    match &e.expr {
        Expr::Call(call) if call.func_name == "_[_]" && call.target.is_none() => {
            let [container, key] = &call.args[..] else {
                return None;
            };
            Some((request_map(container)?, string_literal(key)?))
        }
        Expr::Select(select) if !select.test => {
            Some((request_map(&select.operand)?, select.field.clone()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    fn of(source: &str) -> Vec<Requirement> {
        let cel = ast::Cel {
            source: source.to_string(),
            span: Span::new(FileId(0), 0, source.len()),
        };
        let (expression, info) = cel::parser::Parser::new()
            .parse_with_source_info(source)
            .unwrap();
        requirements(&cel, &expression, &info)
            .into_iter()
            .map(|c| c.requirement)
            .collect()
    }

    fn header(name: &str, condition: FieldCondition) -> Requirement {
        Requirement::Field {
            kind: FieldKind::Header,
            name: name.to_string(),
            condition,
        }
    }

    #[test]
    fn conjuncts_on_the_method_headers_and_query_are_found() {
        assert_eq!(
            of(
                r#"request.method == "POST" && "X-Ship" in request.headers && request.query["v"] != "2""#
            ),
            [
                Requirement::Method {
                    methods: vec!["POST".into()],
                    negated: false
                },
                header("x-ship", FieldCondition::Present),
                Requirement::Field {
                    kind: FieldKind::Query,
                    name: "v".into(),
                    condition: FieldCondition::NotEquals("2".into())
                },
            ]
        );
        assert_eq!(
            of(r#"request.method in ["PUT", "PATCH"]"#),
            [Requirement::Method {
                methods: vec!["PUT".into(), "PATCH".into()],
                negated: false
            }]
        );
    }

    #[test]
    fn negations_flip_what_they_can() {
        assert_eq!(
            of(r#"!("x-debug" in request.headers) && !(request.method == "GET")"#),
            [
                header("x-debug", FieldCondition::Absent),
                Requirement::Method {
                    methods: vec!["GET".into()],
                    negated: true
                },
            ]
        );
        assert_eq!(
            of(r#"has(request.headers.token)"#),
            [header("token", FieldCondition::Present)]
        );
    }

    #[test]
    fn disjunctions_and_other_variables_are_left_out() {
        assert!(of(r#"request.method == "GET" || request.method == "HEAD""#).is_empty());
        assert!(of(r#"consumer.name == "picard""#).is_empty());
        assert!(of(r#"request.headers["x"].startsWith("a")"#).is_empty());
    }

    #[test]
    fn a_conjunct_span_covers_its_whole_text() {
        let source = r#"request.method == "POST" && !("x" in request.headers)"#;
        let cel = ast::Cel {
            source: source.to_string(),
            span: Span::new(FileId(0), 10, 10 + source.len()),
        };
        let (expression, info) = cel::parser::Parser::new()
            .parse_with_source_info(source)
            .unwrap();
        let spans: Vec<&str> = requirements(&cel, &expression, &info)
            .iter()
            .map(|c| &source[c.span.start as usize - 10..c.span.end as usize - 10])
            .collect();
        assert_eq!(
            spans,
            [
                r#"request.method == "POST""#,
                r#"!("x" in request.headers)"#
            ]
        );
        let source = r##"has(request.headers.token) && request.method in ["A", "B"] && request.query["q"] == "(""##;
        let cel = ast::Cel {
            source: source.to_string(),
            span: Span::new(FileId(0), 0, source.len()),
        };
        let (expression, info) = cel::parser::Parser::new()
            .parse_with_source_info(source)
            .unwrap();
        let spans: Vec<&str> = requirements(&cel, &expression, &info)
            .iter()
            .map(|c| &source[c.span.start as usize..c.span.end as usize])
            .collect();
        assert_eq!(
            spans,
            [
                "has(request.headers.token)",
                r#"request.method in ["A", "B"]"#,
                r##"request.query["q"] == "(""##
            ]
        );
    }
}
