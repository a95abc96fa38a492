//! `route NAME { … }`: match, admission statements and one action.

use crate::diagnostics::codes;
use crate::diagnostics::suggest::closest;
use crate::diagnostics::Diagnostic;
use crate::source::Spanned;
use crate::syntax::ast::*;

use super::block::{block, report_duplicates, report_missing};
use super::cel::cel;
use super::context::Ctx;
use super::error::{PError, PResult};
use super::lexical::{ident, peek_word, string, ws, ws_inline};
use super::literals::{duration, size};
use super::route_action::{forward, produce, respond};
use super::route_admission::{access, auth, cors, header_rule, rate_limit};
use super::route_traffic::{fault, mirror, websocket};

const ROUTE_STATEMENTS: &[&str] = &[
    "match",
    "auth",
    "public",
    "allow",
    "deny",
    "rate_limit",
    "when",
    "set_header",
    "remove_header",
    "set_response_header",
    "remove_response_header",
    "cors",
    "body_limit",
    "timeout",
    "fault",
    "mirror",
    "websocket",
    "idempotent",
    "forward",
    "produce",
    "respond",
];

/// The HTTP methods a route may match.
pub const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
];

/// The rest of a route after its keyword; `start` is the keyword.
pub fn route<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Route> {
    let (rest, name) = ident(cx, input, "the route's name")?;
    let (rest, _) = ws(cx, rest)?;
    let mut statements = Vec::new();
    let (rest, _) = block(
        cx,
        rest,
        "route",
        ROUTE_STATEMENTS,
        |start, kw, input| match statement(cx, start, kw.node, input)? {
            (rest, Some(s)) => {
                statements.push(s);
                Ok((rest, Some(())))
            }
            (rest, None) => Ok((rest, None)),
        },
    )?;
    check_route(cx, &name, &statements);
    Ok((
        rest,
        Route {
            name,
            statements,
            span: cx.span(start, rest),
        },
    ))
}

fn check_route(cx: &Ctx, name: &Ident, statements: &[RouteStatement]) {
    report_duplicates(
        cx,
        statements,
        |s| match s {
            RouteStatement::Match(_) => Some("match"),
            RouteStatement::Auth(_) => Some("auth"),
            RouteStatement::Public(_) => Some("public"),
            RouteStatement::Cors(_) => Some("cors"),
            RouteStatement::BodyLimit(_) => Some("body_limit"),
            RouteStatement::Timeout(_) => Some("timeout"),
            RouteStatement::Idempotent(_) => Some("idempotent"),
            RouteStatement::Mirror(_) => Some("mirror"),
            RouteStatement::WebSocket(_) => Some("websocket"),
            RouteStatement::Fault(f) => Some(match f.kind {
                FaultKind::Abort(_) => "fault abort",
                FaultKind::Delay(_) => "fault delay",
            }),
            _ => None,
        },
        RouteStatement::span,
    );
    if !statements
        .iter()
        .any(|s| matches!(s, RouteStatement::Match(_)))
    {
        report_missing(
            cx,
            name.span,
            "route",
            "match",
            "add e.g. `match GET \"/path\"`",
        );
    }
    let actions: Vec<_> = statements
        .iter()
        .filter(|s| {
            matches!(
                s,
                RouteStatement::Forward(_)
                    | RouteStatement::Produce(_)
                    | RouteStatement::Respond(_)
            )
        })
        .collect();
    match actions.as_slice() {
        [] => report_missing(cx, name.span, "route", "forward`, `produce` or `respond", "say where the request goes: `forward SERVICE`, `produce topic \"T\"` or `respond 200 \"…\"`"),
        [_] => {}
        [first, second, ..] => cx.report(
            Diagnostic::error(&codes::CONFLICTING_ACTIONS, format!("route `{}` has more than one action", name.node))
                .with_label(second.span(), "second action")
                .with_label(first.span(), "first action")
                .with_help("a route does one of `forward`, `produce` or `respond`; split it into two routes"),
        ),
    }
}

fn statement<'a>(
    cx: &Ctx,
    start: &'a str,
    kw: &str,
    input: &'a str,
) -> PResult<'a, Option<RouteStatement>> {
    let (rest, statement) = match kw {
        "match" => {
            let (rest, m) = match_statement(cx, start, input)?;
            (rest, RouteStatement::Match(Box::new(m)))
        }
        "auth" => {
            let (rest, a) = auth(cx, start, input)?;
            (rest, RouteStatement::Auth(Box::new(a)))
        }
        "public" => {
            let rest = &start[kw.len()..];
            (rest, RouteStatement::Public(cx.span(start, rest)))
        }
        "idempotent" => {
            let rest = &start[kw.len()..];
            (rest, RouteStatement::Idempotent(cx.span(start, rest)))
        }
        "allow" | "deny" => {
            let (rest, a) = access(cx, start, kw, input)?;
            (rest, RouteStatement::Access(a))
        }
        "rate_limit" => {
            let (rest, r) = rate_limit(cx, start, input)?;
            (rest, RouteStatement::RateLimit(Box::new(r)))
        }
        "when" => {
            let (rest, condition) = cel(cx, input, "a CEL condition")?;
            (rest, RouteStatement::When(condition))
        }
        "set_header" | "set_response_header" | "remove_header" | "remove_response_header" => {
            let (rest, h) = header_rule(cx, start, kw, input)?;
            (rest, RouteStatement::Header(Box::new(h)))
        }
        "cors" => {
            let (rest, c) = cors(cx, start, input)?;
            (rest, RouteStatement::Cors(Box::new(c)))
        }
        "body_limit" => {
            let (rest, s) = size(cx, input)?;
            (
                rest,
                RouteStatement::BodyLimit(Spanned::new(s.node, cx.span(start, rest))),
            )
        }
        "timeout" => {
            let (rest, d) = duration(cx, input)?;
            (
                rest,
                RouteStatement::Timeout(Spanned::new(d.node, cx.span(start, rest))),
            )
        }
        "mirror" => {
            let (rest, m) = mirror(cx, start, input)?;
            (rest, RouteStatement::Mirror(Box::new(m)))
        }
        "websocket" => {
            let (rest, w) = websocket(cx, start, input)?;
            (rest, RouteStatement::WebSocket(Box::new(w)))
        }
        "fault" => {
            let (rest, f) = fault(cx, start, input)?;
            (rest, RouteStatement::Fault(Box::new(f)))
        }
        "forward" => {
            let (rest, f) = forward(cx, start, input)?;
            (rest, RouteStatement::Forward(Box::new(f)))
        }
        "produce" => {
            let (rest, p) = produce(cx, start, input)?;
            (rest, RouteStatement::Produce(Box::new(p)))
        }
        "respond" => {
            let (rest, r) = respond(cx, start, input)?;
            (rest, RouteStatement::Respond(Box::new(r)))
        }
        _ => return Ok((input, None)),
    };
    Ok((rest, Some(statement)))
}

