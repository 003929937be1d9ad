//! Reconnect policy: which host next, how long to wait before trying it, and the
//! SetWatches2 packets that re-register watches on the new connection.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use ferrokeeper_protocol::SetWatches2;

use crate::registry::WatchLists;

/// ZooKeeper's Java client (`ClientCnxn.SET_WATCHES_MAX_LENGTH`): a SetWatches packet
/// carries about this many bytes of paths at most, so that re-registering many watches
/// never makes a frame the server refuses.
pub(crate) const SET_WATCHES_MAX_LENGTH: usize = 128 * 1024;

/// The first wait before a reconnect attempt is at most this; each failed attempt
/// doubles it up to [`MAX_BACKOFF`]. The wait is drawn uniformly below the bound ("full
/// jitter"), so clients that lost the same server do not all come back at once.
const BASE_BACKOFF: Duration = Duration::from_millis(50);
/// As ZooKeeper's Java client, which waits up to a second between rounds of hosts.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// A small xorshift generator seeded from the standard library's per-process random
/// keys: enough for jitter and host shuffling, no dependency.
#[derive(Debug, Clone)]
pub(crate) struct Jitter(u64);

impl Jitter {
    pub(crate) fn new() -> Jitter {
        let seed = RandomState::new().hash_one(std::time::SystemTime::now());
        Jitter(seed | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `0..=bound` (to the millisecond).
    pub(crate) fn below(&mut self, bound: Duration) -> Duration {
        let ms = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(self.next_u64() % (ms.saturating_add(1)))
    }

    /// Fisher–Yates.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = usize::try_from(self.next_u64() % (i as u64 + 1)).unwrap_or(0);
            items.swap(i, j);
        }
    }
}

/// The host list and where the client is in it.
#[derive(Debug)]
pub(crate) struct Hosts {
    hosts: Vec<String>,
    /// The host of the current (or last) connection.
    current: usize,
    /// Attempts that failed since the last connection.
    failures: u32,
    /// A host to try next, at once (a read-write server found while read-only).
    preferred: Option<usize>,
    jitter: Jitter,
}

impl Hosts {
    /// `hosts` in the order they will be tried (already shuffled if wanted); the first
    /// connection is on `hosts[connected]`.
    pub(crate) fn new(hosts: Vec<String>, connected: usize, jitter: Jitter) -> Hosts {
        Hosts {
            hosts,
            current: connected,
            failures: 0,
            preferred: None,
            jitter,
        }
    }

    /// The next host to try (always moving on: the one just lost, or just failed, is
    /// tried again only after every other) and how long to wait first.
    pub(crate) fn next_attempt(&mut self) -> (String, Duration) {
        if let Some(index) = self.preferred.take()
            && let Some(host) = self.hosts.get(index)
        {
            self.current = index;
            return (host.clone(), Duration::ZERO);
        }
        self.current = (self.current + 1) % self.hosts.len().max(1);
        let bound = BASE_BACKOFF
            .saturating_mul(1u32 << self.failures.min(16))
            .min(MAX_BACKOFF);
        let delay = self.jitter.below(bound);
        let host = self.hosts.get(self.current).cloned().unwrap_or_default();
        (host, delay)
    }

    /// Makes `host` (one of the list) the next attempt, without a wait; the rotation
    /// goes on from it.
    pub(crate) fn prefer(&mut self, host: &str) {
        self.preferred = self.hosts.iter().position(|h| h == host);
    }

    /// Every host but the one of the current connection.
    pub(crate) fn others(&self) -> Vec<String> {
        self.hosts
            .iter()
            .enumerate()
            .filter(|(index, _)| *index != self.current)
            .map(|(_, host)| host.clone())
            .collect()
    }

    pub(crate) fn failed(&mut self) {
        self.failures = self.failures.saturating_add(1);
    }

    pub(crate) fn connected(&mut self) {
        self.failures = 0;
    }
}

