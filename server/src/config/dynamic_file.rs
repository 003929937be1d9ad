//! `dynamicConfigFile`: membership (`server.N`, `group`, `weight`) kept in its own file
//! so that reconfiguration can rewrite it. Read as `QuorumPeerConfig.parse` does, and
//! written after a reconfig as `QuorumPeer` does: `<zoo.cfg>.dynamic.<version, hex>`
//! with the new `server.N` lines, and zoo.cfg rewritten to point at it (its own
//! membership lines dropped; the first time, the original is kept as `zoo.cfg.bak`).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::{ConfigError, Origin};
use super::java;
use super::properties;

/// Server lines (key, value, origin) from the file, and the config version taken from
/// its name (`zoo.cfg.dynamic.100000000` → 0x100000000; no hex suffix → 0).
pub type Membership = (Vec<(String, String, Origin)>, u64);

pub fn read(path: &Path) -> Result<Membership, ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let entries = properties::parse(&properties::decode_bytes(&bytes)).map_err(|e| {
        ConfigError::invalid(
            &Origin::File {
                path: path.to_path_buf(),
                line: e.line,
            },
            &e.key,
            "malformed \\uxxxx escape",
        )
    })?;
    let mut lines = Vec::new();
    for e in entries {
        let key = java::trim(&e.key).to_owned();
        let at = Origin::File {
            path: path.to_path_buf(),
            line: e.line,
        };
        if key == "version" {
            return Err(ConfigError::invalid(
                &at,
                &key,
                "dynamic file shouldn't have version inside",
            ));
        }
        if key.starts_with("server.") {
            lines.push((key, e.value, at));
        } else if key.starts_with("group") || key.starts_with("weight") {
            // As in zoo.cfg: ignoring them would form quorums nobody asked for.
            return Err(ConfigError::invalid(
                &at,
                &key,
                "hierarchical quorums (group/weight) are not supported by ferrokeeper".to_owned(),
            ));
        } else {
            return Err(ConfigError::invalid(
                &at,
                &key,
                format!("Unrecognised parameter: {key}"),
            ));
        }
    }
    Ok((lines, version_from_name(path)))
}

/// After a reconfig committed `members` (`server.N=…` lines) at `version`: writes
/// `<zoo_cfg>.dynamic.<version hex>` and points `zoo_cfg` at it, each through a
/// temporary file, fsync and rename, so a crash leaves the old or the new file whole.
/// Returns the dynamic file's path.
pub fn write_after_reconfig(
    zoo_cfg: &Path,
    members: &str,
    version: i64,
) -> std::io::Result<PathBuf> {
    let dynamic = PathBuf::from(format!("{}.dynamic.{version:x}", zoo_cfg.display()));
    let mut text = members.trim_end().to_owned();
    text.push('\n');
    replace_file(&dynamic, text.as_bytes())?;

    let original = std::fs::read_to_string(zoo_cfg)?;
    let backup = PathBuf::from(format!("{}.bak", zoo_cfg.display()));
    let mut kept: Vec<&str> = original
        .lines()
        .filter(|line| {
            let key = line.split_once('=').map_or("", |(k, _)| k.trim());
            !(key.starts_with("server.")
                || key.starts_with("group.")
                || key.starts_with("weight.")
                || key == "dynamicConfigFile")
        })
        .collect();
    if kept.len() != original.lines().count() && !backup.exists() {
        replace_file(&backup, original.as_bytes())?;
    }
    let pointer = format!("dynamicConfigFile={}", dynamic.display());
    kept.push(&pointer);
    let mut rewritten = kept.join("\n");
    rewritten.push('\n');
    replace_file(zoo_cfg, rewritten.as_bytes())?;
    Ok(dynamic)
}

fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// `getVersionFromFilename`: the hex number after the last '.', if any.
fn version_from_name(path: &Path) -> u64 {
    let name = path.to_string_lossy();
    name.rsplit_once('.')
        .and_then(|(_, v)| u64::from_str_radix(v, 16).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::TempDir;

    #[test]
    fn reads_servers_and_version() {
        let dir = TempDir::new("dynamic");
        let p = dir.write(
            "zoo.cfg.dynamic.100000000",
            "server.1=a:1:2\nserver.2=b:1:2;2181\n",
        );
        let (lines, version) = read(&p).expect("valid");
        assert_eq!(lines.len(), 2);
        assert_eq!(version, 0x1_0000_0000);
        let p = dir.write("zoo.cfg.dynamic", "server.1=a:1:2\n");
        assert_eq!(read(&p).map(|r| r.1).ok(), Some(0));
    }

    #[test]
    fn a_reconfig_writes_the_dynamic_file_and_points_zoo_cfg_at_it() {
        let dir = TempDir::new("dynamic-write");
        let cfg = dir.write(
            "zoo.cfg",
            "tickTime=2000\ndataDir=/d\nserver.1=a:1:2\nserver.2=b:1:2\n",
        );
        let members = "server.1=a:1:2:participant\nserver.3=c:1:2:observer;2181";
        let dynamic = write_after_reconfig(&cfg, members, 0x1_0000_0005).expect("written");
        assert!(dynamic.ends_with("zoo.cfg.dynamic.100000005"));
        let (lines, version) = read(&dynamic).expect("reads back");
        assert_eq!(version, 0x1_0000_0005);
        assert_eq!(
            lines
                .iter()
                .map(|(k, v, _)| format!("{k}={v}"))
                .collect::<Vec<_>>(),
            ["server.1=a:1:2:participant", "server.3=c:1:2:observer;2181"]
        );
        let rewritten = std::fs::read_to_string(&cfg).expect("zoo.cfg");
        assert_eq!(
            rewritten,
            format!(
                "tickTime=2000\ndataDir=/d\ndynamicConfigFile={}\n",
                dynamic.display()
            )
        );
        let backup = std::fs::read_to_string(format!("{}.bak", cfg.display())).expect("bak");
        assert!(backup.contains("server.2=b:1:2"));
        // The next reconfig replaces the pointer and keeps the first backup.
        let next = write_after_reconfig(&cfg, "server.1=a:1:2:participant", 0x1_0000_0009)
            .expect("written");
        let rewritten = std::fs::read_to_string(&cfg).expect("zoo.cfg");
        assert!(rewritten.ends_with(&format!("dynamicConfigFile={}\n", next.display())));
        assert_eq!(rewritten.matches("dynamicConfigFile").count(), 1);
        let backup = std::fs::read_to_string(format!("{}.bak", cfg.display())).expect("bak");
        assert!(backup.contains("server.2=b:1:2"));
    }

    #[test]
    fn rejects_other_keys() {
        let dir = TempDir::new("dynamic-bad");
        let p = dir.write("dyn.0", "server.1=a:1:2\ntickTime=2000\n");
        let e = read(&p).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            e.ends_with(":2: tickTime: Unrecognised parameter: tickTime"),
            "{e}"
        );
        let p = dir.write("dyn.1", "version=1\n");
        assert!(read(&p).is_err());
    }
}
