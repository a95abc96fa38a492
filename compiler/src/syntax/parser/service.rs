//! `service NAME { endpoints … balance … timeout … retry … circuit_breaker … health_check … }`.

use crate::diagnostics::codes;
use crate::source::Spanned;
use crate::syntax::ast::*;

use super::block::{block, report_duplicates};
use super::cel::cel;
use super::context::Ctx;
use super::error::{PError, PResult};
use super::lexical::{
    ident, ident_ref, integer, keyword, peek_word, string, symbol, wrong_word, ws, ws_inline,
};
use super::literals::{check_address, duration, list, percent, rate, status, string_list};
use super::route::method;

const SERVICE_STATEMENTS: &[&str] = &[
    "endpoints",
    "balance",
    "timeout",
    "retry",
    "circuit_breaker",
    "health_check",
    "identity",
    "protocol",
];
const PROTOCOLS: &[&str] = &["http1", "h2c", "h2", "tcp"];
const BALANCES: &[&str] = &["round_robin", "random", "least_request", "hash"];

/// The rest of a service after its keyword; `start` is the keyword.
pub fn service<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Service> {
    let (rest, name) = ident(cx, input, "the service's name")?;
    let (rest, _) = ws(cx, rest)?;
    let mut statements = Vec::new();
    let (rest, _) = block(
        cx,
        rest,
        "service",
        SERVICE_STATEMENTS,
        |start, kw, input| {
            let (rest, statement) = match kw.node {
                "endpoints" => {
                    let (r, endpoints) = string_list(cx, input, "endpoint addresses in quotes")?;
                    for endpoint in &endpoints.node {
                        check_address(cx, endpoint, false).map_err(nom::Err::Failure)?;
                    }
                    (
                        r,
                        ServiceStatement::Endpoints(Spanned::new(
                            endpoints.node,
                            cx.span(start, r),
                        )),
                    )
                }
                "balance" => {
                    let (r, b) = balance(cx, input)?;
                    (
                        r,
                        ServiceStatement::Balance(Spanned::new(b, cx.span(start, r))),
                    )
                }
                "timeout" => {
                    let (r, d) = duration(cx, input)?;
                    (
                        r,
                        ServiceStatement::Timeout(Spanned::new(d.node, cx.span(start, r))),
                    )
                }
                "retry" => {
                    let (r, retry) = retry(cx, start, input)?;
                    (r, ServiceStatement::Retry(retry))
                }
                "circuit_breaker" => {
                    let (r, c) = circuit_breaker(cx, start, input)?;
                    (r, ServiceStatement::CircuitBreaker(c))
                }
                "health_check" => {
                    let (r, h) = health_check(cx, start, input)?;
                    (r, ServiceStatement::HealthCheck(h))
                }
                "identity" => {
                    let (r, id) = string(
                        cx,
                        input,
                        "an identity in quotes, e.g. \"spiffe://starfleet/picard\"",
                    )?;
                    (r, ServiceStatement::Identity(id))
                }
                "protocol" => {
                    let (r, p) = protocol(cx, input)?;
                    (
                        r,
                        ServiceStatement::Protocol(Spanned::new(p, cx.span(start, r))),
                    )
                }
                _ => return Ok((input, None)),
            };
            statements.push(statement);
            Ok((rest, Some(())))
        },
    )?;
    report_duplicates(
        cx,
        &statements,
        |s| {
            Some(match s {
                ServiceStatement::Endpoints(_) => "endpoints",
                ServiceStatement::Balance(_) => "balance",
                ServiceStatement::Timeout(_) => "timeout",
                ServiceStatement::Retry(_) => "retry",
                ServiceStatement::CircuitBreaker(_) => "circuit_breaker",
                ServiceStatement::HealthCheck(_) => "health_check",
                ServiceStatement::Identity(_) => "identity",
                ServiceStatement::Protocol(_) => "protocol",
            })
        },
        ServiceStatement::span,
    );
    Ok((
        rest,
        Service {
            name,
            statements,
            span: cx.span(start, rest),
        },
    ))
}

