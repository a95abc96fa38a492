//! Typed literals: durations, rates, sizes, percentages, secrets, lists, addresses.

use crate::diagnostics::codes;
use crate::source::Spanned;
use crate::syntax::ast::{Duration, Ident, Percent, Rate, RatePeriod, SecretSource, Size};

use super::context::Ctx;
use super::error::{PError, PResult};
use super::lexical::{integer, string, symbol, word, ws, MAX_IDENT_LEN};

fn unit_suffix(input: &str) -> &str {
    let len = input
        .char_indices()
        .find(|(_, c)| !c.is_ascii_alphabetic())
        .map(|(i, _)| i)
        .unwrap_or(input.len());
    &input[..len]
}

/// `250ms`, `2s`, `5m`, `1h`, `1d`.
pub fn duration<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, Spanned<Duration>> {
    let (rest, amount) = integer(cx, input, "a duration such as `2s`")?;
    let unit = unit_suffix(rest);
    let scale = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "" => {
            return PError::at(
                input,
                amount.span.len(),
                &codes::INVALID_LITERAL,
                "a duration needs a unit",
                "no unit",
            )
            .help(format!(
                "write `{}s` or `{}ms`; units are ms, s, m, h, d",
                amount.node, amount.node
            ))
            .fail()
        }
        other => {
            return PError::at(
                input,
                amount.span.len() + other.len(),
                &codes::INVALID_LITERAL,
                format!("unknown duration unit `{other}`"),
                "unknown unit",
            )
            .help("duration units are ms, s, m, h, d")
            .fail()
        }
    };
    let rest = &rest[unit.len()..];
    let Some(millis) = amount.node.checked_mul(scale) else {
        return PError::at(
            input,
            cx.offset(rest) - cx.offset(input),
            &codes::NUMBER_OUT_OF_RANGE,
            "duration is too long",
            "too long",
        )
        .help(format!(
            "durations are at most {} ms (about 584 million years)",
            u64::MAX
        ))
        .fail();
    };
    Ok((
        rest,
        Spanned::new(Duration { millis }, cx.span(input, rest)),
    ))
}

/// `100/min`, `5/s`, `1000/h`, `10/d`.
pub fn rate<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, Spanned<Rate>> {
    let (rest, count) = integer(cx, input, "a rate such as `100/min`")?;
    let Some(after_slash) = rest.strip_prefix('/') else {
        return PError::at(
            input,
            count.span.len(),
            &codes::INVALID_LITERAL,
            "a rate needs a period",
            "no period",
        )
        .help(format!(
            "write `{}/s`, `{}/min`, `{}/h` or `{}/d`",
            count.node, count.node, count.node, count.node
        ))
        .fail();
    };
    let unit = unit_suffix(after_slash);
    let period = match unit {
        "s" | "sec" | "second" => RatePeriod::Second,
        "min" | "minute" => RatePeriod::Minute,
        "h" | "hour" => RatePeriod::Hour,
        "d" | "day" => RatePeriod::Day,
        _ => {
            return PError::at(
                after_slash,
                unit.len().max(1),
                &codes::INVALID_LITERAL,
                format!("unknown rate period `{unit}`"),
                "unknown period",
            )
            .help("rate periods are s, min, h, d")
            .fail()
        }
    };
    let rest = &after_slash[unit.len()..];
    Ok((
        rest,
        Spanned::new(
            Rate {
                count: count.node,
                period,
            },
            cx.span(input, rest),
        ),
    ))
}

