//! A CORS policy that refuses the route's own method (W0214).
//!
//! *What*: a route that matches one method (`match POST …`) with `cors { methods [...] }` listing
//! other methods only.
//! *Why*: a browser asks before a cross-origin request that is not "simple" (a JSON POST, any
//! PUT, PATCH or DELETE) with a preflight naming the method; meshd answers it from this route's
//! policy, which refuses the method. The browser then never sends the request: the route works
//! from curl and fails from every web page, the most common CORS ticket.
//! *Example*: `match PUT "/logs/{id}" … cors { origins ["https://bridge.test"] methods [GET, POST] }`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::syntax::ast;

use super::CORS_REFUSES_METHOD;

/// Every CORS policy that leaves out its route's method.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (_, route) in program.routes() {
        let Some(method) = route
            .matcher()
            .and_then(|m| m.method.as_ref())
            .filter(|m| m.node != "*")
        else {
            continue;
        };
        for statement in &route.statements {
            let ast::RouteStatement::Cors(cors) = statement else {
                continue;
            };
            if cors.methods.is_empty()
                || cors
                    .methods
                    .iter()
                    .any(|m| m.node.eq_ignore_ascii_case(&method.node))
            {
                continue;
            }
            let listed: Vec<&str> = cors.methods.iter().map(|m| m.node.as_str()).collect();
            let (first, last) = (&cors.methods[0], &cors.methods[cors.methods.len() - 1]);
            let list_span = first.span.to(last.span);
            out.push(
                Diagnostic::warning(
                    &CORS_REFUSES_METHOD,
                    format!(
                        "route `{}` takes {} but its CORS policy allows only {}: browsers are refused at the preflight",
                        route.name.node,
                        method.node,
                        listed.join(", ")
                    ),
                )
                .with_label(list_span, format!("{} is not here", method.node))
                .with_label(method.span, "the only method this route matches")
                .with_help(format!(
                    "add {} to `methods`, or leave `methods` out to allow whatever the preflight asks",
                    method.node
                )),
            );
        }
    }
    out
}
