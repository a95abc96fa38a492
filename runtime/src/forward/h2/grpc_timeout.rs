//! The `grpc-timeout` header (gRPC over HTTP/2: `1*8DIGIT unit`, units H M S m u n): read from
//! the client's call, and written to the upstream as what is left of the request's budget.

use std::time::Duration;

/// The timeout a `grpc-timeout` value asks for; `None` when it is malformed (then ignored, as
/// gRPC servers do).
pub fn parse_grpc_timeout(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let amount: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(amount.saturating_mul(3600)),
        b'M' => Duration::from_secs(amount.saturating_mul(60)),
        b'S' => Duration::from_secs(amount),
        b'm' => Duration::from_millis(amount),
        b'u' => Duration::from_micros(amount),
        b'n' => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// `remaining` as a `grpc-timeout` value: milliseconds when they fit in 8 digits (rounded up,
/// so a live call never reads as 0), else seconds, else hours.
pub fn format_grpc_timeout(remaining: Duration) -> String {
    const MAX: u128 = 99_999_999;
    let millis = remaining.as_micros().div_ceil(1000).max(1);
    if millis <= MAX {
        return format!("{millis}m");
    }
    let seconds = remaining.as_secs();
    if u128::from(seconds) <= MAX {
        return format!("{seconds}S");
    }
    format!("{}H", (seconds / 3600).min(99_999_999))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_is_read() {
        assert_eq!(parse_grpc_timeout(b"2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_grpc_timeout(b"3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse_grpc_timeout(b"4S"), Some(Duration::from_secs(4)));
        assert_eq!(
            parse_grpc_timeout(b"250m"),
            Some(Duration::from_millis(250))
        );
        assert_eq!(parse_grpc_timeout(b"7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse_grpc_timeout(b"9n"), Some(Duration::from_nanos(9)));
    }

    #[test]
    fn malformed_values_are_ignored() {
        for bad in [
            &b""[..],
            b"m",
            b"10",
            b"10x",
            b"-1m",
            b"123456789m",
            b"1.5S",
        ] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_remaining_budget_is_written_in_milliseconds_rounded_up() {
        assert_eq!(format_grpc_timeout(Duration::from_micros(1500)), "2m");
        assert_eq!(format_grpc_timeout(Duration::ZERO), "1m");
        assert_eq!(format_grpc_timeout(Duration::from_secs(200_000)), "200000S");
        let long = Duration::from_secs(100_000_000);
        assert_eq!(
            parse_grpc_timeout(format_grpc_timeout(long).as_bytes()),
            Some(Duration::from_secs(27_777 * 3600))
        );
    }
}
