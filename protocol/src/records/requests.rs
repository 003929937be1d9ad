//! Request bodies, one record per request shape.

use bytes::Bytes;

use super::data::Acl;
use crate::jute::jute_record;

jute_record! {
    /// create (1), create2 (15) and createContainer (19).
    pub struct CreateRequest {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub flags: i32,
    }
}

jute_record! {
    /// createTTL (21).
    pub struct CreateTtlRequest {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub flags: i32,
        pub ttl: i64,
    }
}

jute_record! {
    /// delete (2); version −1 matches any.
    pub struct DeleteRequest {
        pub path: String,
        pub version: i32,
    }
}

jute_record! {
    /// exists (3).
    pub struct ExistsRequest {
        pub path: String,
        pub watch: bool,
    }
}

jute_record! {
    /// getData (4).
    pub struct GetDataRequest {
        pub path: String,
        pub watch: bool,
    }
}

jute_record! {
    /// setData (5); version −1 matches any.
    pub struct SetDataRequest {
        pub path: String,
        pub data: Option<Bytes>,
        pub version: i32,
    }
}

jute_record! {
    /// getACL (6).
    pub struct GetAclRequest {
        pub path: String,
    }
}

jute_record! {
    /// setACL (7); version is checked against the node's aversion.
    pub struct SetAclRequest {
        pub path: String,
        pub acl: Vec<Acl>,
        pub version: i32,
    }
}

jute_record! {
    /// getChildren (8).
    pub struct GetChildrenRequest {
        pub path: String,
        pub watch: bool,
    }
}

jute_record! {
    /// sync (9).
    pub struct SyncRequest {
        pub path: String,
    }
}

jute_record! {
    /// getChildren2 (12).
    pub struct GetChildren2Request {
        pub path: String,
        pub watch: bool,
    }
}

jute_record! {
    /// check (13), standalone or inside a multi.
    pub struct CheckVersionRequest {
        pub path: String,
        pub version: i32,
    }
}

jute_record! {
    /// reconfig (16). Null lists are distinct from empty ones.
    pub struct ReconfigRequest {
        pub joining_servers: Option<String>,
        pub leaving_servers: Option<String>,
        pub new_members: Option<String>,
        pub cur_config_id: i64,
    }
}

jute_record! {
    /// checkWatches (17); `type` is a [`WatcherType`](crate::WatcherType) number.
    pub struct CheckWatchesRequest {
        pub path: String,
        pub r#type: i32,
    }
}

jute_record! {
    /// removeWatches (18); `type` is a [`WatcherType`](crate::WatcherType) number.
    pub struct RemoveWatchesRequest {
        pub path: String,
        pub r#type: i32,
    }
}

jute_record! {
    /// auth (100), sent with xid −4. `type` is always 0.
    pub struct AuthPacket {
        pub r#type: i32,
        pub scheme: String,
        pub auth: Bytes,
    }
}

jute_record! {
    /// setWatches (101), sent with xid −8 on reconnect.
    pub struct SetWatches {
        pub relative_zxid: i64,
        pub data_watches: Vec<String>,
        pub exist_watches: Vec<String>,
        pub child_watches: Vec<String>,
    }
}

jute_record! {
    /// sasl (102). A null token is distinct from an empty one in SASL exchanges.
    pub struct GetSaslRequest {
        pub token: Option<Bytes>,
    }
}

jute_record! {
    /// The client side of a SASL exchange in the quorum/auth layer (not an opcode of its own).
    pub struct SetSaslRequest {
        pub token: Bytes,
    }
}

jute_record! {
    /// getEphemerals (103).
    pub struct GetEphemeralsRequest {
        pub prefix_path: String,
    }
}

jute_record! {
    /// getAllChildrenNumber (104).
    pub struct GetAllChildrenNumberRequest {
        pub path: String,
    }
}

jute_record! {
    /// setWatches2 (105), sent with xid −8 on reconnect when persistent watches exist.
    pub struct SetWatches2 {
        pub relative_zxid: i64,
        pub data_watches: Vec<String>,
        pub exist_watches: Vec<String>,
        pub child_watches: Vec<String>,
        pub persistent_watches: Vec<String>,
        pub persistent_recursive_watches: Vec<String>,
    }
}

jute_record! {
    /// addWatch (106); `mode` is an [`AddWatchMode`](crate::AddWatchMode) number.
    pub struct AddWatchRequest {
        pub path: String,
        pub mode: i32,
    }
}

jute_record! {
    /// Defined in `zookeeper.jute` but without an opcode in 3.8.
    pub struct GetMaxChildrenRequest {
        pub path: String,
    }
}

jute_record! {
    /// Defined in `zookeeper.jute` but without an opcode in 3.8.
    pub struct SetMaxChildrenRequest {
        pub path: String,
        pub max: i32,
    }
}

jute_record! {
    /// Defined in `zookeeper.jute` but without an opcode in 3.8.
    pub struct GetStatPersistedRequest {
        pub path: String,
    }
}
