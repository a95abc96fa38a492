//! The gateway's changes to a message it received as header lines: a few per message
//! (`RateLimit-*`, CORS, header rules), so a short list rather than an `http::HeaderMap`, which
//! would cost a hash per name and an allocation per message. Numbers (`RateLimit-Remaining`) are
//! written in place rather than into a `HeaderValue`, which would allocate.
//!
//! The list reads like a map: grouped by name, in the order names were first set, a set value
//! replacing every value of its name where the first one stood.

use http::{HeaderName, HeaderValue};

/// The longest `u64` in decimal.
const MAX_DIGITS: usize = 20;

/// A value the gateway sets.
#[derive(Debug, Clone)]
enum EditValue {
    /// A header value.
    Value(HeaderValue),
    /// A number, in decimal.
    Digits { bytes: [u8; MAX_DIGITS], len: u8 },
}

impl EditValue {
    fn number(value: u64) -> Self {
        let mut digits = itoa::Buffer::new();
        let text = digits.format(value).as_bytes();
        let mut bytes = [0; MAX_DIGITS];
        bytes[..text.len()].copy_from_slice(text);
        EditValue::Digits {
            bytes,
            len: text.len() as u8,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            EditValue::Value(value) => value.as_bytes(),
            EditValue::Digits { bytes, len } => &bytes[..usize::from(*len)],
        }
    }

    fn to_header_value(&self) -> HeaderValue {
        match self {
            EditValue::Value(value) => value.clone(),
            EditValue::Digits { bytes, len } => {
                let mut digits = 0u64;
                for digit in &bytes[..usize::from(*len)] {
                    digits = digits * 10 + u64::from(digit - b'0');
                }
                HeaderValue::from(digits)
            }
        }
    }
}

/// Headers the gateway set, removed or added.
#[derive(Debug, Clone, Default)]
pub struct HeaderEdits {
    entries: Vec<(HeaderName, EditValue)>,
}

impl HeaderEdits {
    /// Whether nothing was set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every `(name, value)`, grouped by name.
    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &[u8])> {
        self.entries
            .iter()
            .map(|(name, value)| (name, value.as_bytes()))
    }

    /// Every `(name, value)` as header values (for an `http::HeaderMap`).
    pub fn header_values(&self) -> impl Iterator<Item = (&HeaderName, HeaderValue)> {
        self.entries
            .iter()
            .map(|(name, value)| (name, value.to_header_value()))
    }

    /// The first value of `name` (in lower case).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, value)| value.as_bytes())
    }

    /// Replaces every value of `name` with `value`.
    pub fn set(&mut self, name: HeaderName, value: HeaderValue) {
        self.set_value(name, EditValue::Value(value));
    }

    /// Replaces every value of `name` with the decimal `value`.
    pub fn set_number(&mut self, name: HeaderName, value: u64) {
        self.set_value(name, EditValue::number(value));
    }

    fn set_value(&mut self, name: HeaderName, value: EditValue) {
        match self.entries.iter().position(|(n, _)| *n == name) {
            Some(first) => {
                self.entries[first].1 = value;
                let mut index = 0;
                self.entries.retain(|(n, _)| {
                    index += 1;
                    index - 1 <= first || *n != name
                });
            }
            None => self.entries.push((name, value)),
        }
    }

    /// Adds a value of `name` after its others.
    pub fn append(&mut self, name: HeaderName, value: HeaderValue) {
        let value = EditValue::Value(value);
        match self.entries.iter().rposition(|(n, _)| *n == name) {
            Some(last) => self.entries.insert(last + 1, (name, value)),
            None => self.entries.push((name, value)),
        }
    }

    /// Removes every value of `name`.
    pub fn remove(&mut self, name: &HeaderName) {
        self.entries.retain(|(n, _)| n != name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(edits: &HeaderEdits) -> Vec<String> {
        edits
            .iter()
            .map(|(n, v)| format!("{n}: {}", String::from_utf8_lossy(v)))
            .collect()
    }

    #[test]
    fn edits_group_by_name_and_set_replaces_in_place() {
        let (a, b) = (
            HeaderName::from_static("x-a"),
            HeaderName::from_static("x-b"),
        );
        let mut edits = HeaderEdits::default();
        edits.set(a.clone(), HeaderValue::from_static("1"));
        edits.set_number(b.clone(), 18_446_744_073_709_551_615);
        edits.append(a.clone(), HeaderValue::from_static("2"));
        assert_eq!(
            listed(&edits),
            ["x-a: 1", "x-a: 2", "x-b: 18446744073709551615"]
        );
        edits.set_number(a.clone(), 0);
        assert_eq!(listed(&edits), ["x-a: 0", "x-b: 18446744073709551615"]);
        assert_eq!(edits.get("x-a"), Some(&b"0"[..]));
        let values: Vec<HeaderValue> = edits.header_values().map(|(_, v)| v).collect();
        assert_eq!(values, ["0", "18446744073709551615"]);
        edits.remove(&b);
        assert_eq!(listed(&edits), ["x-a: 0"]);
    }
}
