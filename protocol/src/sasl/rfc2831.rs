//! RFC 2831 (DIGEST-MD5) pieces both sides use: the directive list syntax, lowercase
//! hex digests, ISO-8859-1 encoding, and a comparison that takes the same time however
//! many leading bytes match. The server side lives in ferrokeeper-server, the client
//! side in [`super`].

/// ISO-8859-1 bytes, if every character is below U+0100.
pub fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(c).ok()).collect()
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> Vec<u8> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0x0f)]])
        .collect()
}

/// Lowercase hex of an MD5 digest.
pub fn hex32(digest: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (slot, digit) in out.iter_mut().zip(hex(digest)) {
        *slot = digit;
    }
    out
}

/// Compares without an early exit, so the time taken does not tell how many leading
/// characters of a guessed response were right. The length is not secret.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// RFC 2831 LWS, byte by byte as Java checks it.
fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn skip_lws(buf: &[u8], mut i: usize) -> usize {
    while buf.get(i).copied().is_some_and(is_lws) {
        i += 1;
    }
    i
}

/// A directive: its name as sent and its value, unquoted.
pub type Pair<'a> = (&'a [u8], Vec<u8>);

/// Splits `1#( key "=" ( token | quoted-string ) )`: comma-separated, empty elements and
/// linear white space allowed around keys, `=` and commas; a quoted-string's `\x` stands
/// for `x`. Returns the raw key and the unquoted value of each element.
pub fn parse_pairs(buf: &[u8]) -> Result<Vec<Pair<'_>>, String> {
    let mut pairs = Vec::new();
    let mut i = skip_lws(buf, 0);
    while i < buf.len() {
        if buf[i] == b',' {
            i = skip_lws(buf, i + 1);
            continue;
        }
        let start = i;
        while i < buf.len() && buf[i] != b'=' && buf[i] != b',' && !is_lws(buf[i]) {
            i += 1;
        }
        let key = &buf[start..i];
        if key.is_empty() {
            return Err("empty directive name".to_owned());
        }
        let name = String::from_utf8_lossy(key);
        i = skip_lws(buf, i);
        if buf.get(i) != Some(&b'=') {
            return Err(format!("'=' expected after {name}"));
        }
        i = skip_lws(buf, i + 1);
        let mut value = Vec::new();
        match buf.get(i) {
            None => return Err(format!("no value for {name}")),
            Some(b'"') => {
                i += 1;
                loop {
                    match buf.get(i) {
                        None => return Err(format!("unterminated quoted {name}")),
                        Some(b'\\') => {
                            let Some(&escaped) = buf.get(i + 1) else {
                                return Err(format!("unterminated quoted {name}"));
                            };
                            value.push(escaped);
                            i += 2;
                        }
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(&b) => {
                            value.push(b);
                            i += 1;
                        }
                    }
                }
            }
            Some(_) => {
                while i < buf.len() && buf[i] != b',' && !is_lws(buf[i]) {
                    value.push(buf[i]);
                    i += 1;
                }
            }
        }
        pairs.push((key, value));
        i = skip_lws(buf, i);
        match buf.get(i) {
            None => {}
            Some(b',') => i = skip_lws(buf, i + 1),
            Some(_) => return Err(format!("',' expected after the value of {name}")),
        }
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_syntax() {
        let pairs = parse_pairs(br#"a="x\"y,z\\",b=plain , c = "" ,d="#).map(|_| ());
        assert!(pairs.is_err(), "valueless d");
        let pairs = parse_pairs(br#"a="x\"y,z\\",b=plain , c = """#).expect("parses");
        assert_eq!(
            pairs,
            vec![
                (&b"a"[..], b"x\"y,z\\".to_vec()),
                (&b"b"[..], b"plain".to_vec()),
                (&b"c"[..], Vec::new()),
            ]
        );
        for bad in [
            &b"a"[..],
            b"=x",
            b"a=\"unterminated",
            b"a=\"ends in escape\\",
            b"a=\"x\"y",
            b"a=x b=y",
            b"a b=c",
        ] {
            assert!(
                parse_pairs(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(parse_pairs(b"").expect("parses"), vec![]);
        assert_eq!(parse_pairs(b" , ,").expect("parses"), vec![]);
    }

    #[test]
    fn hex_and_latin1() {
        assert_eq!(hex(&[0x00, 0xab, 0xff]), b"00abff".to_vec());
        assert_eq!(&hex32(&[0x12; 16])[..4], b"1212");
        assert_eq!(latin1("zoë"), Some(vec![b'z', b'o', 0xeb]));
        assert_eq!(latin1("€"), None);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
