//! The `org.apache.zookeeper.txn` records: what ZooKeeper writes to its transaction log
//! (and ships to learners in proposals), one record per txn type, plus the file header
//! of its snapshot and log files. [`crate::TxnEntry`] decodes a whole logged entry.

use bytes::Bytes;

use super::data::Acl;
use crate::jute::jute_record;

jute_record! {
    /// The header of every logged txn. `txn_type` is the opcode of the request that
    /// made it (create 1, delete 2, setData 5, setACL 7, multi 14, …; createSession
    /// −10, closeSession −11, error −1).
    pub struct TxnHeader {
        pub client_id: i64,
        pub cxid: i32,
        pub zxid: i64,
        pub time: i64,
        pub txn_type: i32,
    }
}

jute_record! {
    /// The tree digest after the txn (ZooKeeper 3.6+, when digests are enabled).
    pub struct TxnDigest {
        pub version: i32,
        pub tree_digest: i64,
    }
}

jute_record! {
    /// A create as ZooKeeper before 3.3 logged it (no parent cversion).
    pub struct CreateTxnV0 {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub ephemeral: bool,
    }
}

jute_record! {
    /// create (1) and create2 (15). `parent_cversion` is the parent's persisted
    /// cversion after the create (−1: "one more than now", from a V0 create).
    pub struct CreateTxn {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub ephemeral: bool,
        pub parent_cversion: i32,
    }
}

jute_record! {
    /// createTTL (21).
    pub struct CreateTtlTxn {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub parent_cversion: i32,
        pub ttl: i64,
    }
}

jute_record! {
    /// createContainer (19).
    pub struct CreateContainerTxn {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub parent_cversion: i32,
    }
}

jute_record! {
    /// delete (2) and deleteContainer (20).
    pub struct DeleteTxn {
        pub path: String,
    }
}

jute_record! {
    /// setData (5) and reconfig (16, on `/zookeeper/config`). `version` is the new one.
    pub struct SetDataTxn {
        pub path: String,
        pub data: Option<Bytes>,
        pub version: i32,
    }
}

jute_record! {
    /// check (13), inside a multi.
    pub struct CheckVersionTxn {
        pub path: String,
        pub version: i32,
    }
}

jute_record! {
    /// setACL (7). `version` is the new aversion.
    pub struct SetAclTxn {
        pub path: String,
        pub acl: Vec<Acl>,
        pub version: i32,
    }
}

jute_record! {
    /// createSession (−10): the negotiated timeout.
    pub struct CreateSessionTxn {
        pub time_out: i32,
    }
}

jute_record! {
    /// closeSession (−11) since ZooKeeper 3.6: the ephemerals it deletes.
    pub struct CloseSessionTxn {
        pub paths2_delete: Vec<String>,
    }
}

jute_record! {
    /// error (−1): a failed write still takes a zxid.
    pub struct ErrorTxn {
        pub err: i32,
    }
}

jute_record! {
    /// One op of a multi: its type and its txn record's encoding.
    pub struct Txn {
        pub txn_type: i32,
        pub data: Bytes,
    }
}

jute_record! {
    /// multi (14).
    pub struct MultiTxn {
        pub txns: Vec<Txn>,
    }
}

jute_record! {
    /// The first 16 bytes of a snapshot (magic `ZKSN`) or txn log (magic `ZKLG`) file.
    pub struct FileHeader {
        pub magic: i32,
        pub version: i32,
        pub dbid: i64,
    }
}
