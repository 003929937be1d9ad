//! Response bodies, one record per response shape.

use bytes::Bytes;

use super::data::{Acl, ClientInfo, Stat, StatPersisted};
use crate::jute::jute_record;

jute_record! {
    /// Reply to create (1).
    pub struct CreateResponse {
        pub path: String,
    }
}

jute_record! {
    /// Reply to create2 (15), createContainer (19) and createTTL (21).
    pub struct Create2Response {
        pub path: String,
        pub stat: Stat,
    }
}

jute_record! {
    /// Reply to exists (3).
    pub struct ExistsResponse {
        pub stat: Stat,
    }
}

jute_record! {
    /// Reply to getData (4) and reconfig (16).
    pub struct GetDataResponse {
        pub data: Option<Bytes>,
        pub stat: Stat,
    }
}

jute_record! {
    /// Reply to setData (5) and to a standalone check (13).
    pub struct SetDataResponse {
        pub stat: Stat,
    }
}

jute_record! {
    /// Reply to getACL (6).
    pub struct GetAclResponse {
        pub acl: Vec<Acl>,
        pub stat: Stat,
    }
}

jute_record! {
    /// Reply to setACL (7).
    pub struct SetAclResponse {
        pub stat: Stat,
    }
}

jute_record! {
    /// Reply to getChildren (8).
    pub struct GetChildrenResponse {
        pub children: Vec<String>,
    }
}

jute_record! {
    /// Reply to sync (9).
    pub struct SyncResponse {
        pub path: String,
    }
}

jute_record! {
    /// Reply to getChildren2 (12).
    pub struct GetChildren2Response {
        pub children: Vec<String>,
        pub stat: Stat,
    }
}

jute_record! {
    /// Reply to sasl (102); ZooKeeper sends a null token when it has no SASL provider.
    pub struct SetSaslResponse {
        pub token: Option<Bytes>,
    }
}

jute_record! {
    /// Reply to getEphemerals (103).
    pub struct GetEphemeralsResponse {
        pub ephemerals: Vec<String>,
    }
}

jute_record! {
    /// Reply to getAllChildrenNumber (104).
    pub struct GetAllChildrenNumberResponse {
        pub total_number: i32,
    }
}

jute_record! {
    /// Reply to whoAmI (107).
    pub struct WhoAmIResponse {
        pub client_info: Vec<ClientInfo>,
    }
}

jute_record! {
    /// A failed multi sub-result's body, and the 4-byte body of an addWatch (106) reply.
    pub struct ErrorResponse {
        pub err: i32,
    }
}

jute_record! {
    /// A watch notification, sent with xid −1.
    pub struct WatcherEvent {
        /// An [`EventType`](crate::EventType) number.
        pub r#type: i32,
        /// A [`KeeperState`](crate::KeeperState) number.
        pub state: i32,
        pub path: String,
    }
}

jute_record! {
    /// Defined in `zookeeper.jute` but without an opcode in 3.8.
    pub struct GetMaxChildrenResponse {
        pub max: i32,
    }
}

jute_record! {
    /// Defined in `zookeeper.jute` but without an opcode in 3.8.
    pub struct GetStatPersistedResponse {
        pub stat_persisted: StatPersisted,
    }
}
