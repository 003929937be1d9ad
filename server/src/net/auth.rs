//! The auth packet (xid −4): which ids a scheme and credential give a connection.

use ferrokeeper_protocol::{AuthPacket, Id};

use crate::tree::acl;

/// What the server knows to check credentials against.
#[derive(Debug, Clone, Default)]
pub struct AuthSettings {
    /// `zookeeper.DigestAuthenticationProvider.superDigest`: `super:<base64 sha1>`.
    pub super_digest: Option<String>,
    /// Client SASL (DIGEST-MD5), if a JAAS server section is configured.
    pub sasl: Option<crate::config::ClientSasl>,
    /// Schemes a session must hold an id of before anything but auth and SASL.
    pub enforce: Option<crate::config::EnforceAuth>,
}

/// The ids `packet` adds to a connection from `peer_ip`, or `None` if ZooKeeper would
/// answer AuthFailed (unknown scheme, malformed credential).
pub fn authenticate(
    packet: &AuthPacket,
    peer_ip: &str,
    settings: &AuthSettings,
) -> Option<Vec<Id>> {
    match packet.scheme.as_str() {
        "digest" => {
            // ZooKeeper accepts any credential here; without a colon the whole string
            // is the user name.
            let credential = std::str::from_utf8(&packet.auth).ok()?;
            let digest = acl::generate_digest(credential);
            let mut ids = vec![Id {
                scheme: "digest".into(),
                id: digest.clone(),
            }];
            if settings.super_digest.as_deref() == Some(digest.as_str()) {
                ids.push(Id {
                    scheme: "super".into(),
                    id: String::new(),
                });
            }
            Some(ids)
        }
        "ip" => Some(vec![Id {
            scheme: "ip".into(),
            id: peer_ip.to_owned(),
        }]),
        _ => None,
    }
}

/// Java's `String.hashCode` (over UTF-16 code units, wrapping).
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// The jute-generated `Id.hashCode`.
fn java_id_hash(id: &Id) -> i32 {
    let result = 37i32
        .wrapping_mul(17)
        .wrapping_add(java_string_hash(&id.scheme));
    37i32
        .wrapping_mul(result)
        .wrapping_add(java_string_hash(&id.id))
}

/// The bucket a `ConcurrentHashMap` of default capacity puts `id` in: ZooKeeper keeps a
/// connection's ids in such a set, and its iteration order (bucket by bucket, then
/// insertion order) is the order clients see in whoAmI and in `auth` ACL expansion.
/// The table has 16 buckets up to 11 entries; beyond that ZooKeeper's order after a
/// resize is not reproduced exactly.
fn java_set_bucket(id: &Id, entries: usize) -> usize {
    let h = java_id_hash(id);
    let spread = (h ^ ((h as u32) >> 16) as i32) & 0x7fff_ffff;
    let table = if entries < 12 {
        16
    } else {
        entries.next_power_of_two() * 2
    };
    (spread as usize) & (table - 1)
}

/// Adds `id` to a connection's ids, keeping ZooKeeper's iteration order.
pub fn add_id(ids: &mut Vec<Id>, id: Id) {
    if ids.contains(&id) {
        return;
    }
    ids.push(id);
    let entries = ids.len();
    // Stable: ids in the same bucket keep their insertion order.
    ids.sort_by_key(|id| java_set_bucket(id, entries));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(scheme: &str, id: &str) -> Id {
        Id {
            scheme: scheme.into(),
            id: id.into(),
        }
    }

    #[test]
    fn string_hash_matches_java() {
        // "hello".hashCode() == 99162322; "".hashCode() == 0.
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash(""), 0);
        // Wraps like Java's int arithmetic: "polygenelubricants".hashCode() == Integer.MIN_VALUE.
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
    }

    #[test]
    fn order_matches_what_zookeeper_reported() {
        // ZooKeeper 3.8.0 listed whoAmI as digest:bob before ip:127.0.0.1, and expanded
        // `auth` to bob's right-password digest before the wrong-password one.
        let mut ids = Vec::new();
        add_id(&mut ids, id("ip", "127.0.0.1"));
        add_id(
            &mut ids,
            id("digest", &crate::tree::acl::generate_digest("bob:secret")),
        );
        assert_eq!(ids[0].scheme, "digest", "{ids:?}");
        let mut two = Vec::new();
        add_id(&mut two, id("digest", "bob:7e5oQdf4IqOAJ9OLk9OTl5I4cwM="));
        add_id(&mut two, id("digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="));
        assert_eq!(two[0].id, "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=", "{two:?}");
    }
}
