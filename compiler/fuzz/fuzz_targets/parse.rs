//! Fuzz the whole front end: any bytes through the loader's UTF-8 checks and the parser.
//! Run: `cd compiler/fuzz && cargo fuzz run parse` (see compiler/fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshc::source::FileId;
use meshc::syntax::parser::parse_file;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let (_, diagnostics) = parse_file(FileId(0), text);
        for diagnostic in diagnostics {
            for label in diagnostic.labels {
                assert!(label.span.end as usize <= text.len());
            }
        }
    }
});
