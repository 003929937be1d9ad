//! Per-session guarantees ZooKeeper gives every client, checked on one session's
//! completed operations in the order it issued them:
//!
//! - **monotonic reads / read-your-writes**: the zxid a session observes (a reply's
//!   header zxid, or the `mzxid` of what it read or wrote) never goes down;
//! - **FIFO client order**: the session's successful writes took effect in the order it
//!   issued them (their own zxids strictly increase).

/// One completed operation of a session, in issue order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    /// The zxid this reply shows the session (what it has seen up to).
    pub seen: i64,
    /// For a successful write: the zxid of the write itself.
    pub wrote: Option<i64>,
}

/// The first breach of the guarantees in one session's operations.
pub fn check(session: u64, ops: &[Observed]) -> Result<(), String> {
    let mut seen = i64::MIN;
    let mut wrote = i64::MIN;
    for (i, op) in ops.iter().enumerate() {
        if op.seen < seen {
            return Err(format!(
                "session 0x{session:x}: operation {i} saw zxid 0x{:x} after 0x{seen:x} (went back)",
                op.seen
            ));
        }
        seen = op.seen;
        if let Some(zxid) = op.wrote {
            if zxid <= wrote {
                return Err(format!(
                    "session 0x{session:x}: write {i} took effect at zxid 0x{zxid:x}, not after its earlier write at 0x{wrote:x}"
                ));
            }
            wrote = zxid;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(seen: i64) -> Observed {
        Observed { seen, wrote: None }
    }
    fn write(zxid: i64) -> Observed {
        Observed {
            seen: zxid,
            wrote: Some(zxid),
        }
    }

    #[test]
    fn a_session_that_moves_forward_passes() {
        assert!(check(1, &[read(3), write(5), read(5), read(9), write(10)]).is_ok());
    }

    #[test]
    fn a_read_that_goes_back_is_caught() {
        let err = check(1, &[read(3), write(5), read(4)]).unwrap_err();
        assert!(err.contains("went back"), "{err}");
    }

    #[test]
    fn writes_out_of_issue_order_are_caught() {
        // The second write took effect before the first (with a read between that saw
        // far ahead, so only the write order is wrong).
        let ops = [
            write(8),
            Observed {
                seen: 9,
                wrote: Some(7),
            },
        ];
        let err = check(1, &ops).unwrap_err();
        assert!(err.contains("not after its earlier write"), "{err}");
    }
}
