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
use super::lexical::{
    ident, ident_ref, keyword, peek_word, string, word_ref, wrong_word, ws, ws_inline,
};
use super::literals::{duration, ident_list, percent, rate, secret, size, status, string_list};

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

fn auth<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Auth> {
    let (rest, kind) = ident_ref(cx, input, "an auth method (key, basic or jwt)")?;
    let (rest, kind) = match kind.node {
        "key" => {
            let (r, _) = ws(cx, rest)?;
            let (r, location) = ident_ref(cx, r, "`header` or `query`")?;
            let location = match location.node {
                "header" => KeyLocation::Header,
                "query" => KeyLocation::Query,
                _ => return wrong_word(cx, &location, "`header` or `query`", &["header", "query"]),
            };
            let (r, _) = ws(cx, r)?;
            let (r, name) = string(cx, r, "the header or query parameter name in quotes")?;
            (r, AuthKind::Key { location, name })
        }
        "basic" => {
            let (after_ws, _) = ws_inline(cx, rest)?;
            if peek_word(after_ws) == Some("realm") {
                let (r, _) = ws(cx, &after_ws[5..])?;
                let (r, realm) = string(cx, r, "the realm in quotes")?;
                (r, AuthKind::Basic { realm: Some(realm) })
            } else {
                (rest, AuthKind::Basic { realm: None })
            }
        }
        "jwt" => {
            let (r, jwt) = jwt(cx, rest)?;
            (r, AuthKind::Jwt(jwt))
        }
        other => {
            let at = &cx.src[kind.span.start as usize..];
            return PError::at(
                at,
                other.len(),
                &codes::SYNTAX,
                format!("unknown auth method `{other}`"),
                "expected key, basic or jwt",
            )
            .help("write `auth key header \"x-api-key\"`, `auth basic` or `auth jwt …`")
            .fail();
        }
    };
    Ok((
        rest,
        Auth {
            kind,
            span: cx.span(start, rest),
        },
    ))
}

fn jwt<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, JwtAuth> {
    let mut jwt = JwtAuth::default();
    let mut rest = input;
    loop {
        let (after_ws, _) = ws_inline(cx, rest)?;
        let Some(option) = peek_word(after_ws) else {
            break;
        };
        if !matches!(option, "issuer" | "audience" | "alg" | "keys" | "secret") {
            break;
        }
        let (r, _) = ws(cx, &after_ws[option.len()..])?;
        rest = match option {
            "issuer" => {
                let (r, v) = string(cx, r, "the issuer in quotes")?;
                jwt.issuer = Some(v);
                r
            }
            "audience" => {
                let (r, v) = string(cx, r, "the audience in quotes")?;
                jwt.audience = Some(v);
                r
            }
            "alg" => {
                let (r, v) = ident(cx, r, "an algorithm such as RS256")?;
                jwt.alg = Some(v);
                r
            }
            "keys" => {
                let (r, v) = secret(cx, r)?;
                jwt.keys = Some(v);
                r
            }
            _ => {
                let (r, v) = secret(cx, r)?;
                jwt.secret = Some(v);
                r
            }
        };
    }
    Ok((rest, jwt))
}

fn access<'a>(cx: &Ctx, start: &'a str, kw: &str, input: &'a str) -> PResult<'a, AccessRule> {
    let effect = if kw == "allow" {
        Effect::Allow
    } else {
        Effect::Deny
    };
    let (rest, subject) = ident_ref(cx, input, "`consumers`, `groups` or `ips`")?;
    let (r, _) = ws(cx, rest)?;
    let (rest, subject, values) = match subject.node {
        "consumers" | "groups" => {
            let (r, list) = ident_list(
                cx,
                r,
                if subject.node == "groups" {
                    "group names"
                } else {
                    "consumer names"
                },
            )?;
            let which = if subject.node == "groups" {
                AccessSubject::Groups
            } else {
                AccessSubject::Consumers
            };
            (r, which, list.node)
        }
        "ips" => {
            let (r, list) = string_list(cx, r, "addresses or CIDR blocks in quotes")?;
            (r, AccessSubject::Ips, list.node)
        }
        _ => {
            return wrong_word(
                cx,
                &subject,
                "`consumers`, `groups` or `ips`",
                &["consumers", "groups", "ips"],
            )
        }
    };
    Ok((
        rest,
        AccessRule {
            effect,
            subject,
            values,
            span: cx.span(start, rest),
        },
    ))
}

