//! `gateway NAME { listen … consumer … route … identity … method_mismatch … }`.

use crate::diagnostics::codes;
use crate::source::Spanned;
use crate::syntax::ast::{
    Consumer, CredentialKind, EscapedSlashes, Gateway, Listener, ListenerTls, PathSetting, Percent,
    Tracing,
};

use super::block::{block, report_duplicates, report_missing};
use super::context::Ctx;
use super::error::{PError, PResult};
use super::lexical::{ident, ident_ref, keyword, peek_word, string, wrong_word, ws, ws_inline};
use super::literals::{check_address, ident_list, percent, secret, status};
use super::route::route;

const GATEWAY_STATEMENTS: &[&str] = &[
    "listen",
    "consumer",
    "route",
    "merge_slashes",
    "escaped_slashes",
    "identity",
    "method_mismatch",
    "tracing",
];
const TRACING_STATEMENTS: &[&str] = &["sample"];
const CONSUMER_STATEMENTS: &[&str] = &["key", "basic", "jwt", "groups"];

/// The rest of a gateway after its keyword; `start` is the keyword.
pub fn gateway<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Gateway> {
    let (rest, name) = ident(cx, input, "the gateway's name")?;
    let (rest, _) = ws(cx, rest)?;
    let mut listeners = Vec::new();
    let mut consumers = Vec::new();
    let mut routes = Vec::new();
    let mut path_settings = Vec::new();
    let mut method_mismatch: Vec<Spanned<u16>> = Vec::new();
    let mut identity: Option<Spanned<String>> = None;
    let mut tracing: Vec<Tracing> = Vec::new();
    let (rest, _) = block(
        cx,
        rest,
        "gateway",
        GATEWAY_STATEMENTS,
        |start, kw, input| match kw.node {
            "listen" => {
                let (rest, l) = listen(cx, start, input)?;
                listeners.push(l);
                Ok((rest, Some(())))
            }
            "consumer" => {
                let (rest, c) = consumer(cx, start, input)?;
                consumers.push(c);
                Ok((rest, Some(())))
            }
            "route" => {
                let (rest, r) = route(cx, start, input)?;
                routes.push(r);
                Ok((rest, Some(())))
            }
            "merge_slashes" | "escaped_slashes" => {
                let (rest, setting) = path_setting(cx, kw.node, input)?;
                path_settings.push(Spanned::new(setting, cx.span(start, rest)));
                Ok((rest, Some(())))
            }
            "method_mismatch" => {
                let (rest, answer) = mismatch_status(cx, input)?;
                method_mismatch.push(Spanned::new(answer.node, cx.span(start, rest)));
                Ok((rest, Some(())))
            }
            "identity" => {
                let (rest, id) = string(
                    cx,
                    input,
                    "an identity in quotes, e.g. \"spiffe://starfleet/edge\"",
                )?;
                let statement = Spanned::new(id.node, cx.span(start, rest));
                match &identity {
                    Some(first) => report_duplicates(
                        cx,
                        &[first.span, statement.span],
                        |_| Some("identity"),
                        |span| *span,
                    ),
                    None => identity = Some(statement),
                }
                Ok((rest, Some(())))
            }
            "tracing" => {
                let (rest, block) = tracing_block(cx, start, input)?;
                tracing.push(block);
                Ok((rest, Some(())))
            }
            _ => Ok((input, None)),
        },
    )?;
    report_duplicates(cx, &tracing, |_| Some("tracing"), |t| t.span);
    report_duplicates(cx, &path_settings, |s| Some(s.node.keyword()), |s| s.span);
    report_duplicates(
        cx,
        &method_mismatch,
        |_| Some("method_mismatch"),
        |m| m.span,
    );
    if listeners.is_empty() {
        report_missing(
            cx,
            name.span,
            "gateway",
            "listen",
            "add `listen \"127.0.0.1:8080\"`",
        );
    }
    Ok((
        rest,
        Gateway {
            name,
            listeners,
            consumers,
            routes,
            path_settings,
            method_mismatch: method_mismatch.into_iter().next(),
            identity,
            tracing: tracing.into_iter().next(),
            span: cx.span(start, rest),
        },
    ))
}

/// `tracing { sample 10% }`: the gateway takes part in W3C trace context; `sample` is the share
/// of requests arriving without a `traceparent` whose new trace is recorded (default 100%).
fn tracing_block<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Tracing> {
    let (rest, _) = ws(cx, input)?;
    let mut samples: Vec<Spanned<Percent>> = Vec::new();
    let (rest, _) = block(
        cx,
        rest,
        "tracing block",
        TRACING_STATEMENTS,
        |start, kw, input| match kw.node {
            "sample" => {
                let (rest, share) = percent(cx, input)?;
                samples.push(Spanned::new(share.node, cx.span(start, rest)));
                Ok((rest, Some(())))
            }
            _ => Ok((input, None)),
        },
    )?;
    report_duplicates(cx, &samples, |_| Some("sample"), |s| s.span);
    Ok((
        rest,
        Tracing {
            sample: samples.into_iter().next(),
            span: cx.span(start, rest),
        },
    ))
}

