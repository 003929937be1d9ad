//! The `org.apache.zookeeper.data` records: ids, ACLs and stats.

use crate::jute::jute_record;

jute_record! {
    /// An identity under an auth scheme, e.g. `world:anyone` or `digest:bob:<hash>`.
    pub struct Id {
        pub scheme: String,
        pub id: String,
    }
}

jute_record! {
    /// A permission grant: `perms` bits (see [`crate::perms`]) for `id`.
    pub struct Acl {
        pub perms: i32,
        pub id: Id,
    }
}

jute_record! {
    /// The metadata of a znode as clients see it (68 bytes on the wire).
    pub struct Stat {
        pub czxid: i64,
        pub mzxid: i64,
        pub ctime: i64,
        pub mtime: i64,
        pub version: i32,
        pub cversion: i32,
        pub aversion: i32,
        pub ephemeral_owner: i64,
        pub data_length: i32,
        pub num_children: i32,
        pub pzxid: i64,
    }
}

jute_record! {
    /// The metadata of a znode as ZooKeeper stores it (no derived fields).
    pub struct StatPersisted {
        pub czxid: i64,
        pub mzxid: i64,
        pub ctime: i64,
        pub mtime: i64,
        pub version: i32,
        pub cversion: i32,
        pub aversion: i32,
        pub ephemeral_owner: i64,
        pub pzxid: i64,
    }
}

jute_record! {
    /// One authenticated identity of a session, as `whoAmI` reports it.
    pub struct ClientInfo {
        pub auth_scheme: String,
        pub user: String,
    }
}
