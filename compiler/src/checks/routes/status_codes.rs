//! Status codes that cannot be used where they are written (E0204).
//!
//! *What*: `respond` with an informational 1xx status, `respond` 204 or 304 with a body, and
//! `retry on` a status below 400.
//! *Why*: a 1xx is never a final answer, HTTP forbids a body on 204 and 304 (clients hang or
//! drop it), and retrying a success repeats a request that worked.
//! *Example*: `respond 204 "done"`, `retry 3 on [200]`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::syntax::ast;

use super::UNUSABLE_STATUS;

/// Every misused status.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (_, route) in program.routes() {
        for statement in &route.statements {
            let ast::RouteStatement::Respond(respond) = statement else {
                continue;
            };
            let status = respond.status.node;
            if status < 200 {
                out.push(
                    Diagnostic::error(
                        &UNUSABLE_STATUS,
                        format!("{status} is an informational status, not a response"),
                    )
                    .with_label(respond.status.span, "1xx cannot end a request")
                    .with_help("answer with a 2xx to 5xx status"),
                );
            } else if let (204 | 304, Some(body)) = (status, &respond.body) {
                out.push(
                    Diagnostic::error(
                        &UNUSABLE_STATUS,
                        format!("a {status} response cannot have a body"),
                    )
                    .with_label(body.span, "HTTP forbids a body here")
                    .with_label(respond.status.span, "this status")
                    .with_help(format!(
                        "remove the body, or answer 200 with it instead of {status}"
                    )),
                );
            }
        }
    }
    for service in &program.services {
        let Some(retry) = service.retry() else {
            continue;
        };
        for on in &retry.on {
            if let ast::RetryOn::Status(status) = on.node {
                if status < 400 {
                    out.push(
                        Diagnostic::error(&UNUSABLE_STATUS, format!("retrying on {status} repeats a request that did not fail"))
                            .with_label(on.span, "not an error status")
                            .with_help("retry on failures: connect_failure, reset, timeout, or 5xx statuses such as 502, 503"),
                    );
                }
            }
        }
    }
    out
}
