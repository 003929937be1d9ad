//! zkCli's quota commands (`setquota`, `listquota`, `delquota`), client-side as zkCli
//! has them: a quota on `/a/b` is the znode `/zookeeper/quota/a/b/zookeeper_limits`
//! (the limits, written by the client) beside `zookeeper_stats` (the usage, which the
//! client creates as `count=0,bytes=0` and the server then keeps up to date). Both hold
//! ZooKeeper's `StatsTrack` text, e.g. `count=10,bytes=-1=;byteHardLimit=-1;countHardLimit=-1`.
//!
//! The checks, their order and the messages are zkCli 3.8's (`SetQuotaCommand`,
//! `ListQuotaCommand`, `DelQuotaCommand`). Where zkCli prints a complaint and still
//! exits 0 (a bad value, a missing quota), this CLI prints the same text and fails:
//! a script must be able to tell that nothing was done.

use std::collections::BTreeMap;

use ferrokeeper_client::{Client, CreateMode, Error, open_acl_unsafe};

use crate::output::{errln, outln};
use crate::shell::CliError;

/// Where quotas live (ZooKeeper's `Quotas.quotaZookeeper`).
pub const QUOTA_ROOT: &str = "/zookeeper/quota";
const LIMIT_NODE: &str = "zookeeper_limits";
const STAT_NODE: &str = "zookeeper_stats";

const COUNT: &str = "count";
const BYTES: &str = "bytes";
const COUNT_HARD: &str = "countHardLimit";
const BYTES_HARD: &str = "byteHardLimit";

/// ZooKeeper's `StatsTrack`: named numbers, -1 when absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsTrack {
    /// Sorted, as `StatsTrack.toString` sorts the keys after `count` and `bytes`.
    stats: BTreeMap<String, i64>,
}

impl StatsTrack {
    /// Parses the text of a limits or stats znode: pairs `key=value` separated by runs
    /// of `,` or `;`; an empty value is -1 (the extra `=` after `bytes=` that keeps old
    /// parsers away from the hard limits reads as that).
    pub fn parse(data: &[u8]) -> Result<StatsTrack, String> {
        let text = std::str::from_utf8(data).map_err(|_| "quota data is not UTF-8".to_owned())?;
        let mut stats = BTreeMap::new();
        for pair in text.split([',', ';']).filter(|p| !p.is_empty()) {
            let mut parts = pair.split('=');
            let key = parts.next().unwrap_or_default();
            let value = match parts.next() {
                Some("") => -1,
                Some(v) => v
                    .parse::<i64>()
                    .map_err(|_| format!("malformed quota data {text:?}: {pair:?}"))?,
                None => return Err(format!("malformed quota data {text:?}: {pair:?}")),
            };
            stats.insert(key.to_owned(), value);
        }
        Ok(StatsTrack { stats })
    }

    fn get(&self, key: &str) -> i64 {
        self.stats.get(key).copied().unwrap_or(-1)
    }

    fn set(&mut self, key: &str, value: i64) {
        self.stats.insert(key.to_owned(), value);
    }

    /// Byte for byte `StatsTrack.toString`.
    pub fn text(&self) -> String {
        let mut out = format!("{COUNT}={},{BYTES}={}", self.get(COUNT), self.get(BYTES));
        let rest: Vec<_> = self
            .stats
            .iter()
            .filter(|(k, _)| *k != COUNT && *k != BYTES)
            .collect();
        if !rest.is_empty() {
            out.push('=');
            for (key, value) in rest {
                out.push_str(&format!(";{key}={value}"));
            }
        }
        out
    }
}

/// Which limit a `setquota`/`delquota` option names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `-n`: the soft limit on the number of znodes.
    Count,
    /// `-b`: the soft limit on the bytes of data.
    Bytes,
    /// `-N`: the hard limit on the number of znodes.
    CountHard,
    /// `-B`: the hard limit on the bytes of data.
    BytesHard,
}

impl Limit {
    fn key(self) -> &'static str {
        match self {
            Limit::Count => COUNT,
            Limit::Bytes => BYTES,
            Limit::CountHard => COUNT_HARD,
            Limit::BytesHard => BYTES_HARD,
        }
    }

    /// zkCli's checks of the value: counts are positive Java ints, byte limits
    /// non-negative longs.
    pub fn value(self, text: &str) -> Result<i64, CliError> {
        let parsed = match self {
            Limit::Count | Limit::CountHard => text.parse::<i32>().map(i64::from),
            Limit::Bytes | Limit::BytesHard => text.parse::<i64>(),
        };
        let value = parsed.map_err(|_| {
            CliError::Message("NumberFormatException happens when parsing the option value".into())
        })?;
        match self {
            Limit::Count | Limit::CountHard if value <= 0 => Err(CliError::Message(
                "the num quota must be greater than zero".into(),
            )),
            Limit::Bytes | Limit::BytesHard if value < 0 => Err(CliError::Message(
                "the bytes quota must be greater than or equal to zero".into(),
            )),
            _ => Ok(value),
        }
    }
}

