//! ZooKeeper's tree digest (3.6+, `DigestCalculator` and `AdHash`): the wrapping sum
//! of a CRC-32 per node over its path (the root as `""`), data and persisted stat,
//! leaving out everything under `/zookeeper/`. ZooKeeper logs it after every txn and
//! stores it in snapshots, so an import can prove it rebuilt exactly ZooKeeper's tree,
//! and ZooKeeper checks the one an export writes.

use ferrokeeper_protocol::StatPersisted;

use crate::tree::DataTree;

/// `DigestCalculator.DIGEST_VERSION`.
pub const DIGEST_VERSION: i32 = 2;

/// One node's digest.
pub fn node_digest(path: &str, data: Option<&[u8]>, stat: &StatPersisted) -> i64 {
    let path = if path == "/" { "" } else { path };
    let mut crc = crc32fast::Hasher::new();
    crc.update(path.as_bytes());
    if let Some(data) = data {
        crc.update(data);
    }
    let mut b = [0u8; 60];
    let fields: [&[u8]; 9] = [
        &stat.czxid.to_be_bytes(),
        &stat.mzxid.to_be_bytes(),
        &stat.pzxid.to_be_bytes(),
        &stat.ctime.to_be_bytes(),
        &stat.mtime.to_be_bytes(),
        &stat.version.to_be_bytes(),
        &stat.cversion.to_be_bytes(),
        &stat.aversion.to_be_bytes(),
        &stat.ephemeral_owner.to_be_bytes(),
    ];
    let mut at = 0;
    for field in fields {
        b[at..at + field.len()].copy_from_slice(field);
        at += field.len();
    }
    crc.update(&b);
    i64::from(crc.finalize())
}

/// The digest of a whole tree.
pub fn tree_digest(tree: &DataTree) -> i64 {
    tree.iter()
        .filter(|(path, _)| !path.starts_with("/zookeeper/"))
        .fold(0i64, |sum, (path, node)| {
            sum.wrapping_add(node_digest(
                path,
                node.data().map(|d| &d[..]),
                node.persisted_stat(),
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_tree_digest_counts_root_and_zookeeper_only() {
        let tree = DataTree::new();
        let zero = StatPersisted::default();
        let expected = node_digest("", Some(b""), &zero).wrapping_add(node_digest(
            "/zookeeper",
            Some(b""),
            &zero,
        ));
        assert_eq!(tree_digest(&tree), expected);
        // The root is hashed as "".
        assert_eq!(node_digest("/", None, &zero), node_digest("", None, &zero));
    }
}
