//! The `ephemeralOwner` field's internal encoding (ZooKeeper's `EphemeralType`):
//! 0 for a persistent node, the session id for an ephemeral, `i64::MIN` for a
//! container, and `0xFF` in the top byte plus the TTL for a TTL node.

/// A container's stored owner (`Long.MIN_VALUE`).
pub const CONTAINER_OWNER: i64 = i64::MIN;

/// The largest TTL ZooKeeper accepts, in milliseconds (about 34 years).
pub const MAX_TTL_MS: i64 = 0xFF_FFFF_FFFF;

const EXTENDED_MASK: i64 = 0xFF00_0000_0000_0000_u64 as i64;
const RESERVED_BITS_MASK: i64 = 0x00FF_FF00_0000_0000;
const RESERVED_BITS_SHIFT: u32 = 40;
/// The extended-feature bits that mean "TTL" (the only extended type there is).
const TTL_FEATURE: i64 = 0;

/// What kind of node an owner value denotes.
///
/// The TTL encoding is only recognised when extended types are enabled: with them
/// disabled ZooKeeper reads such a value as a normal session id, and so do we.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    /// Owner 0: a persistent node.
    Persistent,
    /// A session's ephemeral node.
    Ephemeral(i64),
    Container,
    /// A TTL node, with its TTL in milliseconds.
    Ttl(i64),
    /// The extended top byte with feature bits ZooKeeper does not know; ZooKeeper
    /// throws on these, so they never occur in a tree it wrote.
    Unknown,
}

impl OwnerKind {
    pub fn of(owner: i64, extended_types: bool) -> OwnerKind {
        if extended_types && owner & EXTENDED_MASK == EXTENDED_MASK {
            let feature = (owner & RESERVED_BITS_MASK) >> RESERVED_BITS_SHIFT;
            return if feature == TTL_FEATURE {
                OwnerKind::Ttl(owner & !(EXTENDED_MASK | RESERVED_BITS_MASK))
            } else {
                OwnerKind::Unknown
            };
        }
        match owner {
            CONTAINER_OWNER => OwnerKind::Container,
            0 => OwnerKind::Persistent,
            session => OwnerKind::Ephemeral(session),
        }
    }

    /// ZooKeeper's `EphemeralType.NORMAL`: can have no children, and shows its owner
    /// to clients. An unknown extended value counts too, so it stays visible rather
    /// than silently passing as persistent.
    pub fn is_session_ephemeral(self) -> bool {
        matches!(self, OwnerKind::Ephemeral(_) | OwnerKind::Unknown)
    }
}

/// The stored owner of a TTL node, or `None` if `ttl` is out of range.
pub fn ttl_owner(ttl: i64) -> Option<i64> {
    (ttl > 0 && ttl <= MAX_TTL_MS).then_some(EXTENDED_MASK | TTL_FEATURE | ttl)
}

/// The `ephemeralOwner` a client sees: 0 for containers and TTL nodes.
pub fn client_owner(owner: i64, extended_types: bool) -> i64 {
    if OwnerKind::of(owner, extended_types).is_session_ephemeral() {
        owner
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_each_kind() {
        assert_eq!(OwnerKind::of(0, true), OwnerKind::Persistent);
        assert_eq!(
            OwnerKind::of(0x0100_0000_0000_0005, true),
            OwnerKind::Ephemeral(0x0100_0000_0000_0005)
        );
        assert_eq!(OwnerKind::of(i64::MIN, true), OwnerKind::Container);
        assert_eq!(OwnerKind::of(i64::MIN, false), OwnerKind::Container);
        let ttl = ttl_owner(1000);
        assert_eq!(ttl, Some(0xFF00_0000_0000_03E8_u64 as i64));
        let ttl = ttl.unwrap_or_default();
        assert_eq!(OwnerKind::of(ttl, true), OwnerKind::Ttl(1000));
        assert_eq!(OwnerKind::of(ttl, false), OwnerKind::Ephemeral(ttl));
        assert_eq!(
            OwnerKind::of(0xFF01_0000_0000_0001_u64 as i64, true),
            OwnerKind::Unknown
        );
    }

    #[test]
    fn ttl_range() {
        assert_eq!(ttl_owner(0), None);
        assert_eq!(ttl_owner(-1), None);
        assert_eq!(ttl_owner(MAX_TTL_MS + 1), None);
        assert!(ttl_owner(MAX_TTL_MS).is_some());
    }

    #[test]
    fn clients_see_zero_for_containers_and_ttl() {
        assert_eq!(client_owner(CONTAINER_OWNER, true), 0);
        assert_eq!(client_owner(ttl_owner(5).unwrap_or_default(), true), 0);
        assert_eq!(client_owner(42, true), 42);
        assert_eq!(client_owner(0, true), 0);
    }
}
