//! A `java.util.Properties.load` reader, because zoo.cfg is a Java properties file and
//! ZooKeeper reads it with exactly that class: `=`, `:` or whitespace separators,
//! `#`/`!` comments, backslash continuations and escapes. Unlike Java we keep the line
//! number of every key so error messages can point at it.

/// One `key=value` pair. `key` and `value` are unescaped but not trimmed (Java keeps the
/// value's trailing whitespace; ZooKeeper trims it afterwards, and so do our callers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyEntry {
    pub key: String,
    pub value: String,
    /// 1-based number of the first physical line of the (possibly continued) entry.
    pub line: usize,
}

/// A malformed `\uXXXX` escape, the only syntax error Java's loader reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertiesSyntaxError {
    pub line: usize,
    pub key: String,
}

/// Decodes a file's bytes. Java reads zoo.cfg as ISO-8859-1; we take UTF-8 when the
/// bytes are valid UTF-8 (what every editor writes today) and fall back to Latin-1 so
/// that no file is unreadable.
pub fn decode_bytes(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// Parses properties text into entries in file order. Duplicate keys are all
/// returned; as in `Properties`, the last one wins when the caller folds them.
pub fn parse(text: &str) -> Result<Vec<PropertyEntry>, PropertiesSyntaxError> {
    logical_lines(text)
        .into_iter()
        .map(|(line, chars)| split_entry(&chars, line))
        .collect()
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{c}')
}

/// Joins continued lines and drops blank and comment lines, mirroring
/// `Properties.LineReader`. Returns (first line number, raw chars still escaped).
fn logical_lines(text: &str) -> Vec<(usize, Vec<char>)> {
    let mut out = Vec::new();
    let mut physical = 1usize;
    let mut chars = text.chars().peekable();
    let mut current: Vec<char> = Vec::new();
    let mut start_line = 1usize;
    // At the start of a physical line we skip leading whitespace.
    let mut skip_white = true;
    // True right after a continuation: a blank continuation line ends the entry
    // instead of being skipped.
    let mut appended = false;
    let mut fresh = true; // at the start of a logical line
    let mut comment = false;
    let mut backslash = false;

    while let Some(c) = chars.next() {
        let newline = c == '\n' || c == '\r';
        if newline && c == '\r' && chars.peek() == Some(&'\n') {
            chars.next();
        }
        if comment {
            if newline {
                physical += 1;
                comment = false;
                skip_white = true;
                fresh = true;
            }
            continue;
        }
        if skip_white {
            if is_blank(c) {
                continue;
            }
            if !appended && newline {
                physical += 1;
                continue;
            }
            skip_white = false;
            appended = false;
        }
        if fresh && !newline {
            fresh = false;
            start_line = physical;
            if c == '#' || c == '!' {
                comment = true;
                continue;
            }
        }
        if !newline {
            backslash = c == '\\' && !backslash;
            current.push(c);
            continue;
        }
        physical += 1;
        if backslash {
            // An odd number of trailing backslashes continues the entry on the next line.
            current.pop();
            backslash = false;
            skip_white = true;
            appended = true;
            continue;
        }
        out.push((start_line, std::mem::take(&mut current)));
        skip_white = true;
        appended = false;
        fresh = true;
    }
    if !current.is_empty() || (!fresh && !comment) {
        if backslash {
            current.pop();
        }
        out.push((start_line, current));
    }
    out
}

/// Splits a logical line into key and value the way `Properties.load0` does.
fn split_entry(line: &[char], number: usize) -> Result<PropertyEntry, PropertiesSyntaxError> {
    let mut key_len = 0;
    let mut value_start = line.len();
    let mut has_sep = false;
    let mut backslash = false;
    while key_len < line.len() {
        let c = line[key_len];
        if (c == '=' || c == ':') && !backslash {
            value_start = key_len + 1;
            has_sep = true;
            break;
        }
        if is_blank(c) && !backslash {
            value_start = key_len + 1;
            break;
        }
        backslash = c == '\\' && !backslash;
        key_len += 1;
    }
    while value_start < line.len() {
        let c = line[value_start];
        if !is_blank(c) {
            if !has_sep && (c == '=' || c == ':') {
                has_sep = true;
            } else {
                break;
            }
        }
        value_start += 1;
    }
    let raw_key = &line[..key_len];
    let key = unescape(raw_key).ok_or_else(|| PropertiesSyntaxError {
        line: number,
        key: raw_key.iter().collect(),
    })?;
    let value = unescape(&line[value_start..]).ok_or_else(|| PropertiesSyntaxError {
        line: number,
        key: key.clone(),
    })?;
    Ok(PropertyEntry {
        key,
        value,
        line: number,
    })
}

/// `Properties.loadConvert`: `\uXXXX`, `\t \r \n \f`, and `\x` → `x` for anything else.
/// `None` on a malformed `\u` escape.
fn unescape(chars: &[char]) -> Option<String> {
    let mut out = String::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = chars.get(i) else { break };
        i += 1;
        match e {
            'u' => {
                let hex: String = chars.get(i..i + 4)?.iter().collect();
                let code = u32::from_str_radix(&hex, 16).ok()?;
                // Lone surrogates cannot be a Rust char; Java would keep them as is.
                out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                i += 4;
            }
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'n' => out.push('\n'),
            'f' => out.push('\u{c}'),
            other => out.push(other),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(text: &str) -> Vec<(String, String, usize)> {
        parse(text)
            .expect("parses")
            .into_iter()
            .map(|e| (e.key, e.value, e.line))
            .collect()
    }

    fn e(k: &str, v: &str, l: usize) -> (String, String, usize) {
        (k.into(), v.into(), l)
    }

    #[test]
    fn separators() {
        assert_eq!(
            kv("a=1\nb: 2\nc 3\nd = 4\ne\t:\t5\nf\n g=\n"),
            vec![
                e("a", "1", 1),
                e("b", "2", 2),
                e("c", "3", 3),
                e("d", "4", 4),
                e("e", "5", 5),
                e("f", "", 6),
                e("g", "", 7),
            ]
        );
        // Only the first separator counts; later ones are part of the value.
        assert_eq!(kv("server.1=h:1:2"), vec![e("server.1", "h:1:2", 1)]);
        assert_eq!(kv("a = = b"), vec![e("a", "= b", 1)]);
        assert_eq!(kv("a b c"), vec![e("a", "b c", 1)]);
    }

    #[test]
    fn comments_and_blank_lines() {
        let text = "# comment\n! also\n\n   \n  # indented comment\nk=v # not a comment\n";
        assert_eq!(kv(text), vec![e("k", "v # not a comment", 6)]);
        // A comment ending with a backslash does not continue.
        assert_eq!(kv("# c \\\nk=v"), vec![e("k", "v", 2)]);
    }

    #[test]
    fn leading_whitespace_and_trailing_kept() {
        assert_eq!(kv("   key=value  \t"), vec![e("key", "value  \t", 1)]);
    }

    #[test]
    fn continuation_lines() {
        let text = "a=one, \\\n     two, \\\n  three\nb=x\n";
        assert_eq!(kv(text), vec![e("a", "one, two, three", 1), e("b", "x", 4)]);
        // An even number of backslashes is an escaped backslash, not a continuation.
        assert_eq!(kv("a=x\\\\\nb=y"), vec![e("a", "x\\", 1), e("b", "y", 2)]);
        // A continuation line starting with '#' is data, not a comment.
        assert_eq!(kv("a=1\\\n#2"), vec![e("a", "1#2", 1)]);
        // A blank continuation line ends the entry.
        assert_eq!(kv("a=1\\\n\nb=2"), vec![e("a", "1", 1), e("b", "2", 3)]);
        // Backslash at end of file is dropped.
        assert_eq!(kv("a=1\\"), vec![e("a", "1", 1)]);
        // Continued key.
        assert_eq!(kv("tick\\\n  Time=5"), vec![e("tickTime", "5", 1)]);
    }

    #[test]
    fn escapes() {
        assert_eq!(
            kv(r"k=a\tb\nc\\d\u0041\:\=\ z"),
            vec![e("k", "a\tb\nc\\dA:= z", 1)]
        );
        // Escaped separators belong to the key.
        assert_eq!(kv(r"a\=b\ c=d"), vec![e("a=b c", "d", 1)]);
        assert_eq!(kv(r"x=C:\\data"), vec![e("x", r"C:\data", 1)]);
        assert_eq!(
            parse("ok=1\nk=\\u00zz"),
            Err(PropertiesSyntaxError {
                line: 2,
                key: "k".into()
            })
        );
    }

    #[test]
    fn line_endings() {
        assert_eq!(
            kv("a=1\r\nb=2\rc=3\n"),
            vec![e("a", "1", 1), e("b", "2", 2), e("c", "3", 3)]
        );
        assert_eq!(
            kv("a=1\\\r\n  2\r\nb=3"),
            vec![e("a", "12", 1), e("b", "3", 3)]
        );
    }

    #[test]
    fn decoding() {
        assert_eq!(decode_bytes("dataDir=/d/é".as_bytes()), "dataDir=/d/é");
        assert_eq!(decode_bytes(b"x=\xe9"), "x=é");
    }
}
