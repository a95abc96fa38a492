//! A route whose `match` and `when` conditions contradict each other (E0210).
//!
//! *What*: the method, a header or a query parameter is required two incompatible ways: `match
//! GET` with `when request.method == "POST"` (or `in ["PUT", "PATCH"]`, or two `when`s naming
//! different methods); `match … header "x-ship" "enterprise"` with `when !("x-ship" in
//! request.headers)` or `when request.headers["x-ship"] == "voyager"`; a header required present
//! and absent, or equal to two values. Only what can be decided is compared: the conjuncts of the
//! `when`s (see [`crate::checks::cel::requirements`]) and the conditions of the `match`.
//! *Why*: the route matches requests its condition then refuses, every one of them (403): a
//! closed route that looks open, usually after one of the two lines was edited.
//! *Example*: `match GET "/bridge" … when request.method == "POST"`.

use std::collections::BTreeMap;

use crate::checks::cel::requirements::{Conjunct, FieldCondition, FieldKind, Requirement};
use crate::diagnostics::Diagnostic;
use crate::source::Span;
use crate::syntax::ast;

use super::CONTRADICTORY_CONDITIONS;

/// A condition with where it was stated (a `match` or a `when` conjunct).
#[derive(Clone)]
struct Stated<T> {
    what: T,
    span: Span,
    /// The source text shown in the message.
    text: String,
}

/// Why no request satisfies a set of conditions: a sentence, and the spans that say it.
#[derive(Debug, Clone)]
pub struct Contradiction {
    /// "no method satisfies … and …" or "header `x` cannot satisfy both … and …".
    pub reason: String,
    /// The condition that made the set unsatisfiable, with its label.
    pub last: (Span, String),
    /// The conditions it contradicts, with their labels.
    pub earlier: Vec<(Span, String)>,
    /// How to resolve it.
    pub help: String,
}

impl Contradiction {
    /// The diagnostic of `code` with `message`, labelled and helped.
    pub fn into_diagnostic(
        self,
        code: &'static crate::diagnostics::Code,
        message: String,
        warning: bool,
    ) -> Diagnostic {
        let mut d = if warning {
            Diagnostic::warning(code, message)
        } else {
            Diagnostic::error(code, message)
        };
        d = d.with_label(self.last.0, self.last.1);
        for (span, label) in self.earlier {
            d = d.with_label(span, label);
        }
        d.with_help(self.help)
    }
}

/// Contradictions between `route`'s match and the requirements of its `when` conditions.
pub fn check_route(route: &ast::Route, conjuncts: &[(Conjunct, String)]) -> Vec<Diagnostic> {
    contradictions(route.matcher(), conjuncts)
        .into_iter()
        .map(|c| {
            let message = format!(
                "route `{}` refuses every request it matches: {}",
                route.name.node, c.reason
            );
            c.into_diagnostic(&CONTRADICTORY_CONDITIONS, message, false)
        })
        .collect()
}

/// Every contradiction among `matcher`'s conditions (if any) and `conjuncts`.
pub fn contradictions(
    matcher: Option<&ast::Match>,
    conjuncts: &[(Conjunct, String)],
) -> Vec<Contradiction> {
    let mut out = Vec::new();
    out.extend(method_contradiction(matcher, conjuncts));
    let mut fields: BTreeMap<(FieldKind, String), Vec<Stated<FieldCondition>>> = BTreeMap::new();
    if let Some(matcher) = matcher {
        for (kind, entries) in [
            (FieldKind::Header, &matcher.headers),
            (FieldKind::Query, &matcher.query),
        ] {
            for entry in effective(kind, entries) {
                let name = entry.name.node.as_str();
                let folded = match kind {
                    FieldKind::Header => name.to_ascii_lowercase(),
                    FieldKind::Query => name.to_string(),
                };
                fields.entry((kind, folded)).or_default().push(Stated {
                    what: FieldCondition::Equals(entry.value.node.clone()),
                    span: entry.span,
                    text: format!(
                        "`match … {} \"{name}\" \"{}\"`",
                        keyword(kind),
                        entry.value.node
                    ),
                });
            }
        }
    }
    for (conjunct, text) in conjuncts {
        if let Requirement::Field {
            kind,
            name,
            condition,
        } = &conjunct.requirement
        {
            fields
                .entry((*kind, name.clone()))
                .or_default()
                .push(Stated {
                    what: condition.clone(),
                    span: conjunct.span,
                    text: format!("`when {text}`"),
                });
        }
    }
    for ((kind, name), stated) in &fields {
        out.extend(field_contradiction(*kind, name, stated));
    }
    out
}

