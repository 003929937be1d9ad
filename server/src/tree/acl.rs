//! ACL checks and ACL fix-up, as ZooKeeper 3.8's `checkACL`, `fixupACL` and its
//! `digest` and `ip` authentication providers do them.
//!
//! The schemes a server knows are `world` (only `anyone`), `auth` (only when setting
//! ACLs), `digest`, `ip`, `x509` and `sasl`; any other scheme in an ACL being set is
//! `InvalidAcl`. ZooKeeper accepts `x509` and `sasl` ACLs only on a server with those
//! providers configured; here they are always accepted, because an ACL is checked
//! when the log is applied and every member must decide alike whatever its own
//! configuration. Accepting one fails closed: without TLS or SASL no session holds
//! such an id.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferrokeeper_protocol::{Acl, ErrorCode, Id};
use sha1::{Digest, Sha1};

/// The scheme of the id a session gets from authenticating as the super user.
pub const SUPER_SCHEME: &str = "super";

/// Whether ids `ids` hold `perm` on a node with `acl`: the super id always does, an
/// empty ACL lets everyone in, otherwise an entry sharing a bit with `perm` must be
/// `world:anyone` or match one of the ids through its scheme.
pub fn check(acl: &[Acl], perm: i32, ids: &[Id]) -> bool {
    if acl.is_empty() || ids.iter().any(|id| id.scheme == SUPER_SCHEME) {
        return true;
    }
    acl.iter()
        .filter(|entry| entry.perms & perm != 0)
        .any(|entry| {
            let want = &entry.id;
            if want.scheme == "world" && want.id == "anyone" {
                return true;
            }
            ids.iter()
                .filter(|have| have.scheme == want.scheme)
                .any(|have| scheme_matches(&want.scheme, &have.id, &want.id))
        })
}

/// [`check`] as the request processor reports it: `NoAuth` when denied.
pub fn require(acl: &[Acl], perm: i32, ids: &[Id]) -> Result<(), ErrorCode> {
    if check(acl, perm, ids) {
        Ok(())
    } else {
        Err(ErrorCode::NoAuth)
    }
}

fn scheme_matches(scheme: &str, id: &str, acl_expr: &str) -> bool {
    match scheme {
        "digest" | "x509" => id == acl_expr,
        // SASLAuthenticationProvider.matches: the SASL user `super` passes every sasl ACL.
        "sasl" => id == acl_expr || id == "super",
        "ip" => ip_matches(id, acl_expr),
        _ => false,
    }
}

/// ZooKeeper's digest id for `user:password`: `user:` + base64(SHA-1 of the whole
/// string). Without a `:` the whole string is the user name.
pub fn generate_digest(user_password: &str) -> String {
    let user = user_password
        .split_once(':')
        .map_or(user_password, |(user, _)| user);
    let hash = Sha1::digest(user_password.as_bytes());
    format!("{user}:{}", STANDARD.encode(hash))
}

/// Validates and expands an ACL being set by create or setACL: duplicates dropped,
/// `auth` replaced by the session's authenticated ids (every id except `ip` and
/// `super`, which ZooKeeper does not count as authenticated), anything unknown or
/// malformed is `InvalidAcl`, and so is an empty list.
pub fn fixup(acl: &[Acl], auth: &[Id]) -> Result<Vec<Acl>, ErrorCode> {
    let mut unique: Vec<&Acl> = Vec::with_capacity(acl.len());
    for entry in acl {
        if !unique.contains(&entry) {
            unique.push(entry);
        }
    }
    if unique.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut fixed = Vec::with_capacity(unique.len());
    for entry in unique {
        let id = &entry.id;
        if id.scheme == "world" && id.id == "anyone" {
            fixed.push(entry.clone());
        } else if id.scheme == "auth" {
            let before = fixed.len();
            fixed.extend(auth.iter().filter(|a| is_authenticated(a)).map(|a| Acl {
                perms: entry.perms,
                id: a.clone(),
            }));
            if fixed.len() == before {
                return Err(ErrorCode::InvalidAcl);
            }
        } else if is_valid_id(&id.scheme, &id.id) {
            fixed.push(entry.clone());
        } else {
            return Err(ErrorCode::InvalidAcl);
        }
    }
    Ok(fixed)
}

fn is_authenticated(id: &Id) -> bool {
    id.scheme != "ip" && id.scheme != SUPER_SCHEME
}

/// Whether `id` is well-formed for `scheme` (the providers' `isValid`); `false` for a
/// scheme no provider handles (`world` included: only `world:anyone` is valid).
pub fn is_valid_id(scheme: &str, id: &str) -> bool {
    match scheme {
        "digest" => java_split_count(id, ':') == 2,
        "ip" => parse_ip_expr(id).is_some(),
        // X500Principal would parse it: a distinguished name (empty, or with `=`).
        "x509" => id.is_empty() || id.contains('='),
        "sasl" => crate::sasl::is_valid_sasl_id(id),
        _ => false,
    }
}

