//! Protocol Buffers varints (base-128, least significant group first): written by the OTLP span
//! writer and the gRPC health check's request, read from the health check's answer.

use bytes::{Buf, Bytes};

/// The most bytes a varint of a `u64` takes.
pub const MAX_LEN: usize = 10;

/// Appends `value`; most are lengths under 128: one byte, written inline.
#[inline(always)]
pub fn put(out: &mut Vec<u8>, value: u64) {
    if value < 0x80 {
        out.push(value as u8);
    } else {
        put_long(out, value);
    }
}

#[inline(never)]
fn put_long(out: &mut Vec<u8>, value: u64) {
    let mut bytes = [0u8; MAX_LEN];
    let len = write_into(&mut bytes, value);
    out.extend_from_slice(&bytes[..len]);
}

/// Writes `value` at the start of `out` (which has room for [`MAX_LEN`] bytes or the value's
/// [`len`]); returns the bytes written.
pub fn write_into(out: &mut [u8], mut value: u64) -> usize {
    let mut i = 0;
    while value >= 0x80 {
        out[i] = (value as u8) | 0x80;
        value >>= 7;
        i += 1;
    }
    out[i] = value as u8;
    i + 1
}

/// The bytes `value` takes.
#[inline(always)]
pub fn len(value: u64) -> usize {
    // 7 bits a byte; 0 still takes one.
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// Reads a varint from the front of `body`; `None` when it ends first or runs past 64 bits.
pub fn take(body: &mut Bytes) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        if !body.has_remaining() {
            return None;
        }
        let byte = body.get_u8();
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_is_read_back_in_the_length_said() {
        for value in [
            0,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u32::MAX as u64,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put(&mut out, value);
            assert_eq!(out.len(), len(value), "{value}");
            let mut at_start = [0u8; MAX_LEN];
            assert_eq!(write_into(&mut at_start, value), len(value));
            assert_eq!(&at_start[..len(value)], &out[..]);
            let mut body = Bytes::from(out);
            assert_eq!(take(&mut body), Some(value));
            assert!(body.is_empty());
        }
        // 300 is the protobuf documentation's example.
        let mut out = Vec::new();
        put(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
        // Cut short, or eleven continuation bytes: not a varint.
        assert_eq!(take(&mut Bytes::from_static(&[0x80])), None);
        assert_eq!(take(&mut Bytes::from_static(&[0xff; 11])), None);
    }
}
