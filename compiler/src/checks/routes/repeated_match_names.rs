//! A header or query parameter named twice in one `match` (E0209).
//!
//! *What*: `header "x-ship" "a" header "X-Ship" "b"` (header names compared case-insensitively)
//! or `query "v" "1" query "v" "2"` (query names compared exactly) in one match.
//! *Why*: the Gateway API says only the first entry with an equivalent name counts and the rest
//! are ignored (`HTTPHeaderMatch.Name`, `HTTPQueryParamMatch.Name`), and the matcher follows it: a
//! second condition the author wrote would silently never apply. Read the other way (both must
//! hold), the route could only match a request carrying both values — never, for one value.
//! Either reading leaves a condition that does not do what it says, so the program is refused.
//! *Example*: `match GET "/" header "x-ship" "enterprise" header "x-ship" "voyager"`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::syntax::ast;

use super::REPEATED_MATCH_NAME;

/// Every repeated header or query name.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (_, route) in program.routes() {
        let Some(matcher) = route.matcher() else {
            continue;
        };
        let header_eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        let query_eq = |a: &str, b: &str| a == b;
        repeated(route, &matcher.headers, "header", header_eq, &mut out);
        repeated(route, &matcher.query, "query parameter", query_eq, &mut out);
    }
    out
}

fn repeated(
    route: &ast::Route,
    entries: &[ast::KeyValueMatch],
    what: &str,
    same_name: impl Fn(&str, &str) -> bool,
    out: &mut Vec<Diagnostic>,
) {
    for (i, entry) in entries.iter().enumerate() {
        let Some(first) = entries[..i]
            .iter()
            .find(|e| same_name(&e.name.node, &entry.name.node))
        else {
            continue;
        };
        let (name, first_value, value) = (&entry.name.node, &first.value.node, &entry.value.node);
        let help = if first_value == value {
            format!("remove the repeated `{what}` condition")
        } else {
            format!(
                "to accept either value, write two routes (one with \"{first_value}\", one with \"{value}\"); to require one, keep only its condition"
            )
        };
        let case_note = if first.name.node != *name {
            " (header names are case-insensitive)"
        } else {
            ""
        };
        out.push(
            Diagnostic::error(
                &REPEATED_MATCH_NAME,
                format!(
                    "route `{}` matches {what} `{name}` twice{case_note}",
                    route.name.node
                ),
            )
            .with_label(
                entry.span,
                "ignored: only the first condition on a name counts",
            )
            .with_label(first.span, "this one counts")
            .with_help(help),
        );
    }
}