/// `512B`, `64KiB`, `1MiB`, `2GB`.
pub fn size<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, Spanned<Size>> {
    let (rest, amount) = integer(cx, input, "a size such as `1MiB`")?;
    let unit = unit_suffix(rest);
    let scale: u64 = match unit {
        "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "" => {
            return PError::at(
                input,
                amount.span.len(),
                &codes::INVALID_LITERAL,
                "a size needs a unit",
                "no unit",
            )
            .help("size units are B, KB, MB, GB, KiB, MiB, GiB")
            .fail()
        }
        other => {
            return PError::at(
                input,
                amount.span.len() + other.len(),
                &codes::INVALID_LITERAL,
                format!("unknown size unit `{other}`"),
                "unknown unit",
            )
            .help("size units are B, KB, MB, GB, KiB, MiB, GiB")
            .fail()
        }
    };
    let rest = &rest[unit.len()..];
    let Some(bytes) = amount.node.checked_mul(scale) else {
        return PError::at(
            input,
            cx.offset(rest) - cx.offset(input),
            &codes::NUMBER_OUT_OF_RANGE,
            "size is too large",
            "too large",
        )
        .help(format!("sizes are at most {} bytes (16 EiB)", u64::MAX))
        .fail();
    };
    Ok((rest, Spanned::new(Size { bytes }, cx.span(input, rest))))
}

/// `50%`, from 0 to 100.
pub fn percent<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, Spanned<Percent>> {
    let (rest, amount) = integer(cx, input, "a percentage such as `50%`")?;
    let Some(rest) = rest.strip_prefix('%') else {
        return PError::at(
            input,
            amount.span.len(),
            &codes::INVALID_LITERAL,
            "a percentage needs `%`",
            "no `%`",
        )
        .help(format!("write `{}%`", amount.node))
        .fail();
    };
    if amount.node > 100 {
        return PError::at(
            input,
            amount.span.len() + 1,
            &codes::NUMBER_OUT_OF_RANGE,
            "a percentage cannot exceed 100%",
            "over 100%",
        )
        .help("a percentage is between 0% and 100%")
        .fail();
    }
    Ok((
        rest,
        Spanned::new(
            Percent {
                value: amount.node as u8,
            },
            cx.span(input, rest),
        ),
    ))
}

/// An HTTP status code, 100–599.
pub fn status<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, Spanned<u16>> {
    let (rest, code) = integer(cx, input, "an HTTP status code")?;
    if !(100..=599).contains(&code.node) {
        return PError::at(
            input,
            code.span.len(),
            &codes::NUMBER_OUT_OF_RANGE,
            format!("{} is not an HTTP status code", code.node),
            "not between 100 and 599",
        )
        .help("HTTP status codes are between 100 and 599")
        .fail();
    }
    Ok((rest, Spanned::new(code.node as u16, code.span)))
}

/// `env("NAME")`, `file("path")`, or an inline `"literal"` (refused later by the checker).
pub fn secret<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, Spanned<SecretSource>> {
    if input.starts_with('"') {
        let (rest, literal) = string(cx, input, "a secret")?;
        return Ok((
            rest,
            Spanned::new(SecretSource::Inline(literal.node), literal.span),
        ));
    }
    let Ok((after_word, function)) = word(cx, input) else {
        return PError::expected(input, "a secret: `env(\"NAME\")` or `file(\"path\")`").fail();
    };
    if function.node != "env" && function.node != "file" {
        return PError::expected(input, "a secret: `env(\"NAME\")` or `file(\"path\")`")
            .help("meshd reads secrets when it loads the bundle, from an environment variable or a file")
            .fail();
    }
    let (rest, _) = ws(cx, after_word)?;
    let (rest, _) = symbol(rest, "(")?;
    let (rest, _) = ws(cx, rest)?;
    let (rest, argument) = string(cx, rest, "a string")?;
    let (rest, _) = ws(cx, rest)?;
    let (rest, _) = symbol(rest, ")").map_err(|_| {
        nom::Err::Failure(
            PError::expected(rest, "`)`")
                .secondary(after_word, 1, "to close this `(`")
                .help(format!("write `{}(\"{}\")`", function.node, argument.node)),
        )
    })?;
    let source = if function.node == "env" {
        SecretSource::Env(argument.node)
    } else {
        SecretSource::File(argument.node)
    };
    Ok((rest, Spanned::new(source, cx.span(input, rest))))
}