/// Java's `s.split(String.valueOf(sep)).length`: trailing empty parts are dropped.
fn java_split_count(s: &str, sep: char) -> usize {
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts.len()
}

/// Whether the client address `id` (an `ip` auth id) falls within the ACL's
/// `a.b.c.d[/bits]`. Only IPv4 matches, as in ZooKeeper 3.8.
pub fn ip_matches(id: &str, acl_expr: &str) -> bool {
    let Some((acl_addr, bits)) = parse_ip_expr(acl_expr) else {
        return false;
    };
    let Some(remote) = parse_v4(id) else {
        return false;
    };
    mask(acl_addr, bits) == mask(remote, bits)
}

fn parse_ip_expr(expr: &str) -> Option<([u8; 4], u32)> {
    let (addr, bits) = match expr.split_once('/') {
        Some((addr, bits)) => (addr, Some(bits)),
        None => (expr, None),
    };
    let addr = parse_v4(addr)?;
    let bits = match bits {
        None => 32,
        // Java's Integer.parseInt, which also accepts a leading sign.
        Some(bits) => u32::try_from(bits.parse::<i32>().ok()?).ok()?,
    };
    (bits <= 32).then_some((addr, bits))
}

fn parse_v4(addr: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = addr.split('.');
    for byte in &mut out {
        let v: i32 = parts.next()?.parse().ok()?;
        *byte = u8::try_from(v).ok()?;
    }
    parts.next().is_none().then_some(out)
}

fn mask(addr: [u8; 4], bits: u32) -> u32 {
    let value = u32::from_be_bytes(addr);
    match bits {
        0 => 0,
        _ => value & (u32::MAX << (32 - bits)),
    }
}

/// What getACL shows a reader without ADMIN: digest hashes hidden as `user:x`
/// (ZOOKEEPER-1392; Java's `replaceAll(":.*", ":x")`, where `.` stops at a line end).
pub fn mask_digests(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|entry| {
            if entry.id.scheme != "digest" {
                return entry.clone();
            }
            Acl {
                perms: entry.perms,
                id: Id {
                    scheme: entry.id.scheme.clone(),
                    id: mask_after_colons(&entry.id.id),
                },
            }
        })
        .collect()
}

