//! Literals in canonical spelling: strings re-escaped, durations and sizes in the largest unit
//! that divides them exactly, integers without `_`, secrets and lists with canonical spacing.

use crate::source::Span;
use crate::syntax::ast::{Backoff, Duration, Percent, Rate, SecretSource, Size};

use super::layout::{List, ListItem, Part};
use super::source_scan::SourceText;

/// A string literal: quotes, and escapes only where the grammar needs them.
pub fn string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `250ms`, `2s`, `5m`, `1h`, `1d`: the largest unit that divides the value exactly.
pub fn duration(duration: Duration) -> String {
    const UNITS: [(u64, &str); 4] = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
    ];
    let millis = duration.millis;
    if millis == 0 {
        return "0s".to_string();
    }
    for (scale, unit) in UNITS {
        if millis % scale == 0 {
            return format!("{}{unit}", millis / scale);
        }
    }
    format!("{millis}ms")
}

/// `1MiB`, `512KB`, `100B`: the unit that gives the smallest whole number.
pub fn size(size: Size) -> String {
    const UNITS: [(u64, &str); 6] = [
        (1 << 30, "GiB"),
        (1_000_000_000, "GB"),
        (1 << 20, "MiB"),
        (1_000_000, "MB"),
        (1 << 10, "KiB"),
        (1_000, "KB"),
    ];
    let bytes = size.bytes;
    if bytes != 0 {
        for (scale, unit) in UNITS {
            if bytes % scale == 0 {
                return format!("{}{unit}", bytes / scale);
            }
        }
    }
    format!("{bytes}B")
}

/// `100/min`.
pub fn rate(rate: Rate) -> String {
    format!("{}/{}", rate.count, rate.period.unit())
}

/// `50%`.
pub fn percent(percent: Percent) -> String {
    format!("{}%", percent.value)
}

/// `env("NAME")`, `file("path")` or an inline `"literal"` (which the checker refuses).
pub fn secret(secret: &SecretSource) -> String {
    match secret {
        SecretSource::Env(name) => format!("env({})", string(name)),
        SecretSource::File(path) => format!("file({})", string(path)),
        SecretSource::Inline(value) => string(value),
    }
}

/// `25ms..250ms`.
pub fn backoff(backoff: &Backoff) -> String {
    format!(
        "{}..{}",
        duration(backoff.min.node),
        duration(backoff.max.node)
    )
}

/// A `[…]` list of `items`, each printed by `text` and located by `span`; `[]` when empty.
pub fn list<T>(
    source: &SourceText<'_>,
    items: &[T],
    text: impl Fn(&T) -> String,
    span: impl Fn(&T) -> Span,
) -> Part {
    let (Some(first), Some(last)) = (items.first(), items.last()) else {
        return Part::Text("[]".to_string());
    };
    let items: Vec<ListItem> = items
        .iter()
        .map(|item| {
            let span = span(item);
            ListItem {
                text: text(item),
                start: span.start as usize,
                end: span.end as usize,
            }
        })
        .collect();
    let open = source.open_bracket(span(first).start as usize);
    let close = source.close_bracket(span(last).end as usize);
    Part::List(List { items, open, close })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_use_the_largest_exact_unit() {
        let cases = [
            (250, "250ms"),
            (2_000, "2s"),
            (90_000, "90s"),
            (120_000, "2m"),
            (86_400_000, "1d"),
            (0, "0s"),
            (1_500, "1500ms"),
        ];
        for (millis, text) in cases {
            assert_eq!(duration(Duration { millis }), text);
        }
    }

    #[test]
    fn sizes_use_the_unit_giving_the_smallest_number() {
        let cases = [
            (1 << 20, "1MiB"),
            (1_000_000, "1MB"),
            (1_024_000, "1000KiB"),
            (100, "100B"),
            (0, "0B"),
            (3 << 30, "3GiB"),
        ];
        for (bytes, text) in cases {
            assert_eq!(size(Size { bytes }), text);
        }
    }

    #[test]
    fn strings_escape_only_what_the_grammar_needs() {
        assert_eq!(
            string("a \"b\" \\ é\n\u{1}"),
            "\"a \\\"b\\\" \\\\ é\\n\\u{1}\""
        );
    }
}
