//! `dynamicConfigFile`: membership (`server.N`, `group`, `weight`) kept in its own file
//! so that reconfiguration can rewrite it. Read as `QuorumPeerConfig.parse` does.

use std::path::Path;

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
        } else if !(key.starts_with("group") || key.starts_with("weight")) {
            return Err(ConfigError::invalid(
                &at,
                &key,
                format!("Unrecognised parameter: {key}"),
            ));
        }
    }
    Ok((lines, version_from_name(path)))
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