/// The SetWatches2 packets for `lists`, each under about [`SET_WATCHES_MAX_LENGTH`]
/// bytes of paths (a single longer path still goes, alone). None when there is nothing
/// to re-register.
pub(crate) fn set_watches_packets(relative_zxid: i64, lists: WatchLists) -> Vec<SetWatches2> {
    let mut packets = Vec::new();
    let mut current = SetWatches2 {
        relative_zxid,
        ..SetWatches2::default()
    };
    let mut length = 0usize;
    let WatchLists {
        data,
        exist,
        child,
        persistent,
        persistent_recursive,
    } = lists;
    let tagged = [
        (0, data),
        (1, exist),
        (2, child),
        (3, persistent),
        (4, persistent_recursive),
    ];
    for (list, paths) in tagged {
        for path in paths {
            if length > 0 && length + path.len() > SET_WATCHES_MAX_LENGTH {
                packets.push(std::mem::replace(
                    &mut current,
                    SetWatches2 {
                        relative_zxid,
                        ..SetWatches2::default()
                    },
                ));
                length = 0;
            }
            length += path.len();
            let target = match list {
                0 => &mut current.data_watches,
                1 => &mut current.exist_watches,
                2 => &mut current.child_watches,
                3 => &mut current.persistent_watches,
                _ => &mut current.persistent_recursive_watches,
            };
            target.push(path);
        }
    }
    if length > 0 {
        packets.push(current);
    }
    packets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_rotate_and_back_off() {
        let mut hosts = Hosts::new(vec!["a".into(), "b".into(), "c".into()], 0, Jitter::new());
        let (first, delay) = hosts.next_attempt();
        assert_eq!(first, "b", "the lost host is tried last");
        assert!(delay <= BASE_BACKOFF);
        for _ in 0..10 {
            hosts.failed();
        }
        let (second, delay) = hosts.next_attempt();
        assert_eq!(second, "c");
        assert!(delay <= MAX_BACKOFF);
        assert_eq!(hosts.next_attempt().0, "a");
        hosts.connected();
        assert!(hosts.next_attempt().1 <= BASE_BACKOFF);
    }

    #[test]
    fn a_preferred_host_comes_next_then_the_rotation_goes_on() {
        let mut hosts = Hosts::new(vec!["a".into(), "b".into(), "c".into()], 0, Jitter::new());
        assert_eq!(hosts.others(), ["b", "c"]);
        hosts.prefer("c");
        assert_eq!(hosts.next_attempt(), ("c".to_owned(), Duration::ZERO));
        assert_eq!(hosts.others(), ["a", "b"]);
        assert_eq!(hosts.next_attempt().0, "a");
        hosts.prefer("not in the list");
        assert_eq!(hosts.next_attempt().0, "b");
    }

    #[test]
    fn jitter_is_bounded_and_shuffles() {
        let mut jitter = Jitter::new();
        for _ in 0..1000 {
            assert!(jitter.below(Duration::from_millis(7)) <= Duration::from_millis(7));
        }
        assert_eq!(jitter.below(Duration::ZERO), Duration::ZERO);
        let mut items: Vec<u32> = (0..50).collect();
        jitter.shuffle(&mut items);
        let mut sorted = items.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(items, sorted, "50 items left in order: 1 chance in 50!");
    }

    #[test]
    fn set_watches_split_at_128k() {
        assert!(set_watches_packets(5, WatchLists::default()).is_empty());
        let path = |i: usize| format!("/{}{i:06}", "x".repeat(993));
        let lists = WatchLists {
            data: (0..200).map(path).collect(),
            exist: vec!["/e".into()],
            child: (200..300).map(path).collect(),
            persistent: vec!["/p".into()],
            persistent_recursive: vec!["/r".into()],
        };
        let packets = set_watches_packets(42, lists.clone());
        assert_eq!(packets.len(), 3);
        let mut rebuilt = WatchLists::default();
        for packet in &packets {
            assert_eq!(packet.relative_zxid, 42);
            let bytes: usize = [
                &packet.data_watches,
                &packet.exist_watches,
                &packet.child_watches,
                &packet.persistent_watches,
                &packet.persistent_recursive_watches,
            ]
            .iter()
            .flat_map(|l| l.iter())
            .map(String::len)
            .sum();
            assert!(bytes <= SET_WATCHES_MAX_LENGTH, "{bytes}");
            rebuilt.data.extend(packet.data_watches.clone());
            rebuilt.exist.extend(packet.exist_watches.clone());
            rebuilt.child.extend(packet.child_watches.clone());
            rebuilt.persistent.extend(packet.persistent_watches.clone());
            rebuilt
                .persistent_recursive
                .extend(packet.persistent_recursive_watches.clone());
        }
        assert_eq!(rebuilt, lists, "every path once, in order");
    }
}
