//! Who may run the AdminServer's commands that change something. ZooKeeper 3.9.4
//! requires ALL on `/` for snapshot and restore, credentials in the `Authorization`
//! header (`digest user:password`, or `ip` for the caller's address); ferrokeeper
//! applies the same rule to every command that changes state or leadership, which
//! ZooKeeper leaves open. Permissions are checked before the command does anything.

use std::net::IpAddr;

use axum::http::{HeaderMap, StatusCode, header};
use ferrokeeper_protocol::{AuthPacket, perms};

use crate::net::Shared;
use crate::net::auth::authenticate;
use crate::tree::acl;

/// Why a command was refused, with the status and message ZooKeeper 3.9 uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: StatusCode,
    pub message: &'static str,
}

/// Checks that the request's credentials hold ALL on `/`.
pub fn require_admin(shared: &Shared, headers: &HeaderMap, caller: IpAddr) -> Result<(), Refused> {
    let Some(info) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(Refused {
            status: StatusCode::UNAUTHORIZED,
            message: "Auth info is missing for the command",
        });
    };
    let not_authenticated = Refused {
        status: StatusCode::UNAUTHORIZED,
        message: "Not authenticated",
    };
    let (scheme, credential) = match info.split_once(' ') {
        Some((scheme, credential)) => (scheme, credential.as_bytes().to_vec()),
        None => (info, Vec::new()),
    };
    if scheme == "digest" && credential.is_empty() {
        return Err(not_authenticated);
    }
    let packet = AuthPacket {
        r#type: 0,
        scheme: scheme.to_owned(),
        auth: credential.into(),
    };
    let ids = authenticate(&packet, &caller.to_string(), &shared.settings.auth)
        .filter(|ids| !ids.is_empty())
        .ok_or(not_authenticated)?;
    let root_acl = shared
        .core
        .with_state(|zk, _| zk.tree().acl("/").map(<[_]>::to_vec))
        .unwrap_or_default();
    // Bit by bit, as ZooKeeper: an entry granting only READ must not pass for ALL.
    let bits = [
        perms::READ,
        perms::WRITE,
        perms::CREATE,
        perms::DELETE,
        perms::ADMIN,
    ];
    if bits.iter().all(|bit| acl::check(&root_acl, *bit, &ids)) {
        Ok(())
    } else {
        Err(Refused {
            status: StatusCode::FORBIDDEN,
            message: "Not authorized",
        })
    }
}
