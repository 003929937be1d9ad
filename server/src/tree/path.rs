//! ZooKeeper's znode path rules (`PathUtils.validatePath`) and the parent/child split
//! the request processor uses.

use ferrokeeper_protocol::ErrorCode;

/// Checks a full znode path the way ZooKeeper 3.8 does; every violation is
/// `BadArguments`, as the server reports it.
///
/// ZooKeeper checks UTF-16 code units, so every character outside the Basic
/// Multilingual Plane (encoded as surrogates, which are rejected) is invalid too.
pub fn validate(path: &str) -> Result<(), ErrorCode> {
    if is_valid(path) {
        Ok(())
    } else {
        Err(ErrorCode::BadArguments)
    }
}

/// The client-side check for a sequential create: the server appends a counter, so
/// ZooKeeper validates `path + "1"` (a trailing `/` is then allowed).
pub fn validate_sequential(path: &str) -> Result<(), ErrorCode> {
    validate(&format!("{path}1"))
}

fn is_valid(path: &str) -> bool {
    let chars: Vec<char> = path.chars().collect();
    match chars.as_slice() {
        [] => return false,
        ['/'] => return true,
        [first, ..] if *first != '/' => return false,
        [.., '/'] => return false,
        _ => {}
    }
    let at = |i: usize| chars.get(i).copied();
    for i in 1..chars.len() {
        let c = chars[i];
        let last = chars[i - 1];
        let next_ends_name = matches!(at(i + 1), None | Some('/'));
        let bad = match c {
            '\0' => true,
            '/' => last == '/',
            // "." and ".." are relative path components.
            '.' if last == '.' => i >= 2 && chars[i - 2] == '/' && next_ends_name,
            '.' => last == '/' && next_ends_name,
            _ => is_forbidden_char(c),
        };
        if bad {
            return false;
        }
    }
    true
}

/// Control characters, surrogates (every non-BMP character in Java's UTF-16), the
/// private use area and the specials block, as in `PathUtils`.
fn is_forbidden_char(c: char) -> bool {
    let c = c as u32;
    matches!(c, 0x01..=0x1f | 0x7f..=0x9f | 0xe000..=0xf8ff | 0xfff0..=0xffff) || c > 0xffff
}

/// Splits at the last `/` as ZooKeeper does (`lastIndexOf('/')`), mapping the empty
/// parent of a top-level node to `/`. `None` when there is no `/` at all.
pub fn split_parent(path: &str) -> Option<(&str, &str)> {
    let slash = path.rfind('/')?;
    let parent = if slash == 0 { "/" } else { &path[..slash] };
    Some((parent, &path[slash + 1..]))
}

/// The paths ZooKeeper refuses to delete (`DataTree.isSpecialPath`).
pub fn is_special(path: &str) -> bool {
    matches!(
        path,
        "/" | "/zookeeper" | "/zookeeper/quota" | "/zookeeper/config"
    )
}

/// Java's `String.length()`: ZooKeeper's size accounting counts UTF-16 code units.
pub(crate) fn java_len(s: &str) -> i64 {
    s.encode_utf16().count() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_paths() {
        for p in [
            "/",
            "/a",
            "/a/b",
            "/a.b",
            "/...",
            "/a/.b",
            "/a/..b",
            "/a/b.",
            "/zookeeper",
            "/é",
            "/\u{ffef}",
        ] {
            assert_eq!(validate(p), Ok(()), "{p:?}");
        }
    }

    #[test]
    fn rejects_what_zookeeper_rejects() {
        for p in [
            "",
            "a",
            "a/b",
            "/a/",
            "//",
            "//a",
            "/a//b",
            "/.",
            "/..",
            "/a/.",
            "/a/..",
            "/./a",
            "/../a",
            "/a\0",
            "/a\u{1}",
            "/a\u{7f}",
            "/a\u{9f}",
            "/a\u{e000}",
            "/a\u{f8ff}",
            "/a\u{fff0}",
            "/a\u{ffff}",
            "/a\u{1f600}",
        ] {
            assert_eq!(validate(p), Err(ErrorCode::BadArguments), "{p:?}");
        }
    }

    #[test]
    fn sequential_allows_trailing_slash_and_dot() {
        assert_eq!(validate_sequential("/a/"), Ok(()));
        assert_eq!(validate_sequential("/a/."), Ok(()));
        assert_eq!(validate_sequential("/a//"), Err(ErrorCode::BadArguments));
    }

    #[test]
    fn split_parent_matches_last_index_of() {
        assert_eq!(split_parent("/a"), Some(("/", "a")));
        assert_eq!(split_parent("/a/b"), Some(("/a", "b")));
        assert_eq!(split_parent("/a/"), Some(("/a", "")));
        assert_eq!(split_parent("/"), Some(("/", "")));
        assert_eq!(split_parent("a"), None);
    }

    #[test]
    fn java_len_counts_utf16_units() {
        assert_eq!(java_len("/a"), 2);
        assert_eq!(java_len("/é"), 2);
        assert_eq!(java_len("/\u{1f600}"), 3);
    }
}