fn mask_after_colons(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    let mut skipping = false;
    for c in id.chars() {
        let line_end = matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}');
        if line_end {
            skipping = false;
            out.push(c);
        } else if skipping {
        } else if c == ':' {
            out.push_str(":x");
            skipping = true;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrokeeper_protocol::perms;

    fn id(scheme: &str, id: &str) -> Id {
        Id {
            scheme: scheme.into(),
            id: id.into(),
        }
    }

    fn acl(perms: i32, scheme: &str, i: &str) -> Acl {
        Acl {
            perms,
            id: id(scheme, i),
        }
    }

    #[test]
    fn digest_matches_real_zookeeper() {
        // Read back with getACL from ZooKeeper 3.8.0 after addauth digest bob:pw and
        // create with the `auth` scheme.
        assert_eq!(
            generate_digest("bob:pw"),
            "bob:ikIaKsbtGweaHnb/jKn7OHqbunM="
        );
        assert_eq!(
            generate_digest("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
        assert_eq!(generate_digest("a:b:c"), {
            let h = Sha1::digest(b"a:b:c");
            format!("a:{}", STANDARD.encode(h))
        });
    }

    #[test]
    fn empty_acl_and_super_pass() {
        assert!(check(&[], perms::ALL, &[]));
        let locked = [acl(perms::READ, "digest", "bob:x")];
        assert!(!check(&locked, perms::WRITE, &[]));
        assert!(check(&locked, perms::WRITE, &[id("super", "")]));
    }

    #[test]
    fn world_anyone_needs_an_overlapping_bit() {
        let read_only = [acl(perms::READ, "world", "anyone")];
        assert!(check(&read_only, perms::READ, &[]));
        assert!(!check(&read_only, perms::WRITE, &[]));
        assert!(check(&read_only, perms::READ | perms::ADMIN, &[]));
        assert!(!check(&[acl(0, "world", "anyone")], perms::ALL, &[]));
    }

    #[test]
    fn digest_is_an_exact_id_match() {
        let bob = generate_digest("bob:pw");
        let a = [acl(perms::ALL, "digest", &bob)];
        assert!(check(&a, perms::READ, &[id("digest", &bob)]));
        assert!(!check(
            &a,
            perms::READ,
            &[id("digest", &generate_digest("bob:other"))]
        ));
        assert_eq!(
            require(&a, perms::READ, &[id("ip", "127.0.0.1")]),
            Err(ErrorCode::NoAuth)
        );
    }

    #[test]
    fn ip_with_and_without_mask() {
        assert!(ip_matches("127.0.0.1", "127.0.0.1"));
        assert!(ip_matches("127.0.0.1", "127.0.0.0/8"));
        assert!(ip_matches("127.0.0.1", "127.0.0.1/32"));
        assert!(ip_matches("10.9.8.7", "1.2.3.4/0"));
        assert!(ip_matches("10.1.2.3", "10.1.0.0/12"));
        assert!(!ip_matches("10.16.2.3", "10.1.0.0/12"));
        assert!(!ip_matches("127.0.0.1", "10.0.0.1"));
        assert!(!ip_matches("0:0:0:0:0:0:0:1", "127.0.0.1"));
        assert!(!ip_matches("127.0.0.1", "127.0.0.1/33"));
        let a = [acl(perms::ALL, "ip", "127.0.0.0/8")];
        assert!(check(&a, perms::CREATE, &[id("ip", "127.0.0.1")]));
        assert!(!check(&a, perms::CREATE, &[id("ip", "128.0.0.1")]));
    }

    #[test]
    fn id_validity_matches_the_providers() {
        // Checked against ZooKeeper 3.8.0: "a:b:" is accepted, "a:" is InvalidAcl.
        assert!(is_valid_id("digest", "a:b"));
        assert!(is_valid_id("digest", "a:b:"));
        assert!(is_valid_id("digest", ":b"));
        assert!(!is_valid_id("digest", "a:"));
        assert!(!is_valid_id("digest", "a"));
        assert!(!is_valid_id("digest", "a:b:c"));
        assert!(is_valid_id("ip", "10.0.0.0/8"));
        assert!(is_valid_id("ip", "10.0.0.1"));
        assert!(is_valid_id("ip", "10.0.0.1/+8"));
        assert!(!is_valid_id("ip", "10.0.0.0/33"));
        assert!(!is_valid_id("ip", "10.0.0.0/-1"));
        assert!(!is_valid_id("ip", "10.0.0.0/"));
        assert!(!is_valid_id("ip", "::1"));
        assert!(!is_valid_id("ip", "1.2.3.256"));
        assert!(!is_valid_id("ip", "1.2.3.4."));
        assert!(!is_valid_id("world", "bob"));
        assert!(!is_valid_id("super", ""));
        assert!(!is_valid_id("foo", "bar"));
    }

    #[test]
    fn x509_and_sasl_ids() {
        assert!(is_valid_id("x509", "CN=client,O=Acme"));
        assert!(is_valid_id("x509", ""));
        assert!(!is_valid_id("x509", "client"));
        for ok in ["bob", "zk/host@EXAMPLE.COM", "bob@EXAMPLE.COM", "zk/host@"] {
            assert!(is_valid_id("sasl", ok), "{ok}");
        }
        for bad in ["a@b@c", "a/b/c@R", "a/b@R/x"] {
            assert!(!is_valid_id("sasl", bad), "{bad}");
        }
        // An x509 ACL admits exactly that subject; `auth` expands to it.
        let client = [id("x509", "CN=client")];
        assert!(check(&[acl(1, "x509", "CN=client")], 1, &client));
        assert!(!check(&[acl(1, "x509", "CN=other")], 1, &client));
        assert_eq!(
            fixup(&[acl(31, "auth", "")], &client),
            Ok(vec![acl(31, "x509", "CN=client")])
        );
    }

    #[test]
    fn fixup_rejects_empty_unknown_and_unauthenticated() {
        let none: [Id; 0] = [];
        assert_eq!(fixup(&[], &none), Err(ErrorCode::InvalidAcl));
        assert_eq!(
            fixup(&[acl(31, "foo", "bar")], &none),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup(&[acl(31, "world", "bob")], &none),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup(&[acl(31, "auth", "")], &[id("ip", "127.0.0.1")]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup(&[acl(31, "auth", "")], &[id("super", "")]),
            Err(ErrorCode::InvalidAcl)
        );
    }

    #[test]
    fn fixup_expands_auth_and_drops_duplicates() {
        let bob = generate_digest("bob:pw");
        let session = [id("ip", "127.0.0.1"), id("digest", &bob)];
        // As seen from ZooKeeper 3.8.0: auth expands to the digest id only, and an
        // explicit entry after it is kept even if it names the same user.
        let got = fixup(
            &[
                acl(31, "auth", "ignored"),
                acl(31, "digest", "bob:x"),
                acl(31, "digest", "bob:x"),
            ],
            &session,
        );
        assert_eq!(
            got,
            Ok(vec![acl(31, "digest", &bob), acl(31, "digest", "bob:x")])
        );
        let open = perms::open_acl_unsafe();
        assert_eq!(fixup(&[open[0].clone(), open[0].clone()], &[]), Ok(open));
        // Odd perms are stored as given.
        assert_eq!(
            fixup(&[acl(99, "world", "anyone")], &[]),
            Ok(vec![acl(99, "world", "anyone")])
        );
    }

    #[test]
    fn masking_hides_digest_hashes() {
        let got = mask_digests(&[
            acl(1, "digest", "bob:abc=="),
            acl(1, "ip", "1.2.3.4"),
            acl(1, "digest", "a:b\nc:d"),
        ]);
        assert_eq!(got[0].id.id, "bob:x");
        assert_eq!(got[1].id.id, "1.2.3.4");
        assert_eq!(got[2].id.id, "a:x\nc:x");
    }
}
