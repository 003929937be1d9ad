//! Sequential znodes: a name is never handed out twice, and under one parent the
//! counters follow the order the creates took effect in (ZooKeeper takes the counter
//! from the parent's cversion at the create).

use std::collections::BTreeMap;

/// The 10-digit counter at the end of a sequential name.
pub fn counter(name: &str) -> Option<i64> {
    let digits = name.get(name.len().checked_sub(10)?..)?;
    if digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}

/// `created`: every acknowledged sequential create under one parent, as (the zxid it
/// took effect at, the name it returned). Names must be distinct and their counters
/// must grow with the zxids.
pub fn check(created: &[(i64, String)]) -> Result<(), String> {
    let mut by_name: BTreeMap<&str, i64> = BTreeMap::new();
    for (zxid, name) in created {
        if let Some(first) = by_name.insert(name, *zxid) {
            return Err(format!(
                "{name} was created twice (zxids 0x{first:x} and 0x{zxid:x})"
            ));
        }
    }
    let mut in_order: Vec<(i64, i64, &str)> = Vec::new();
    for (zxid, name) in created {
        let n = counter(name).ok_or_else(|| format!("{name} has no sequence counter"))?;
        in_order.push((*zxid, n, name));
    }
    in_order.sort();
    for pair in in_order.windows(2) {
        let ((za, na, a), (zb, nb, b)) = (pair[0], pair[1]);
        if nb <= na {
            return Err(format!(
                "{b} (zxid 0x{zb:x}) took effect after {a} (zxid 0x{za:x}) but has a counter not above it"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(zxid: i64, name: &str) -> (i64, String) {
        (zxid, name.to_owned())
    }

    #[test]
    fn distinct_names_in_creation_order_pass() {
        assert!(
            check(&[
                c(5, "a-0000000001"),
                c(3, "b-0000000000"),
                c(9, "a-0000000004")
            ])
            .is_ok()
        );
    }

    #[test]
    fn a_reused_name_is_caught() {
        let err = check(&[c(3, "a-0000000001"), c(7, "a-0000000001")]).unwrap_err();
        assert!(err.contains("created twice"), "{err}");
    }

    #[test]
    fn counters_against_creation_order_are_caught() {
        let err = check(&[c(3, "a-0000000005"), c(7, "b-0000000002")]).unwrap_err();
        assert!(err.contains("counter not above"), "{err}");
    }

    #[test]
    fn counters_parse_only_from_ten_digits() {
        assert_eq!(counter("s1-0000000042"), Some(42));
        assert_eq!(counter("short"), None);
        assert_eq!(counter("x-00000000a1"), None);
    }
}
