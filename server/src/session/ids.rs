//! Session ids as ZooKeeper makes them: the server id in the top byte, a time-derived
//! base below it, then one more for each new session. Time-derived so that ids stay
//! unique across restarts without being stored.

/// Hands out session ids for one server.
#[derive(Debug)]
pub struct SessionIdGenerator {
    next: i64,
}

impl SessionIdGenerator {
    /// Starts from `now_ms` for server `server_id` (0..=255).
    pub fn new(server_id: u64, now_ms: i64) -> Self {
        let base = ((now_ms as u64) << 24) >> 8;
        let mut next = (base | (server_id << 56)) as i64;
        // i64::MIN marks containers' ephemeral owner; never hand it out.
        if next == i64::MIN {
            next += 1;
        }
        SessionIdGenerator { next }
    }

    /// The next id, skipping any `in_use` reports as taken.
    pub fn next_id(&mut self, in_use: impl Fn(i64) -> bool) -> i64 {
        loop {
            let id = self.next;
            self.next = self.next.wrapping_add(1);
            if id != 0 && id != i64::MIN && !in_use(id) {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_byte_is_the_server_id_and_ids_increase() {
        let mut ids = SessionIdGenerator::new(1, 1_700_000_000_000);
        let a = ids.next_id(|_| false);
        let b = ids.next_id(|_| false);
        assert_eq!((a as u64) >> 56, 1);
        assert_eq!(b, a + 1);
        let c = ids.next_id(|id| id == b + 1);
        assert_eq!(c, b + 2, "ids in use are skipped");
    }
}
