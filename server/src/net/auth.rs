//! The auth packet (xid −4): which ids a scheme and credential give a connection.

use ferrokeeper_protocol::{AuthPacket, Id};

use crate::tree::acl;

/// What the server knows to check credentials against.
#[derive(Debug, Clone, Default)]
pub struct AuthSettings {
    /// `zookeeper.DigestAuthenticationProvider.superDigest`: `super:<base64 sha1>`.
    pub super_digest: Option<String>,
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
            let credential = std::str::from_utf8(&packet.auth).ok()?;
            if !credential.contains(':') {
                return None;
            }
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