fn rate_limit<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, RateLimit> {
    let (mut rest, rate_value) = rate(cx, input)?;
    let mut key = RateLimitKey::Consumer;
    let mut burst = None;
    let mut shared = false;
    loop {
        let (after_ws, _) = ws_inline(cx, rest)?;
        match peek_word(after_ws) {
            Some("per") => {
                let (r, _) = ws(cx, &after_ws[3..])?;
                let (r, k) = ident_ref(cx, r, "`consumer`, `ip` or `route`")?;
                key = match k.node {
                    "consumer" => RateLimitKey::Consumer,
                    "ip" => RateLimitKey::Ip,
                    "route" => RateLimitKey::Route,
                    _ => {
                        return wrong_word(
                            cx,
                            &k,
                            "`consumer`, `ip` or `route`",
                            &["consumer", "ip", "route"],
                        )
                    }
                };
                rest = r;
            }
            Some("burst") => {
                let (r, _) = ws(cx, &after_ws[5..])?;
                let (r, b) = super::lexical::integer(cx, r, "the burst size")?;
                burst = Some(b);
                rest = r;
            }
            Some("shared") => {
                shared = true;
                rest = &after_ws[6..];
            }
            _ => break,
        }
    }
    Ok((
        rest,
        RateLimit {
            rate: rate_value,
            key,
            burst,
            shared,
            span: cx.span(start, rest),
        },
    ))
}

fn header_rule<'a>(cx: &Ctx, start: &'a str, kw: &str, input: &'a str) -> PResult<'a, HeaderRule> {
    let direction = if kw.contains("response") {
        HeaderDirection::Response
    } else {
        HeaderDirection::Request
    };
    let (rest, name) = string(cx, input, "a header name in quotes")?;
    check_header_name(cx, &name)?;
    let (rest, value) = if kw.starts_with("set") {
        let (r, _) = ws(cx, rest)?;
        let (r, v) = string(cx, r, "the header value in quotes")?;
        (r, Some(v))
    } else {
        (rest, None)
    };
    Ok((
        rest,
        HeaderRule {
            direction,
            name,
            value,
            span: cx.span(start, rest),
        },
    ))
}

fn check_header_name(cx: &Ctx, name: &Spanned<String>) -> Result<(), nom::Err<PError>> {
    let is_token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.node.is_empty() || !name.node.chars().all(is_token) {
        let at = &cx.src[name.span.start as usize..];
        return PError::at(
            at,
            name.span.len(),
            &codes::INVALID_HTTP,
            format!("\"{}\" is not a valid header name", name.node),
            "not an HTTP token",
        )
        .help("header names are letters, digits and !#$%&'*+-.^_`|~")
        .fail();
    }
    Ok(())
}

fn cors<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Cors> {
    let mut cors = Cors {
        origins: vec![],
        methods: vec![],
        headers: vec![],
        expose: vec![],
        credentials: false,
        max_age: None,
        span: cx.span(start, input),
    };
    let keywords = [
        "origins",
        "methods",
        "headers",
        "expose",
        "credentials",
        "max_age",
    ];
    let (rest, _) = block(cx, input, "cors block", &keywords, |start, kw, input| {
        let rest = match kw.node {
            "origins" => {
                let (r, l) = string_list(cx, input, "origins in quotes")?;
                cors.origins = l.node;
                r
            }
            "methods" => {
                let (r, l) = super::literals::list(cx, input, "HTTP methods", method)?;
                cors.methods = l.node;
                r
            }
            "headers" => {
                let (r, l) = string_list(cx, input, "header names in quotes")?;
                cors.headers = l.node;
                r
            }
            "expose" => {
                let (r, l) = string_list(cx, input, "header names in quotes")?;
                cors.expose = l.node;
                r
            }
            "credentials" => {
                cors.credentials = true;
                &start[kw.node.len()..]
            }
            "max_age" => {
                let (r, d) = duration(cx, input)?;
                cors.max_age = Some(d);
                r
            }
            _ => return Ok((input, None)),
        };
        Ok((rest, Some(())))
    })?;
    cors.span = cx.span(start, rest);
    Ok((rest, cors))
}

fn forward<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Forward> {
    let mut targets = Vec::new();
    let mut rest = input;
    loop {
        let (r, service) = ident(cx, rest, "a service name")?;
        let (after_ws, _) = ws_inline(cx, r)?;
        let (r, weight) = if after_ws.starts_with(|c: char| c.is_ascii_digit()) {
            let (r, p) = percent(cx, after_ws)?;
            (r, Some(p))
        } else {
            (r, None)
        };
        targets.push(ForwardTarget { service, weight });
        let (after_ws, _) = ws_inline(cx, r)?;
        if let Some(after_comma) = after_ws.strip_prefix(',') {
            rest = ws(cx, after_comma)?.0;
        } else {
            rest = r;
            break;
        }
    }
    let mut strip_prefix = None;
    let mut rewrite = None;
    loop {
        let (after_ws, _) = ws_inline(cx, rest)?;
        match peek_word(after_ws) {
            Some(option @ ("strip_prefix" | "rewrite")) => {
                let (r, _) = ws(cx, &after_ws[option.len()..])?;
                let (r, value) = string(cx, r, "a path in quotes")?;
                if option == "rewrite" {
                    rewrite = Some(value);
                } else {
                    strip_prefix = Some(value);
                }
                rest = r;
            }
            _ => break,
        }
    }
    Ok((
        rest,
        Forward {
            targets,
            strip_prefix,
            rewrite,
            span: cx.span(start, rest),
        },
    ))
}

