//! A znode's ACL as stored: a reference to one interned list. Most znodes carry one of
//! a handful of ACLs (ZooKeeper keeps them in a reference-counted cache and stores a
//! number per node); a list of its own per node costs about 130 bytes with
//! `world:anyone`, a fifth of what a small znode takes.
//!
//! Interning is by content through a small process-wide table of weak references, so
//! it works the same for znodes created by requests and znodes read from a snapshot,
//! and a list no znode uses any more is freed. The table is bounded: past
//! [`TABLE_SIZE`] distinct live lists, new ones are simply not shared.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex, Weak};

use ferrokeeper_protocol::Acl;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Distinct ACL lists shared at most; a linear scan of this many is cheap next to a
/// create.
const TABLE_SIZE: usize = 64;

static TABLE: Mutex<Vec<Weak<[Acl]>>> = Mutex::new(Vec::new());

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SharedAcl(Arc<[Acl]>);

impl SharedAcl {
    pub fn to_vec(&self) -> Vec<Acl> {
        self.0.to_vec()
    }
}

impl Deref for SharedAcl {
    type Target = [Acl];

    fn deref(&self) -> &[Acl] {
        &self.0
    }
}

impl fmt::Debug for SharedAcl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<Vec<Acl>> for SharedAcl {
    fn from(acl: Vec<Acl>) -> SharedAcl {
        // A poisoned table is still a valid table (it holds only weak references).
        let mut table = TABLE.lock().unwrap_or_else(|p| p.into_inner());
        let mut free = None;
        for (i, entry) in table.iter().enumerate() {
            match entry.upgrade() {
                Some(shared) if *shared == *acl => return SharedAcl(shared),
                Some(_) => {}
                None => {
                    free.get_or_insert(i);
                }
            }
        }
        let shared: Arc<[Acl]> = acl.into();
        match free {
            Some(i) => table[i] = Arc::downgrade(&shared),
            None if table.len() < TABLE_SIZE => table.push(Arc::downgrade(&shared)),
            None => {}
        }
        SharedAcl(shared)
    }
}

/// Encoded as the list itself: snapshots are unchanged.
impl Serialize for SharedAcl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SharedAcl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SharedAcl, D::Error> {
        Vec::<Acl>::deserialize(deserializer).map(SharedAcl::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrokeeper_protocol::{Id, perms};

    fn acl(scheme: &str, id: &str) -> Vec<Acl> {
        vec![Acl {
            perms: perms::ALL,
            id: Id {
                scheme: scheme.into(),
                id: id.into(),
            },
        }]
    }

    #[test]
    fn equal_lists_share_one_allocation_and_unequal_ones_do_not() {
        let a = SharedAcl::from(acl("ip", "10.1.2.3"));
        let b = SharedAcl::from(acl("ip", "10.1.2.3"));
        let c = SharedAcl::from(acl("ip", "10.1.2.4"));
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert!(!Arc::ptr_eq(&a.0, &c.0));
        assert_eq!(&*a, acl("ip", "10.1.2.3").as_slice());
    }

    #[test]
    fn encoding_is_the_lists_and_decoding_shares() {
        let a = SharedAcl::from(acl("sasl", "bob"));
        let bytes = postcard::to_allocvec(&a).unwrap();
        assert_eq!(bytes, postcard::to_allocvec(&acl("sasl", "bob")).unwrap());
        let back: SharedAcl = postcard::from_bytes(&bytes).unwrap();
        assert!(Arc::ptr_eq(&a.0, &back.0));
    }

    #[test]
    fn past_the_table_size_lists_are_still_correct() {
        let many: Vec<SharedAcl> = (0..TABLE_SIZE * 2)
            .map(|i| SharedAcl::from(acl("digest", &format!("user{i}:x"))))
            .collect();
        for (i, shared) in many.iter().enumerate() {
            assert_eq!(&**shared, acl("digest", &format!("user{i}:x")).as_slice());
        }
        assert!(TABLE.lock().unwrap().len() <= TABLE_SIZE);
    }
}
