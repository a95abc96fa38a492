//! Fuzz the formatter: whatever parses must format without panicking, to text that parses,
//! keeps every comment and formats to itself (`format_source` checks all three).
//! Run: `cd compiler/fuzz && cargo fuzz run fmt` (see compiler/fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshc::fmt::{format_source, FormatError};
use meshc::source::FileId;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match format_source(FileId(0), text) {
            Ok(_) | Err(FormatError::Syntax(_)) => {}
            Err(error @ FormatError::Unstable(_)) => panic!("{error}"),
        }
    }
});