/// An HTTP method token, checked against the known methods.
pub fn method<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, Spanned<String>> {
    let (rest, m) = ident(cx, input, "an HTTP method")?;
    if !METHODS.contains(&m.node.as_str()) {
        let mut error = PError::at(
            input,
            m.node.len(),
            &codes::INVALID_HTTP,
            format!("unknown HTTP method `{}`", m.node),
            "not an HTTP method",
        );
        let upper = m.node.to_ascii_uppercase();
        error = match closest(&upper, METHODS.iter().copied()) {
            Some(s) => error.help(format!(
                "did you mean `{s}`? methods are written in upper case"
            )),
            None => error.help(format!("methods are {}", METHODS.join(", "))),
        };
        return error.fail();
    }
    Ok((rest, m))
}

fn check_path(cx: &Ctx, path: &Spanned<String>, kind: PathKind) -> Result<(), nom::Err<PError>> {
    let at = &cx.src[path.span.start as usize..];
    if kind != PathKind::Regex && !path.node.starts_with('/') {
        return PError::at(
            at,
            path.span.len(),
            &codes::INVALID_HTTP,
            format!("path \"{}\" does not start with `/`", path.node),
            "paths start with `/`",
        )
        .help(format!("write \"/{}\"", path.node))
        .fail();
    }
    if kind == PathKind::Exact {
        let mut open = false;
        for (i, c) in path.node.char_indices() {
            let bad = match c {
                '{' if open => true,
                '{' => {
                    open = true;
                    false
                }
                '}' if !open => true,
                '}' => {
                    open = false;
                    path.node[..i].ends_with('{')
                }
                _ => false,
            };
            if bad {
                return PError::at(
                    at,
                    path.span.len(),
                    &codes::INVALID_HTTP,
                    format!("malformed path template \"{}\"", path.node),
                    "unbalanced `{` or `}`",
                )
                .help("a template captures a segment as `{name}`, e.g. \"/officers/{id}\"")
                .fail();
            }
        }
        if open {
            return PError::at(
                at,
                path.span.len(),
                &codes::INVALID_HTTP,
                format!("malformed path template \"{}\"", path.node),
                "`{` is never closed",
            )
            .help("a template captures a segment as `{name}`, e.g. \"/officers/{id}\"")
            .fail();
        }
    }
    Ok(())
}

fn match_statement<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Match> {
    let mut rest = input;
    let mut method_value = None;
    if let Some(after) = rest.strip_prefix('*') {
        rest = ws(cx, after)?.0;
    } else if peek_word(rest).is_some_and(|w| w != "prefix" && w != "regex") {
        let (after, m) = method(cx, rest)?;
        method_value = Some(m);
        rest = ws(cx, after)?.0;
    }
    let (kind, after_kind) = match peek_word(rest) {
        Some("prefix") => (PathKind::Prefix, ws(cx, &rest[6..])?.0),
        Some("regex") => (PathKind::Regex, ws(cx, &rest[5..])?.0),
        _ => (PathKind::Exact, rest),
    };
    let (mut rest, path) = string(cx, after_kind, "a path in quotes, e.g. \"/officers/{id}\"")?;
    check_path(cx, &path, kind)?;
    let mut host = None;
    let mut headers = Vec::new();
    let mut query = Vec::new();
    loop {
        let (after_ws, _) = ws_inline(cx, rest)?;
        match peek_word(after_ws) {
            Some("host") => {
                let (r, _) = ws(cx, &after_ws[4..])?;
                let (r, h) = string(cx, r, "a host name in quotes")?;
                host = Some(h);
                rest = r;
            }
            Some(which @ ("header" | "query")) => {
                let (r, _) = ws(cx, &after_ws[which.len()..])?;
                let (r, name) = string(cx, r, &format!("the {which} name in quotes"))?;
                let (r, _) = ws(cx, r)?;
                let (r, value) = string(cx, r, &format!("the {which} value in quotes"))?;
                let pair = KeyValueMatch {
                    name,
                    value,
                    span: cx.span(after_ws, r),
                };
                if which == "header" {
                    headers.push(pair);
                } else {
                    query.push(pair);
                }
                rest = r;
            }
            _ => break,
        }
    }
    let path = PathMatch { kind, value: path };
    Ok((
        rest,
        Match {
            method: method_value,
            path,
            host,
            headers,
            query,
            span: cx.span(start, rest),
        },
    ))
}
