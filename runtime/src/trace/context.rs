//! W3C trace context (`traceparent`, <https://www.w3.org/TR/trace-context/>): read from a request
//! or a Kafka record, continued with a new span id, started when absent. Ids come from a
//! thread-local wyrand (`fastrand`): no lock, no allocation, a few nanoseconds per id.

/// The flag bit meaning "the caller records this trace".
const SAMPLED: u8 = 0x01;

/// The length of a version-00 `traceparent`: `00-<32 hex>-<16 hex>-<2 hex>`.
pub const TRACEPARENT_LEN: usize = 55;

/// One span's place in a trace: what `traceparent` carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    /// The trace's id (never all zeros).
    pub trace_id: [u8; 16],
    /// The span's id (never all zeros).
    pub span_id: [u8; 8],
    /// The trace flags; only the sampled bit is kept.
    pub flags: u8,
}

impl TraceContext {
    /// Reads a `traceparent` value; `None` when it is malformed (then a new trace starts and any
    /// `tracestate` is dropped, as the specification asks). A version above 00 is read by its
    /// version-00 prefix, as the specification allows.
    pub fn parse(value: &[u8]) -> Option<TraceContext> {
        let value = trim(value);
        if value.len() < TRACEPARENT_LEN {
            return None;
        }
        let version = hex_byte(&value[0..2])?;
        if version == 0xff
            || (version == 0 && value.len() != TRACEPARENT_LEN)
            || (value.len() > TRACEPARENT_LEN && value[TRACEPARENT_LEN] != b'-')
            || value[2] != b'-'
            || value[35] != b'-'
            || value[52] != b'-'
        {
            return None;
        }
        let mut trace_id = [0u8; 16];
        for (i, byte) in trace_id.iter_mut().enumerate() {
            *byte = hex_byte(&value[3 + 2 * i..5 + 2 * i])?;
        }
        let mut span_id = [0u8; 8];
        for (i, byte) in span_id.iter_mut().enumerate() {
            *byte = hex_byte(&value[36 + 2 * i..38 + 2 * i])?;
        }
        let flags = hex_byte(&value[53..55])?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(TraceContext {
            trace_id,
            span_id,
            flags: flags & SAMPLED,
        })
    }

    /// A new trace, recorded or not.
    pub fn start(sampled: bool) -> TraceContext {
        let mut trace_id = [0u8; 16];
        trace_id[..8].copy_from_slice(&nonzero_u64().to_be_bytes());
        trace_id[8..].copy_from_slice(&fastrand::u64(..).to_be_bytes());
        TraceContext {
            trace_id,
            span_id: nonzero_u64().to_be_bytes(),
            flags: if sampled { SAMPLED } else { 0 },
        }
    }

    /// A child span of this one: same trace and flags, a new span id.
    pub fn child(&self) -> TraceContext {
        TraceContext {
            span_id: nonzero_u64().to_be_bytes(),
            ..*self
        }
    }

    /// Whether the trace is recorded.
    pub fn sampled(&self) -> bool {
        self.flags & SAMPLED != 0
    }

    /// The `traceparent` value naming this span as the parent of the next hop.
    pub fn traceparent(&self) -> [u8; TRACEPARENT_LEN] {
        let mut out = [b'-'; TRACEPARENT_LEN];
        out[0] = b'0';
        out[1] = b'0';
        write_hex(&self.trace_id, &mut out[3..35]);
        write_hex(&self.span_id, &mut out[36..52]);
        write_hex(&[self.flags], &mut out[53..55]);
        out
    }

    /// The trace id in lower-case hex (the access log's `trace_id`).
    pub fn trace_id_hex(&self) -> String {
        hex::encode(self.trace_id)
    }

    /// The span id in lower-case hex (the access log's `span_id`).
    pub fn span_id_hex(&self) -> String {
        hex::encode(self.span_id)
    }
}

/// Whether a new trace is recorded, for a gateway sampling `percent` of them.
pub fn sample(percent: u8) -> bool {
    percent >= 100 || (percent > 0 && fastrand::u8(0..100) < percent)
}

fn nonzero_u64() -> u64 {
    fastrand::u64(1..)
}

fn trim(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &value[start..end]
}

/// Two lower-case hex digits (the specification refuses upper case).
fn hex_byte(pair: &[u8]) -> Option<u8> {
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    Some(digit(pair[0])? << 4 | digit(pair[1])?)
}

/// Every byte's two lower-case hex digits: one lookup a byte (a `traceparent` is written on
/// every traced hop).
const HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut pairs = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        pairs[i] = [DIGITS[i >> 4], DIGITS[i & 0xf]];
        i += 1;
    }
    pairs
};

fn write_hex(bytes: &[u8], out: &mut [u8]) {
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&HEX_PAIRS[usize::from(*byte)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &[u8] = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_specification_example_round_trips() {
        let context = TraceContext::parse(EXAMPLE).unwrap();
        assert!(context.sampled());
        assert_eq!(context.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(context.span_id_hex(), "00f067aa0ba902b7");
        assert_eq!(&context.traceparent()[..], EXAMPLE);
    }

    #[test]
    fn a_child_keeps_the_trace_and_flags_with_a_new_span() {
        let parent = TraceContext::parse(EXAMPLE).unwrap();
        let child = parent.child();
        assert_eq!(child.trace_id, parent.trace_id);
        assert_eq!(child.flags, parent.flags);
        assert_ne!(child.span_id, parent.span_id);
        assert_ne!(child.span_id, [0; 8]);
    }

    #[test]
    fn malformed_values_are_refused() {
        for bad in [
            &b""[..],
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            b"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            b"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        ] {
            assert_eq!(
                TraceContext::parse(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn a_later_version_is_read_by_its_prefix_and_flags_keep_only_sampled() {
        let value = b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-more";
        let context = TraceContext::parse(value).unwrap();
        assert_eq!(context.flags, 1);
        assert_eq!(&context.traceparent()[..2], b"00");
    }

    #[test]
    fn sampling_zero_and_hundred_percent_are_exact() {
        assert!((0..1000).all(|_| sample(100)));
        assert!((0..1000).all(|_| !sample(0)));
        let some = (0..10_000).filter(|_| sample(10)).count();
        assert!((500..1500).contains(&some), "{some} of 10000 at 10%");
    }
}
