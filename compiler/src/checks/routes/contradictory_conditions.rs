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

/// Contradictions between `route`'s match and the requirements of its `when` conditions.
pub fn check_route(route: &ast::Route, conjuncts: &[(Conjunct, String)]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let matcher = route.matcher();
    out.extend(method_contradiction(route, matcher, conjuncts));
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
        out.extend(field_contradiction(route, *kind, name, stated));
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
    route: &ast::Route,
    matcher: Option<&ast::Match>,
    conjuncts: &[(Conjunct, String)],
) -> Option<Diagnostic> {
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
            let earlier: Vec<&str> = stated[..stated.len() - 1]
                .iter()
                .map(|(_, t)| t.as_str())
                .collect();
            let mut d = Diagnostic::error(
                &CONTRADICTORY_CONDITIONS,
                format!(
                    "route `{}` refuses every request it matches: no method satisfies {} and {last}",
                    route.name.node,
                    earlier.join(" and ")
                ),
            )
            .with_label(span, "no request method satisfies this too");
            for (span, _) in &stated[..stated.len() - 1] {
                d = d.with_label(*span, "the method is constrained here");
            }
            return Some(d.with_help(
                "make the method conditions agree, or split the route in two, one per method",
            ));
        }
    }
    None
}

fn field_contradiction(
    route: &ast::Route,
    kind: FieldKind,
    name: &str,
    stated: &[Stated<FieldCondition>],
) -> Option<Diagnostic> {
    for (i, later) in stated.iter().enumerate() {
        let Some(earlier) = stated[..i].iter().find(|e| conflicts(&e.what, &later.what)) else {
            continue;
        };
        return Some(
            Diagnostic::error(
                &CONTRADICTORY_CONDITIONS,
                format!(
                    "route `{}` refuses every request it matches: {} `{name}` cannot satisfy both {} and {}",
                    route.name.node,
                    kind.describe(),
                    earlier.text,
                    later.text
                ),
            )
            .with_label(later.span, "cannot hold together with…")
            .with_label(earlier.span, "…this condition")
            .with_help(format!(
                "keep one of the two conditions on `{name}`, or split the route in two"
            )),
        );
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