fn keyword(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Header => "header",
        FieldKind::Query => "query",
    }
}

/// The entries that count (the first of each name; E0209 reports the others).
fn effective(kind: FieldKind, entries: &[ast::KeyValueMatch]) -> Vec<&ast::KeyValueMatch> {
    let same = |a: &str, b: &str| match kind {
        FieldKind::Header => a.eq_ignore_ascii_case(b),
        FieldKind::Query => a == b,
    };
    entries
        .iter()
        .enumerate()
        .filter(|(i, e)| {
            !entries[..*i]
                .iter()
                .any(|f| same(&f.name.node, &e.name.node))
        })
        .map(|(_, e)| e)
        .collect()
}

fn method_contradiction(
    matcher: Option<&ast::Match>,
    conjuncts: &[(Conjunct, String)],
) -> Option<Contradiction> {
    // `allowed`: `None` is every method; `excluded` applies on top of it.
    let mut allowed: Option<Vec<String>> = None;
    let mut excluded: Vec<String> = Vec::new();
    let mut stated: Vec<(Span, String)> = Vec::new();
    if let Some(method) = matcher
        .and_then(|m| m.method.as_ref())
        .filter(|m| m.node != "*")
    {
        allowed = Some(vec![method.node.clone()]);
        stated.push((method.span, format!("`match {}`", method.node)));
    }
    for (conjunct, text) in conjuncts {
        let Requirement::Method { methods, negated } = &conjunct.requirement else {
            continue;
        };
        stated.push((conjunct.span, format!("`when {text}`")));
        if *negated {
            excluded.extend(methods.iter().cloned());
        } else {
            allowed = Some(match allowed {
                None => methods.clone(),
                Some(before) => before.into_iter().filter(|m| methods.contains(m)).collect(),
            });
        }
        let empty = allowed
            .as_ref()
            .is_some_and(|a| a.iter().all(|m| excluded.contains(m)));
        if empty {
            let (span, last) = stated.last().cloned()?;
            let earlier = &stated[..stated.len() - 1];
            let texts: Vec<&str> = earlier.iter().map(|(_, t)| t.as_str()).collect();
            return Some(Contradiction {
                reason: format!("no method satisfies {} and {last}", texts.join(" and ")),
                last: (span, "no request method satisfies this too".to_string()),
                earlier: earlier
                    .iter()
                    .map(|(span, _)| (*span, "the method is constrained here".to_string()))
                    .collect(),
                help: "make the method conditions agree, or split the route in two, one per method"
                    .to_string(),
            });
        }
    }
    None
}

fn field_contradiction(
    kind: FieldKind,
    name: &str,
    stated: &[Stated<FieldCondition>],
) -> Option<Contradiction> {
    for (i, later) in stated.iter().enumerate() {
        let Some(earlier) = stated[..i].iter().find(|e| conflicts(&e.what, &later.what)) else {
            continue;
        };
        return Some(Contradiction {
            reason: format!(
                "{} `{name}` cannot satisfy both {} and {}",
                kind.describe(),
                earlier.text,
                later.text
            ),
            last: (later.span, "cannot hold together with…".to_string()),
            earlier: vec![(earlier.span, "…this condition".to_string())],
            help: format!("keep one of the two conditions on `{name}`, or split the route in two"),
        });
    }
    None
}

/// Whether no request satisfies both conditions on one name.
fn conflicts(a: &FieldCondition, b: &FieldCondition) -> bool {
    use FieldCondition::*;
    match (a, b) {
        (Absent, Present | Equals(_) | NotEquals(_))
        | (Present | Equals(_) | NotEquals(_), Absent) => true,
        (Equals(x), Equals(y)) => x != y,
        (Equals(x), NotEquals(y)) | (NotEquals(y), Equals(x)) => x == y,
        _ => false,
    }
}
