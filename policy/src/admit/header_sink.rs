//! Where admission writes headers (header rules, CORS, `RateLimit-*`): an `http::HeaderMap`, or
//! the proxy's message headers, which keep the upstream's lines as they arrived and record the
//! gateway's changes beside them (meshd's `forward::message_headers::MessageHeaders`).

use http::{HeaderMap, HeaderName, HeaderValue};

/// A set of headers admission can change.
pub trait HeaderSink {
    /// Replaces every value of `name` with `value`.
    fn set_header(&mut self, name: HeaderName, value: HeaderValue);
    /// Replaces every value of `name` with the decimal `value` (`RateLimit-*`): a sink that can
    /// write it without a `HeaderValue` spares an allocation.
    fn set_number(&mut self, name: HeaderName, value: u64) {
        self.set_header(name, HeaderValue::from(value));
    }
    /// Adds a value of `name`, keeping the others.
    fn append_header(&mut self, name: HeaderName, value: HeaderValue);
    /// Removes every value of `name`.
    fn remove_header(&mut self, name: &HeaderName);
}

impl HeaderSink for HeaderMap {
    fn set_header(&mut self, name: HeaderName, value: HeaderValue) {
        self.insert(name, value);
    }

    fn append_header(&mut self, name: HeaderName, value: HeaderValue) {
        self.append(name, value);
    }

    fn remove_header(&mut self, name: &HeaderName) {
        self.remove(name);
    }
}
