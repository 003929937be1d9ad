//! Request types (`ZooDefs.OpCode`).

use crate::wire_enum::wire_enum;

wire_enum! {
    /// The `type` of a [`RequestHeader`](crate::RequestHeader), and of a multi sub-op.
    pub enum OpCode {
        Notification = 0,
        Create = 1,
        Delete = 2,
        Exists = 3,
        GetData = 4,
        SetData = 5,
        GetAcl = 6,
        SetAcl = 7,
        GetChildren = 8,
        Sync = 9,
        Ping = 11,
        GetChildren2 = 12,
        Check = 13,
        Multi = 14,
        Create2 = 15,
        Reconfig = 16,
        CheckWatches = 17,
        RemoveWatches = 18,
        CreateContainer = 19,
        /// Sent by ZooKeeper's own container manager; the body is the bare path bytes.
        DeleteContainer = 20,
        CreateTtl = 21,
        MultiRead = 22,
        Auth = 100,
        SetWatches = 101,
        Sasl = 102,
        GetEphemerals = 103,
        GetAllChildrenNumber = 104,
        SetWatches2 = 105,
        AddWatch = 106,
        WhoAmI = 107,
        /// Internal to ZooKeeper (made from a ConnectRequest); never sent by a client.
        CreateSession = -10,
        CloseSession = -11,
        /// Marks a failed sub-result in a multi response.
        Error = -1,
    }
}
