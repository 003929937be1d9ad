//! Java's string-to-value conversions, reproduced so that a zoo.cfg or `-D` value is
//! accepted or rejected exactly where ZooKeeper's own parsing would accept or reject it.

/// `String.trim()`: Java strips every char `<= ' '` (all ASCII control chars), not only
/// Unicode whitespace, and ZooKeeper trims every zoo.cfg key and value this way.
pub(crate) fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// `Integer.parseInt` / `Long.parseLong`: optional sign, ASCII decimal digits, no spaces.
/// Returns the value as i64; callers narrow to i32 where Java would.
fn parse_decimal(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// `Integer.parseInt(s)`: what zoo.cfg's own numeric keys use.
pub(crate) fn parse_int(s: &str) -> Option<i32> {
    parse_decimal(s).and_then(|v| i32::try_from(v).ok())
}

/// `Long.parseLong(s)`.
pub(crate) fn parse_long(s: &str) -> Option<i64> {
    parse_decimal(s)
}

/// `Long.decode(s)`, which `Integer.getInteger`/`Long.getLong` use for system
/// properties: `0x`/`0X`/`#` hex, a leading `0` means octal, optional sign.
pub(crate) fn decode_long(s: &str) -> Option<i64> {
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) =
        if let Some(h) = rest.strip_prefix("0x").or_else(|| rest.strip_prefix("0X")) {
            (16, h)
        } else if let Some(h) = rest.strip_prefix('#') {
            (16, h)
        } else if rest.len() > 1 && rest.starts_with('0') {
            (8, &rest[1..])
        } else {
            (10, rest)
        };
    // Java rejects a second sign after the prefix ("0x-5"); from_str_radix would not.
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, radix).ok()?;
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).ok()
}

/// `Integer.decode(s)`.
pub(crate) fn decode_int(s: &str) -> Option<i32> {
    decode_long(s).and_then(|v| i32::try_from(v).ok())
}

/// QuorumPeerConfig.parseBoolean: only `true`/`false`, any case; anything else is an error.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// `String.split(char)` as Java does it: trailing empty pieces are dropped, but an
/// empty input still yields one (empty) piece. ZooKeeper splits server lines this way,
/// so `host:1:2;` has no client part rather than an empty one.
pub(crate) fn split(s: &str, sep: char) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.len() > 1 && parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    if parts.len() == 1 && parts[0].is_empty() && !s.is_empty() {
        // Input made only of separators: Java returns an empty array.
        parts.clear();
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_int_follows_java() {
        assert_eq!(parse_int("2000"), Some(2000));
        assert_eq!(parse_int("+5"), Some(5));
        assert_eq!(parse_int("-1"), Some(-1));
        assert_eq!(parse_int(" 5"), None);
        assert_eq!(parse_int("5ms"), None);
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_int("-"), None);
        assert_eq!(parse_int("0x10"), None);
        assert_eq!(parse_int("2147483648"), None);
        assert_eq!(parse_long("2147483648"), Some(2_147_483_648));
    }

    #[test]
    fn decode_follows_java() {
        assert_eq!(decode_int("0xfffff"), Some(0xfffff));
        assert_eq!(decode_int("#10"), Some(16));
        assert_eq!(decode_int("010"), Some(8));
        assert_eq!(decode_int("0"), Some(0));
        assert_eq!(decode_int("-0x10"), Some(-16));
        assert_eq!(decode_int("0x-10"), None);
        assert_eq!(decode_int("09"), None);
        assert_eq!(decode_int("abc"), None);
        assert_eq!(decode_long("4194304"), Some(4_194_304));
    }

    #[test]
    fn bool_and_trim() {
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("False"), Some(false));
        assert_eq!(parse_bool("yes"), None);
        assert_eq!(trim("\t x \u{1}"), "x");
    }

    #[test]
    fn split_drops_trailing_empties() {
        assert_eq!(split("a:1:2;", ';'), vec!["a:1:2"]);
        assert_eq!(split("a::", ':'), vec!["a"]);
        assert_eq!(split(":a", ':'), vec!["", "a"]);
        assert_eq!(split("", ':'), vec![""]);
        assert!(split(";;", ';').is_empty());
    }
}
