//! Where a JSON pointer lands in the text of a JSON document, so a diagnostic about a schema
//! keyword can point at it. A small scanner: the document is already known to parse, and only
//! the path to the target is followed (siblings are skipped without building values).

use std::ops::Range;

/// The byte range of the value `pointer` (RFC 6901) names in `text`, or `None` when the
/// pointer does not lead to a value.
pub fn value_range(text: &str, pointer: &str) -> Option<Range<usize>> {
    let tokens: Vec<String> = if pointer.is_empty() {
        Vec::new()
    } else {
        pointer
            .strip_prefix('/')?
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect()
    };
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        at: 0,
    };
    scanner.find(&tokens)
}

/// The byte offset of 1-based `line` and `column` (as `serde_json` reports them) in `text`.
pub fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let line_start = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum::<usize>();
    let mut offset = (line_start + column.saturating_sub(1)).min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    fn find(&mut self, tokens: &[String]) -> Option<Range<usize>> {
        self.skip_whitespace();
        let Some((token, rest)) = tokens.split_first() else {
            let start = self.at;
            self.skip_value()?;
            return Some(start..self.at);
        };
        match self.peek()? {
            b'{' => {
                self.at += 1;
                loop {
                    self.skip_whitespace();
                    if self.peek()? == b'}' {
                        return None;
                    }
                    let key = self.string()?;
                    self.skip_whitespace();
                    if self.peek()? != b':' {
                        return None;
                    }
                    self.at += 1;
                    if key == *token {
                        return self.find(rest);
                    }
                    self.skip_whitespace();
                    self.skip_value()?;
                    self.skip_whitespace();
                    if self.peek()? == b',' {
                        self.at += 1;
                    }
                }
            }
            b'[' => {
                let wanted: usize = token.parse().ok()?;
                self.at += 1;
                let mut index = 0;
                loop {
                    self.skip_whitespace();
                    if self.peek()? == b']' {
                        return None;
                    }
                    if index == wanted {
                        return self.find(rest);
                    }
                    self.skip_value()?;
                    self.skip_whitespace();
                    if self.peek()? == b',' {
                        self.at += 1;
                    }
                    index += 1;
                }
            }
            _ => None,
        }
    }

    /// Reads a string at the cursor and returns it decoded.
    fn string(&mut self) -> Option<String> {
        let start = self.at;
        self.skip_string()?;
        serde_json::from_slice(&self.bytes[start..self.at]).ok()
    }

    fn skip_string(&mut self) -> Option<()> {
        if self.peek()? != b'"' {
            return None;
        }
        self.at += 1;
        loop {
            match self.peek()? {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    return Some(());
                }
                _ => self.at += 1,
            }
        }
    }

    /// Skips one value; containers by counting brackets outside strings (no recursion).
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.skip_string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.at += 1;
                }
            }
            _ => {
                let start = self.at;
                while self
                    .peek()
                    .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
                {
                    self.at += 1;
                }
                (self.at > start).then_some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"{
  "type": "object",
  "properties": {
    "a/b": {"type": "string"},
    "severity": { "enum": ["green", "red"] }
  }
}"#;

    fn at(pointer: &str) -> Option<&'static str> {
        value_range(TEXT, pointer).map(|r| &TEXT[r])
    }

    #[test]
    fn pointers_land_on_their_values() {
        assert_eq!(at("/type"), Some("\"object\""));
        assert_eq!(at("/properties/severity/enum/1"), Some("\"red\""));
        assert_eq!(at("/properties/a~1b/type"), Some("\"string\""));
        assert_eq!(at(""), Some(TEXT));
    }

    #[test]
    fn a_pointer_to_nothing_is_none() {
        assert_eq!(at("/properties/missing"), None);
        assert_eq!(at("/properties/severity/enum/9"), None);
        assert_eq!(at("/type/x"), None);
        assert_eq!(value_range("{\"a\": [1,", "/a/5"), None);
    }

    #[test]
    fn line_and_column_become_an_offset() {
        assert_eq!(offset_of(TEXT, 2, 3), TEXT.find("\"type\"").unwrap());
        assert_eq!(offset_of("é", 1, 2), 0);
        assert_eq!(offset_of("ab", 9, 9), 2);
    }
}