fn balance<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, Balance> {
    let (rest, policy) = ident_ref(
        cx,
        input,
        "a balancing policy (round_robin, random, least_request or hash(…))",
    )?;
    match policy.node {
        "round_robin" => Ok((rest, Balance::RoundRobin)),
        "random" => Ok((rest, Balance::Random)),
        "least_request" => Ok((rest, Balance::LeastRequest)),
        "hash" => {
            let (r, _) = ws(cx, rest)?;
            let (r, _) = symbol(r, "(")?;
            let (r, _) = ws(cx, r)?;
            let (r, expression) = cel(cx, r, "a CEL expression to hash on")?;
            let (r, _) = ws(cx, r)?;
            let (r, _) = symbol(r, ")")?;
            Ok((r, Balance::Hash(expression)))
        }
        _ => wrong_word(
            cx,
            &policy,
            "round_robin, random, least_request or hash(…)",
            BALANCES,
        ),
    }
}

fn protocol<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, Protocol> {
    let (rest, word) = ident_ref(cx, input, "a protocol (http1, h2c, h2 or tcp)")?;
    match word.node {
        "http1" => Ok((rest, Protocol::Http1)),
        "h2c" => Ok((rest, Protocol::H2c)),
        "h2" => Ok((rest, Protocol::H2)),
        "tcp" => Ok((rest, Protocol::Tcp)),
        _ => wrong_word(cx, &word, "http1, h2c, h2 or tcp", PROTOCOLS),
    }
}

/// `grpc NAME` in a retry list; `word` is the `grpc` keyword.
fn grpc_retry_on<'a>(
    cx: &Ctx,
    word: Spanned<&'a str>,
    rest: &'a str,
) -> PResult<'a, Spanned<RetryOn>> {
    let (r, _) = ws(cx, rest)?;
    let (r, name) = ident_ref(
        cx,
        r,
        "a gRPC status name (unavailable, resource_exhausted, …)",
    )?;
    let names: Vec<&str> = meshwork_bundle::grpc_status::GRPC_CODES
        .iter()
        .map(|(name, _)| *name)
        .collect();
    match meshwork_bundle::grpc_status::grpc_code(name.node) {
        Some(code) => {
            let span = word.span.to(name.span);
            Ok((r, Spanned::new(RetryOn::Grpc(code), span)))
        }
        None => wrong_word(cx, &name, "a gRPC status name in snake case", &names),
    }
}

fn backoff<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, Backoff> {
    let (r, min) = duration(cx, input)?;
    let (r, _) = symbol(r, "..")?;
    let (r, max) = duration(cx, r)?;
    Ok((r, Backoff { min, max }))
}

fn retry_on<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, Spanned<RetryOn>> {
    if input.starts_with(|c: char| c.is_ascii_digit()) {
        let (r, code) = status(cx, input)?;
        return Ok((r, Spanned::new(RetryOn::Status(code.node), code.span)));
    }
    let (r, w) = ident_ref(
        cx,
        input,
        "a retry condition (connect_failure, reset, timeout or a status code)",
    )?;
    let on = match w.node {
        "connect_failure" => RetryOn::ConnectFailure,
        "reset" => RetryOn::Reset,
        "timeout" => RetryOn::Timeout,
        "grpc" => return grpc_retry_on(cx, w, r),
        _ => {
            return wrong_word(
                cx,
                &w,
                "connect_failure, reset, timeout or a status code",
                &["connect_failure", "reset", "timeout"],
            )
        }
    };
    Ok((r, Spanned::new(on, w.span)))
}

fn retry<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Retry> {
    let (mut rest, attempts) = integer(cx, input, "the number of retries")?;
    let mut on = Vec::new();
    let mut backoff_value = None;
    let mut budget = None;
    loop {
        let (after_ws, _) = ws_inline(cx, rest)?;
        match peek_word(after_ws) {
            Some("on") => {
                let (r, _) = ws(cx, &after_ws[2..])?;
                let (r, conditions) = list(cx, r, "retry conditions", retry_on)?;
                on = conditions.node;
                rest = r;
            }
            Some("backoff") => {
                let (r, _) = ws(cx, &after_ws[7..])?;
                let (r, b) = backoff(cx, r)?;
                backoff_value = Some(b);
                rest = r;
            }
            Some("budget") => {
                let (r, b) = retry_budget(cx, after_ws)?;
                budget = Some(b);
                rest = r;
            }
            _ => break,
        }
    }
    Ok((
        rest,
        Retry {
            attempts,
            on,
            backoff: backoff_value,
            budget,
            span: cx.span(start, rest),
        },
    ))
}

