//! The `Date` header (RFC 9110 §6.6.1): sent on the gateway's own answers and added to upstream
//! responses that lack one. Formatted at most once a second per worker thread.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

/// An IMF-fixdate is always this long: `Sun, 06 Nov 1994 08:49:37 GMT`.
const DATE_LENGTH: usize = 29;

struct CachedDate {
    second: u64,
    text: [u8; DATE_LENGTH],
}

thread_local! {
    static CACHED: RefCell<CachedDate> = const {
        RefCell::new(CachedDate { second: u64::MAX, text: [b' '; DATE_LENGTH] })
    };
}

/// Appends `date: <now>\r\n` to `out`.
pub fn write_date_header(out: &mut Vec<u8>) {
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CACHED.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.second != second {
            let text = httpdate::fmt_http_date(now);
            if text.len() == DATE_LENGTH {
                cached.text.copy_from_slice(text.as_bytes());
                cached.second = second;
            }
        }
        out.extend_from_slice(b"date: ");
        out.extend_from_slice(&cached.text);
        out.extend_from_slice(b"\r\n");
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_an_imf_fixdate() {
        let mut out = Vec::new();
        write_date_header(&mut out);
        let text = String::from_utf8(out).unwrap();
        let value = text
            .strip_prefix("date: ")
            .and_then(|v| v.strip_suffix("\r\n"))
            .unwrap();
        assert!(value.ends_with(" GMT"), "{value}");
        assert!(httpdate::parse_http_date(value).is_ok(), "{value}");
    }
}
