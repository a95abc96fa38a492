//! Requests as they arrive on the wire, in the form admission reads them.

pub mod raw_headers;