/// `budget P% [min RATE] [window D]`; `start` is the `budget` keyword.
fn retry_budget<'a>(cx: &Ctx, start: &'a str) -> PResult<'a, RetryBudget> {
    let (r, _) = ws(cx, &start["budget".len()..])?;
    let (mut rest, share) = percent(cx, r)?;
    let mut min = None;
    let mut window = None;
    loop {
        let (after_ws, _) = ws_inline(cx, rest)?;
        match peek_word(after_ws) {
            Some("min") => {
                let (r, _) = ws(cx, &after_ws[3..])?;
                let (r, value) = rate(cx, r)?;
                min = Some(value);
                rest = r;
            }
            Some("window") => {
                let (r, _) = ws(cx, &after_ws[6..])?;
                let (r, value) = duration(cx, r)?;
                window = Some(value);
                rest = r;
            }
            _ => break,
        }
    }
    Ok((
        rest,
        RetryBudget {
            percent: share,
            min,
            window,
            span: cx.span(start, rest),
        },
    ))
}

/// An optional `min_requests N` on the same line.
fn min_requests<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, Option<Spanned<u64>>> {
    let (after_ws, _) = ws_inline(cx, input)?;
    if peek_word(after_ws) != Some("min_requests") {
        return Ok((input, None));
    }
    let (r, _) = ws(cx, &after_ws["min_requests".len()..])?;
    let (r, n) = integer(
        cx,
        r,
        "the requests an endpoint needs in an interval to be judged",
    )?;
    Ok((r, Some(n)))
}

/// `latency FACTORx [min_requests N] [min_latency D]` after its keyword; `start` is the keyword.
fn latency<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, LatencyDetector> {
    let (mut rest, factor_percent) = factor(cx, input)?;
    let mut min_requests = None;
    let mut min_latency = None;
    loop {
        let (after_ws, _) = ws_inline(cx, rest)?;
        match peek_word(after_ws) {
            Some("min_requests") => {
                let (r, n) = self::min_requests(cx, rest)?;
                min_requests = n;
                rest = r;
            }
            Some("min_latency") => {
                let (r, _) = ws(cx, &after_ws["min_latency".len()..])?;
                let (r, d) = duration(cx, r)?;
                min_latency = Some(d);
                rest = r;
            }
            _ => break,
        }
    }
    Ok((
        rest,
        LatencyDetector {
            factor_percent,
            min_requests,
            min_latency,
            span: cx.span(start, rest),
        },
    ))
}

