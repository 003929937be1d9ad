//! One znode as stored, and the `Stat` clients see for it.

use imbl::OrdSet;

use bytes::Bytes;
use ferrokeeper_protocol::{Acl, Stat, StatPersisted};
use serde::{Deserialize, Serialize};

use super::owner::client_owner;
use super::shared_acl::SharedAcl;

/// A znode: what ZooKeeper persists (`DataNode`) plus its children's names.
///
/// `stat.cversion` is ZooKeeper's persisted value: the number of child creations
/// (it feeds sequential names); clients see a derived value, see [`Node::client_stat`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// `None` is a null buffer, kept as ZooKeeper keeps it (returned as length −1).
    pub(crate) data: Option<Bytes>,
    pub(crate) acl: SharedAcl,
    pub(crate) stat: StatPersisted,
    pub(crate) children: OrdSet<String>,
}

impl Node {
    pub(crate) fn new(data: Option<Bytes>, acl: Vec<Acl>, stat: StatPersisted) -> Node {
        Node {
            data: own_copy(data),
            acl: acl.into(),
            stat,
            children: OrdSet::new(),
        }
    }

    pub fn data(&self) -> Option<&Bytes> {
        self.data.as_ref()
    }

    pub fn acl(&self) -> &[Acl] {
        &self.acl
    }

    /// The persisted stat, with the internal `ephemeralOwner` encoding.
    pub fn persisted_stat(&self) -> &StatPersisted {
        &self.stat
    }

    /// Children's names (not full paths), sorted.
    pub fn children(&self) -> &OrdSet<String> {
        &self.children
    }

    pub fn data_len(&self) -> usize {
        self.data.as_ref().map_or(0, Bytes::len)
    }

    /// The client-visible stat (`DataNode.copyStat`): cversion counts creates and
    /// deletes (`2 × creates − live children`), containers and TTL nodes show owner 0,
    /// and null data has length 0. Java int arithmetic, so it wraps.
    pub fn client_stat(&self, extended_types: bool) -> Stat {
        let s = &self.stat;
        let num_children = i32::try_from(self.children.len()).unwrap_or(i32::MAX);
        Stat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: s.aversion,
            ephemeral_owner: client_owner(s.ephemeral_owner, extended_types),
            data_length: i32::try_from(self.data_len()).unwrap_or(i32::MAX),
            num_children,
            pzxid: s.pzxid,
        }
    }
}

/// A znode's data in an allocation of its own. Data decoded from a request is a slice of
/// the connection's read buffer; kept as it is, every znode would pin the whole buffer it
/// arrived in (kilobytes for 100 bytes of data, until the last znode from that buffer is
/// deleted or changed).
pub(crate) fn own_copy(data: Option<Bytes>) -> Option<Bytes> {
    data.map(|d| Bytes::copy_from_slice(&d))
}

/// `DataTree.createStat`: a new node's persisted stat.
pub(crate) fn new_stat(zxid: i64, time: i64, owner: i64) -> StatPersisted {
    StatPersisted {
        czxid: zxid,
        mzxid: zxid,
        ctime: time,
        mtime: time,
        version: 0,
        cversion: 0,
        aversion: 0,
        ephemeral_owner: owner,
        pzxid: zxid,
    }
}