fn limit_path(path: &str) -> String {
    format!("{QUOTA_ROOT}{path}/{LIMIT_NODE}")
}

fn stat_path(path: &str) -> String {
    format!("{QUOTA_ROOT}{path}/{STAT_NODE}")
}

/// The components of `path` (`/a/b` -> `a`, `b`), as Java's `split("/")` minus the
/// leading empty one.
fn components(path: &str) -> Vec<&str> {
    path.split('/').skip(1).filter(|c| !c.is_empty()).collect()
}

fn keeper(path: &str) -> impl FnOnce(Error) -> CliError + '_ {
    move |err| CliError::Keeper {
        err,
        path: path.to_owned(),
    }
}

async fn read_track(client: &Client, path: &str) -> Result<StatsTrack, CliError> {
    let (data, _) = client.get_data(path).await.map_err(keeper(path))?;
    StatsTrack::parse(&data).map_err(|e| CliError::Message(format!("{path}: {e}")))
}

/// Creates `path` with no data, unless it exists.
async fn ensure(client: &Client, path: &str) -> Result<(), CliError> {
    if client.exists(path).await.map_err(keeper(path))?.is_some() {
        return Ok(());
    }
    match client
        .create(path, b"", &open_acl_unsafe(), CreateMode::Persistent)
        .await
    {
        Ok(_) | Err(Error::NodeExists) => Ok(()),
        Err(e) => Err(keeper(path)(e)),
    }
}

/// `setquota`: sets one limit on `path` (a server path, outside any chroot).
pub async fn set(client: &Client, path: &str, limit: Limit, value: &str) -> Result<(), CliError> {
    if path.starts_with(QUOTA_ROOT) {
        return Err(CliError::Message(format!(
            "cannot set a quota under the path: {QUOTA_ROOT}"
        )));
    }
    let value = limit.value(value)?;
    if client.exists(path).await.map_err(keeper(path))?.is_none() {
        return Err(CliError::Message(format!("{path} does not exist.")));
    }
    no_child_quota(client, path).await?;
    no_parent_quota(client, path).await?;
    ensure(client, "/zookeeper").await?;
    ensure(client, QUOTA_ROOT).await?;
    let mut node = QUOTA_ROOT.to_owned();
    for component in components(path) {
        node = format!("{node}/{component}");
        ensure(client, &node).await?;
    }
    let limits_path = limit_path(path);
    let stats_path = stat_path(path);
    let exists = client
        .exists(&limits_path)
        .await
        .map_err(keeper(&limits_path))?;
    if exists.is_none() {
        // A new quota names all four limits, -1 for those not set.
        let mut limits = StatsTrack::default();
        for key in [COUNT, BYTES, COUNT_HARD, BYTES_HARD] {
            limits.set(key, -1);
        }
        limits.set(limit.key(), value);
        client
            .create(
                &limits_path,
                limits.text().as_bytes(),
                &open_acl_unsafe(),
                CreateMode::Persistent,
            )
            .await
            .map_err(keeper(&limits_path))?;
        let mut stats = StatsTrack::default();
        stats.set(COUNT, 0);
        stats.set(BYTES, 0);
        client
            .create(
                &stats_path,
                stats.text().as_bytes(),
                &open_acl_unsafe(),
                CreateMode::Persistent,
            )
            .await
            .map_err(keeper(&stats_path))?;
        // ZooKeeper fills in the usage as the stats node is created.
        let limits = read_track(client, &limits_path).await?;
        let stats = read_track(client, &stats_path).await?;
        warn_below_usage(&limits, &stats);
    } else {
        let mut limits = read_track(client, &limits_path).await?;
        limits.set(limit.key(), value);
        let stats = read_track(client, &stats_path).await?;
        warn_below_usage(&limits, &stats);
        client
            .set_data(&limits_path, limits.text().as_bytes(), None)
            .await
            .map_err(keeper(&limits_path))?;
    }
    Ok(())
}

/// zkCli's warnings (on stdout) when a limit is already exceeded; the quota is set all
/// the same.
fn warn_below_usage(limits: &StatsTrack, stats: &StatsTrack) {
    let below = |limit: i64, used: i64| limit > -1 && limit < used;
    let count = stats.get(COUNT);
    if below(limits.get(COUNT), count) || below(limits.get(COUNT_HARD), count) {
        outln!("[Warning]: the count quota you create is less than the existing count:{count}");
    }
    let bytes = stats.get(BYTES);
    if below(limits.get(BYTES), bytes) || below(limits.get(BYTES_HARD), bytes) {
        outln!("[Warning]: the bytes quota you create is less than the existing bytes:{bytes}");
    }
}

/// Refuses a quota on `path` when a node below it has one.
async fn no_child_quota(client: &Client, path: &str) -> Result<(), CliError> {
    let top = format!("{QUOTA_ROOT}{path}");
    // Depth first, children sorted.
    let mut stack = vec![top.clone()];
    while let Some(node) = stack.pop() {
        let mut children = match client.get_children(&node).await {
            Ok(children) => children,
            // No quota node for `path` (or one removed meanwhile): nothing below.
            Err(Error::NoNode) => continue,
            Err(e) => return Err(keeper(&node)(e)),
        };
        if node != top && children.iter().any(|c| c == LIMIT_NODE) {
            return Err(CliError::Message(format!(
                "{path} has a child {} which has a quota",
                &node[QUOTA_ROOT.len()..]
            )));
        }
        children.sort();
        stack.extend(children.iter().rev().map(|c| format!("{node}/{c}")));
    }
    Ok(())
}