/// The value of `merge_slashes on|off` or `escaped_slashes reject|keep|unescape`.
fn path_setting<'a>(cx: &Ctx, keyword: &str, input: &'a str) -> PResult<'a, PathSetting> {
    let choices: &[&str] = if keyword == "merge_slashes" {
        &["on", "off"]
    } else {
        &["reject", "keep", "unescape"]
    };
    let expected = choices
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(" or ");
    let (rest, word) = ident_ref(cx, input, &expected)?;
    let setting = match word.node {
        "on" if keyword == "merge_slashes" => PathSetting::MergeSlashes(true),
        "off" if keyword == "merge_slashes" => PathSetting::MergeSlashes(false),
        "reject" if keyword == "escaped_slashes" => {
            PathSetting::EscapedSlashes(EscapedSlashes::Reject)
        }
        "keep" if keyword == "escaped_slashes" => PathSetting::EscapedSlashes(EscapedSlashes::Keep),
        "unescape" if keyword == "escaped_slashes" => {
            PathSetting::EscapedSlashes(EscapedSlashes::Unescape)
        }
        _ => return wrong_word(cx, &word, &expected, choices),
    };
    Ok((rest, setting))
}

/// `404` (the default: a route whose method differs does not match) or `405` (answer
/// `405 Method Not Allowed` with `Allow` listing the methods the path takes).
fn mismatch_status<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, Spanned<u16>> {
    let (rest, answer) = status(cx, input)?;
    if !matches!(answer.node, 404 | 405) {
        return PError::at(
            input,
            answer.span.len(),
            &codes::SYNTAX,
            format!("`method_mismatch {}` is not an answer meshd gives", answer.node),
            "expected 404 or 405",
        )
        .help("`method_mismatch 404` (the default, as in the Gateway API) or `method_mismatch 405` (405 with `Allow`)")
        .fail();
    }
    Ok((rest, answer))
}

fn listen<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Listener> {
    let (rest, address) = string(cx, input, "a listen address such as \"0.0.0.0:8080\"")?;
    check_address(cx, &address, true).map_err(nom::Err::Failure)?;
    let (after_ws, _) = ws_inline(cx, rest)?;
    if peek_word(after_ws) != Some("tls") {
        return Ok((
            rest,
            Listener {
                address,
                tls: None,
                span: cx.span(start, rest),
            },
        ));
    }
    let (r, _) = keyword(after_ws, "tls")?;
    let (r, _) = ws(cx, r)?;
    let (r, _) = keyword(r, "cert")?;
    let (r, _) = ws(cx, r)?;
    let (r, cert) = secret(cx, r)?;
    let (r, _) = ws(cx, r)?;
    let (r, _) = keyword(r, "key")?;
    let (r, _) = ws(cx, r)?;
    let (rest, key) = secret(cx, r)?;
    Ok((
        rest,
        Listener {
            address,
            tls: Some(ListenerTls { cert, key }),
            span: cx.span(start, rest),
        },
    ))
}

fn consumer<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Consumer> {
    let (rest, name) = ident(cx, input, "the consumer's name")?;
    let (rest, _) = ws(cx, rest)?;
    let mut credentials = Vec::new();
    let mut groups = Vec::new();
    let (rest, _) = block(
        cx,
        rest,
        "consumer",
        CONSUMER_STATEMENTS,
        |start, kw, input| {
            let (rest, credential) = match kw.node {
                "key" => {
                    let (rest, key) = secret(cx, input)?;
                    (rest, CredentialKind::Key(key))
                }
                "basic" => {
                    let (r, _) = keyword(input, "user")?;
                    let (r, _) = ws(cx, r)?;
                    let (r, user) = string(cx, r, "the user name in quotes")?;
                    let (r, _) = ws(cx, r)?;
                    let (r, _) = keyword(r, "password")?;
                    let (r, _) = ws(cx, r)?;
                    let (rest, password) = secret(cx, r)?;
                    (rest, CredentialKind::Basic { user, password })
                }
                "jwt" => {
                    let (r, _) = keyword(input, "subject")?;
                    let (r, _) = ws(cx, r)?;
                    let (rest, subject) = string(cx, r, "the JWT subject in quotes")?;
                    (rest, CredentialKind::Jwt { subject })
                }
                "groups" => {
                    let (rest, list) = ident_list(cx, input, "group names")?;
                    groups.extend(list.node);
                    return Ok((rest, Some(())));
                }
                _ => return Ok((input, None)),
            };
            credentials.push(Spanned::new(credential, cx.span(start, rest)));
            Ok((rest, Some(())))
        },
    )?;
    Ok((
        rest,
        Consumer {
            name,
            credentials,
            groups,
            span: cx.span(start, rest),
        },
    ))
}
