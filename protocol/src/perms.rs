//! ACL permission bits (`ZooDefs.Perms`) and the standard ACL lists.

use crate::records::{Acl, Id};

pub const READ: i32 = 1;
pub const WRITE: i32 = 1 << 1;
pub const CREATE: i32 = 1 << 2;
pub const DELETE: i32 = 1 << 3;
pub const ADMIN: i32 = 1 << 4;
pub const ALL: i32 = READ | WRITE | CREATE | DELETE | ADMIN;

fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
    Acl {
        perms,
        id: Id {
            scheme: scheme.to_owned(),
            id: id.to_owned(),
        },
    }
}

/// `OPEN_ACL_UNSAFE`: everything for everyone.
pub fn open_acl_unsafe() -> Vec<Acl> {
    vec![acl(ALL, "world", "anyone")]
}

/// `CREATOR_ALL_ACL`: everything for the creator's authenticated ids.
pub fn creator_all_acl() -> Vec<Acl> {
    vec![acl(ALL, "auth", "")]
}

/// `READ_ACL_UNSAFE`: read for everyone.
pub fn read_acl_unsafe() -> Vec<Acl> {
    vec![acl(READ, "world", "anyone")]
}