/// Refuses a quota on `path` when a node above it has one.
async fn no_parent_quota(client: &Client, path: &str) -> Result<(), CliError> {
    let parts = components(path);
    let mut node = QUOTA_ROOT.to_owned();
    for component in parts.iter().take(parts.len().saturating_sub(1)) {
        node = format!("{node}/{component}");
        let children = match client.get_children(&node).await {
            Ok(children) => children,
            Err(Error::NoNode) => return Ok(()),
            Err(e) => return Err(keeper(&node)(e)),
        };
        if children.is_empty() {
            return Ok(());
        }
        if children.iter().any(|c| c == LIMIT_NODE) {
            return Err(CliError::Message(format!(
                "{path} has a parent {} which has a quota",
                &node[QUOTA_ROOT.len()..]
            )));
        }
    }
    Ok(())
}

/// `listquota`: the limits and the usage of the quota on `path`.
pub async fn list(client: &Client, path: &str) -> Result<(), CliError> {
    let limits_path = limit_path(path);
    errln!("absolute path is {limits_path}");
    let missing = || CliError::Message(format!("quota for {path} does not exist."));
    let read = |node: String| async move {
        match read_track(client, &node).await {
            Err(CliError::Keeper {
                err: Error::NoNode, ..
            }) => Err(missing()),
            other => other,
        }
    };
    let limits = read(limits_path.clone()).await?;
    let stats = read(stat_path(path)).await?;
    outln!("Output quota for {path} {}", limits.text());
    outln!("Output stat for {path} {}", stats.text());
    Ok(())
}

/// `delquota`: removes one limit (`Some`) or the whole quota (`None`) of `path`.
pub async fn delete(client: &Client, path: &str, limit: Option<Limit>) -> Result<(), CliError> {
    let limits_path = limit_path(path);
    if client
        .exists(&limits_path)
        .await
        .map_err(keeper(&limits_path))?
        .is_none()
    {
        return Err(CliError::Message(format!(
            "Quota does not exist for {path}"
        )));
    }
    let mut limits = match read_track(client, &limits_path).await {
        Err(CliError::Keeper {
            err: Error::NoNode, ..
        }) => {
            return Err(CliError::Message(format!(
                "quota for {path} does not exist."
            )));
        }
        other => other?,
    };
    match limit {
        Some(limit) => {
            limits.set(limit.key(), -1);
            client
                .set_data(&limits_path, limits.text().as_bytes(), None)
                .await
                .map_err(keeper(&limits_path))?;
        }
        None => {
            let node = format!("{QUOTA_ROOT}{path}");
            let children = client.get_children(&node).await.map_err(keeper(&node))?;
            for child in children {
                let child = format!("{node}/{child}");
                client.delete(&child, None).await.map_err(keeper(&child))?;
            }
            // Then the quota tree's nodes left without children, upwards.
            let mut node = node;
            while node != QUOTA_ROOT && node.starts_with(QUOTA_ROOT) {
                let children = client.get_children(&node).await.map_err(keeper(&node))?;
                if !children.is_empty() {
                    break;
                }
                client.delete(&node, None).await.map_err(keeper(&node))?;
                match node.rfind('/') {
                    Some(i) => node.truncate(i),
                    None => break,
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_track_text_is_zookeepers() {
        let mut new = StatsTrack::default();
        for key in [COUNT, BYTES, COUNT_HARD, BYTES_HARD] {
            new.set(key, -1);
        }
        new.set(COUNT, 10);
        assert_eq!(
            new.text(),
            "count=10,bytes=-1=;byteHardLimit=-1;countHardLimit=-1"
        );
        let parsed = StatsTrack::parse(new.text().as_bytes()).expect("parses");
        assert_eq!(parsed, new);
        let stats = StatsTrack::parse(b"count=3,bytes=12").expect("parses");
        assert_eq!(stats.text(), "count=3,bytes=12");
        assert_eq!(StatsTrack::default().text(), "count=-1,bytes=-1");
        assert!(StatsTrack::parse(b"count").is_err());
        assert!(StatsTrack::parse(b"count=x").is_err());
    }

    #[test]
    fn limit_values_are_checked_as_zkcli_does() {
        assert_eq!(Limit::Count.value("5").ok(), Some(5));
        assert!(Limit::Count.value("0").is_err());
        assert!(Limit::CountHard.value("3000000000").is_err());
        assert_eq!(Limit::Bytes.value("0").ok(), Some(0));
        assert_eq!(
            Limit::BytesHard.value("3000000000").ok(),
            Some(3_000_000_000)
        );
        assert!(Limit::Bytes.value("-1").is_err());
        assert!(Limit::Bytes.value("ten").is_err());
    }
}
