//! A route's admission statements: `auth` (key, basic, JWT), `allow` / `deny`, `rate_limit`,
//! header rules and `cors`.

use crate::diagnostics::codes;
use crate::source::Spanned;
use crate::syntax::ast::*;

use super::block::block;
use super::context::Ctx;
use super::error::{PError, PResult};
use super::lexical::{ident, ident_ref, peek_word, string, wrong_word, ws, ws_inline};
use super::literals::{duration, ident_list, rate, secret, string_list};
use super::route::method;

pub(super) fn auth<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Auth> {
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

pub(super) fn access<'a>(
    cx: &Ctx,
    start: &'a str,
    kw: &str,
    input: &'a str,
) -> PResult<'a, AccessRule> {
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

pub(super) fn rate_limit<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, RateLimit> {
    let (mut rest, rate_value) = rate(cx, input)?;
    let mut key = RateLimitKey::Consumer;
    let mut burst = None;
    let mut shared = false;
    let mut fail = None;
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
                let (after_ws, _) = ws_inline(cx, rest)?;
                if peek_word(after_ws) == Some("fail") {
                    let (r, _) = ws(cx, &after_ws[4..])?;
                    let (r, mode) = ident_ref(cx, r, "`local`, `open` or `closed`")?;
                    fail = Some(match mode.node {
                        "local" => StoreFailure::Local,
                        "open" => StoreFailure::Open,
                        "closed" => StoreFailure::Closed,
                        _ => {
                            return wrong_word(
                                cx,
                                &mode,
                                "`local`, `open` or `closed`",
                                &["local", "open", "closed"],
                            )
                        }
                    });
                    rest = r;
                }
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
            fail,
            span: cx.span(start, rest),
        },
    ))
}

pub(super) fn header_rule<'a>(
    cx: &Ctx,
    start: &'a str,
    kw: &str,
    input: &'a str,
) -> PResult<'a, HeaderRule> {
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

pub(super) fn cors<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Cors> {
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