/// A factor such as `3x` or `1.5x`, in percent (300, 150).
fn factor<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, Spanned<u32>> {
    let expected = || PError::expected(input, "a factor such as `3x` or `1.5x`").fail();
    let whole_len = input.bytes().take_while(u8::is_ascii_digit).count();
    if whole_len == 0 || whole_len > 6 {
        return expected();
    }
    let mut end = whole_len;
    let mut tenths_text = "";
    if input[end..].starts_with('.') {
        let digits = input[end + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        if digits == 0 || digits > 2 {
            return expected();
        }
        tenths_text = &input[end + 1..end + 1 + digits];
        end += 1 + digits;
    }
    if !input[end..].starts_with('x') {
        return expected();
    }
    let whole: u32 = input[..whole_len].parse().unwrap_or(0);
    let fraction: u32 = match tenths_text.len() {
        0 => 0,
        1 => tenths_text.parse::<u32>().unwrap_or(0) * 10,
        _ => tenths_text.parse().unwrap_or(0),
    };
    let rest = &input[end + 1..];
    Ok((
        rest,
        Spanned::new(whole * 100 + fraction, cx.span(input, rest)),
    ))
}

fn circuit_breaker<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, CircuitBreaker> {
    let mut breaker = CircuitBreaker {
        consecutive_errors: None,
        eject: None,
        max_ejected: None,
        failure_percentage: None,
        success_rate: None,
        latency: None,
        interval: None,
        max_requests: None,
        span: cx.span(start, input),
    };
    let keywords = [
        "consecutive_errors",
        "eject",
        "max_ejected",
        "failure_percentage",
        "success_rate",
        "latency",
        "interval",
        "max_requests",
    ];
    let (rest, _) = block(
        cx,
        input,
        "circuit_breaker block",
        &keywords,
        |start, kw, input| {
            let rest = match kw.node {
                "failure_percentage" => {
                    let (r, p) = percent(cx, input)?;
                    let (r, min) = min_requests(cx, r)?;
                    breaker.failure_percentage = Some((p, min));
                    r
                }
                "success_rate" => {
                    let after = &start[kw.node.len()..];
                    let (r, min) = min_requests(cx, after)?;
                    breaker.success_rate = Some((kw.span, min));
                    r
                }
                "latency" => {
                    let (r, detector) = latency(cx, start, input)?;
                    breaker.latency = Some(detector);
                    r
                }
                "interval" => {
                    let (r, d) = duration(cx, input)?;
                    breaker.interval = Some(d);
                    r
                }
                "consecutive_errors" => {
                    let (r, n) = integer(cx, input, "a number of errors")?;
                    breaker.consecutive_errors = Some(n);
                    r
                }
                "eject" => {
                    let (r, d) = duration(cx, input)?;
                    breaker.eject = Some(d);
                    r
                }
                "max_ejected" => {
                    let (r, p) = percent(cx, input)?;
                    breaker.max_ejected = Some(p);
                    r
                }
                "max_requests" => {
                    let (r, n) = integer(cx, input, "a number of requests")?;
                    if n.node == 0 || u32::try_from(n.node).is_err() {
                        let message = format!(
                            "max_requests must be between 1 and {}; 0 would refuse every request",
                            u32::MAX
                        );
                        let len = input.len() - r.len();
                        return PError::at(
                            input,
                            len,
                            &codes::NUMBER_OUT_OF_RANGE,
                            &message,
                            "out of range",
                        )
                        .help("leave max_requests out for no limit")
                        .fail();
                    }
                    breaker.max_requests = Some(n);
                    r
                }
                _ => return Ok((input, None)),
            };
            Ok((rest, Some(())))
        },
    )?;
    breaker.span = cx.span(start, rest);
    Ok((rest, breaker))
}

fn health_check<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, HealthCheck> {
    let (r, method_value, grpc) = if input.starts_with('"') {
        (input, None, None)
    } else if peek_word(input) == Some("grpc") {
        let r = &input["grpc".len()..];
        let grpc = cx.span(input, r);
        (ws(cx, r)?.0, None, Some(grpc))
    } else {
        let (r, m) = method(cx, input)?;
        (ws(cx, r)?.0, Some(m), None)
    };
    let what = if grpc.is_some() {
        "the gRPC service to ask about in quotes (\"\" for the whole server)"
    } else {
        "the health check path in quotes"
    };
    let (r, path) = string(cx, r, what)?;
    let (r, _) = ws(cx, r)?;
    let (r, _) = keyword(r, "every")?;
    let (r, _) = ws(cx, r)?;
    let (mut rest, every) = duration(cx, r)?;
    let mut check = HealthCheck {
        method: method_value,
        grpc,
        path,
        every,
        timeout: None,
        healthy: None,
        unhealthy: None,
        span: cx.span(start, rest),
    };
    loop {
        let (after_ws, _) = ws_inline(cx, rest)?;
        match peek_word(after_ws) {
            Some("timeout") => {
                let (r, _) = ws(cx, &after_ws[7..])?;
                let (r, d) = duration(cx, r)?;
                check.timeout = Some(d);
                rest = r;
            }
            Some(option @ ("healthy" | "unhealthy")) => {
                let (r, _) = ws(cx, &after_ws[option.len()..])?;
                let (r, n) = integer(cx, r, "a number of checks")?;
                if option == "healthy" {
                    check.healthy = Some(n);
                } else {
                    check.unhealthy = Some(n);
                }
                rest = r;
            }
            _ => break,
        }
    }
    check.span = cx.span(start, rest);
    Ok((rest, check))
}