fn produce<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Produce> {
    let (r, _) = keyword(input, "topic")?;
    let (r, _) = ws(cx, r)?;
    let (mut rest, topic) = if peek_word(r) == Some("param") {
        let (r, _) = ws(cx, &r[5..])?;
        let (r, param) = string(cx, r, "the path parameter's name in quotes")?;
        let (after_ws, _) = ws_inline(cx, r)?;
        if peek_word(after_ws) == Some("allow") {
            let (r, _) = ws(cx, &after_ws[5..])?;
            let (r, list) = string_list(cx, r, "topic names in quotes")?;
            (
                r,
                TopicRef::Param {
                    param,
                    allow: Some(list.node),
                },
            )
        } else {
            (r, TopicRef::Param { param, allow: None })
        }
    } else {
        let (r, name) = string(cx, r, "a topic name in quotes (or `param \"name\"`)")?;
        (r, TopicRef::Fixed(name))
    };
    let mut produce = Produce {
        topic,
        key: None,
        value: None,
        headers: vec![],
        acks: None,
        mode: None,
        span: cx.span(start, rest),
    };
    loop {
        let (after_ws, _) = ws_inline(cx, rest)?;
        let Some(option) = peek_word(after_ws) else {
            break;
        };
        if !matches!(option, "key" | "value" | "headers" | "acks" | "mode") {
            break;
        }
        let (r, _) = ws(cx, &after_ws[option.len()..])?;
        rest = match option {
            "key" => {
                let (r, key) = cel(cx, r, "a CEL key expression")?;
                produce.key = Some(key);
                r
            }
            "value" => {
                let (r, w) = ident_ref(cx, r, "`raw` or `envelope`")?;
                let format = match w.node {
                    "raw" => ValueFormat::Raw,
                    "envelope" => ValueFormat::Envelope,
                    _ => return wrong_word(cx, &w, "`raw` or `envelope`", &["raw", "envelope"]),
                };
                produce.value = Some(Spanned::new(format, w.span));
                r
            }
            "headers" => {
                let (r, list) = string_list(cx, r, "header names in quotes")?;
                produce.headers = list.node;
                r
            }
            "acks" => {
                let (r, acks) = acks(cx, r)?;
                produce.acks = Some(acks);
                r
            }
            _ => {
                let (r, w) = ident_ref(cx, r, "`sync` or `async`")?;
                let mode = match w.node {
                    "sync" => ProduceMode::Sync,
                    "async" => ProduceMode::Async,
                    _ => return wrong_word(cx, &w, "`sync` or `async`", &["sync", "async"]),
                };
                produce.mode = Some(Spanned::new(mode, w.span));
                r
            }
        };
    }
    produce.span = cx.span(start, rest);
    Ok((rest, produce))
}

fn acks<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, Spanned<Acks>> {
    if let Ok((r, w)) = word_ref(cx, input) {
        if w.node == "all" {
            return Ok((r, Spanned::new(Acks::All, w.span)));
        }
    }
    let (r, n) = super::lexical::integer(cx, input, "`0`, `1` or `all`")?;
    let acks = match n.node {
        0 => Acks::None,
        1 => Acks::Leader,
        other => {
            return PError::at(
                input,
                n.span.len(),
                &codes::NUMBER_OUT_OF_RANGE,
                format!("acks {other} is not a Kafka acknowledgement level"),
                "expected 0, 1 or all",
            )
            .help("acks is 0 (fire and forget), 1 (leader) or all (every in-sync replica)")
            .fail()
        }
    };
    Ok((r, Spanned::new(acks, n.span)))
}

fn respond<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Respond> {
    let (mut rest, code) = status(cx, input)?;
    let mut body = None;
    let mut content_type = None;
    let (after_ws, _) = ws_inline(cx, rest)?;
    if after_ws.starts_with('"') {
        let (r, b) = string(cx, after_ws, "the response body in quotes")?;
        body = Some(b);
        rest = r;
    }
    let (after_ws, _) = ws_inline(cx, rest)?;
    if peek_word(after_ws) == Some("content_type") {
        let (r, _) = ws(cx, &after_ws[12..])?;
        let (r, t) = string(cx, r, "a content type in quotes")?;
        content_type = Some(t);
        rest = r;
    }
    Ok((
        rest,
        Respond {
            status: code,
            body,
            content_type,
            span: cx.span(start, rest),
        },
    ))
}
