//! The numbers of watch notifications and watch management requests.

use crate::wire_enum::wire_enum;

wire_enum! {
    /// `WatcherEvent.type`. The `*Removed` values are made by clients, never sent by a server.
    pub enum EventType {
        None = -1,
        NodeCreated = 1,
        NodeDeleted = 2,
        NodeDataChanged = 3,
        NodeChildrenChanged = 4,
        DataWatchRemoved = 5,
        ChildWatchRemoved = 6,
        PersistentWatchRemoved = 7,
    }
}

wire_enum! {
    /// `WatcherEvent.state`. A server always sends `SyncConnected`.
    pub enum KeeperState {
        Unknown = -1,
        Disconnected = 0,
        NoSyncConnected = 1,
        SyncConnected = 3,
        AuthFailed = 4,
        ConnectedReadOnly = 5,
        SaslAuthenticated = 6,
        Expired = -112,
        Closed = 7,
    }
}

wire_enum! {
    /// `AddWatchRequest.mode`.
    pub enum AddWatchMode {
        Persistent = 0,
        PersistentRecursive = 1,
    }
}

wire_enum! {
    /// `CheckWatchesRequest.type` / `RemoveWatchesRequest.type`.
    pub enum WatcherType {
        Children = 1,
        Data = 2,
        Any = 3,
    }
}