/// `[item, item, …]` with an optional trailing comma, items parsed by `item`.
pub fn list<'a, T>(
    cx: &Ctx,
    input: &'a str,
    what: &str,
    mut item: impl FnMut(&Ctx, &'a str) -> PResult<'a, T>,
) -> PResult<'a, Spanned<Vec<T>>> {
    let Some(mut rest) = input.strip_prefix('[') else {
        return PError::expected(input, &format!("a list of {what} in `[…]`")).fail();
    };
    let mut items = Vec::new();
    loop {
        rest = ws(cx, rest)?.0;
        if let Some(after) = rest.strip_prefix(']') {
            return Ok((after, Spanned::new(items, cx.span(input, after))));
        }
        if rest.is_empty() {
            return unclosed_list(input, rest);
        }
        if rest.starts_with('[') {
            return PError::expected(rest, what)
                .help("lists cannot be nested")
                .fail();
        }
        let (after_item, value) = item(cx, rest)?;
        items.push(value);
        rest = ws(cx, after_item)?.0;
        if let Some(after_comma) = rest.strip_prefix(',') {
            rest = after_comma;
        } else if !rest.starts_with(']') {
            if rest.is_empty() {
                return unclosed_list(input, rest);
            }
            return PError::expected(rest, "`,` or `]`")
                .secondary(input, 1, "in the list that starts here")
                .fail();
        }
    }
}

fn unclosed_list<'a, T>(open: &'a str, end: &'a str) -> PResult<'a, T> {
    PError::at(
        open,
        1,
        &codes::UNTERMINATED_BLOCK,
        "unclosed list",
        "this `[` is never closed",
    )
    .secondary(end, 0, "the file ends here")
    .help("add the missing `]`")
    .fatal()
    .fail()
}

/// A list of names.
pub fn ident_list<'a>(cx: &Ctx, input: &'a str, what: &str) -> PResult<'a, Spanned<Vec<Ident>>> {
    list(cx, input, what, |cx, i| super::lexical::ident(cx, i, what))
}

/// A list of strings.
pub fn string_list<'a>(
    cx: &Ctx,
    input: &'a str,
    what: &str,
) -> PResult<'a, Spanned<Vec<Spanned<String>>>> {
    list(cx, input, what, |cx, i| string(cx, i, what))
}

/// Checks a `host:port` string; `allow_zero` permits port 0 (an ephemeral listener port).
pub fn check_address(cx: &Ctx, address: &Spanned<String>, allow_zero: bool) -> Result<(), PError> {
    let text = &address.node;
    let problem = match text.rsplit_once(':') {
        None => Some("missing `:port`".to_string()),
        Some((host, port)) => {
            let host_ok = !host.is_empty()
                && (host.starts_with('[') == host.ends_with(']'))
                && host.len() <= MAX_IDENT_LEN
                && !host.contains(char::is_whitespace);
            match port.parse::<u32>() {
                _ if host.is_empty() => Some("missing host before `:port`".to_string()),
                _ if !host_ok => Some(format!("`{host}` is not a host name or address")),
                Ok(0) if !allow_zero => Some("port 0 is not a reachable port".to_string()),
                Ok(p) if p > 65_535 => Some(format!("port {p} is above 65535")),
                Ok(_) => None,
                Err(_) if port.chars().all(|c| c.is_ascii_digit()) && !port.is_empty() => {
                    Some(format!("port {port} is above 65535"))
                }
                Err(_) => Some(format!("`{port}` is not a port number")),
            }
        }
    };
    match problem {
        None => Ok(()),
        Some(problem) => {
            let rest = &cx.src[address.span.start as usize..];
            Err(PError::at(
                rest,
                address.span.len(),
                &codes::INVALID_ADDRESS,
                format!("invalid address \"{text}\": {problem}"),
                problem,
            )
            .help("write `host:port` with a port from 1 to 65535, e.g. \"127.0.0.1:8080\""))
        }
    }
}
