//! ZooKeeper's JVM system properties as one map. In ZooKeeper, zoo.cfg keys it does not
//! know become `zookeeper.<key>` system properties, and many settings (`snapCount`,
//! `4lw.commands.whitelist`, `admin.*`, ...) are only ever read from there; modelling the
//! same map keeps every such key working whichever way it is set.

use std::collections::BTreeMap;

use super::error::{ConfigError, Origin};
use super::java;

/// One property value and where it was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysProp {
    pub value: String,
    pub origin: Origin,
    /// The name as the user wrote it: `snapCount` in zoo.cfg is `zookeeper.snapCount`
    /// here, but an error message should quote what is in the file.
    pub written_as: String,
}

/// Name → value. Later `set` calls replace earlier ones, which is how precedence is
/// applied (file first, then environment, then command line, then flags).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemProperties {
    map: BTreeMap<String, SysProp>,
}

impl SystemProperties {
    pub fn set(&mut self, name: &str, value: &str, origin: Origin, written_as: &str) {
        let prop = SysProp {
            value: value.to_owned(),
            origin,
            written_as: written_as.to_owned(),
        };
        self.map.insert(name.to_owned(), prop);
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(|p| p.value.as_str())
    }

    pub fn entry(&self, name: &str) -> Option<&SysProp> {
        self.map.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &SysProp)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// A refusal of property `name`, naming it as written and where it was set.
    pub fn refuse(&self, name: &str, why: impl Into<String>) -> ConfigError {
        match self.map.get(name) {
            Some(p) => ConfigError::invalid(&p.origin, &p.written_as, why),
            None => ConfigError::invalid(&Origin::Default, name, why),
        }
    }

    fn bad(&self, name: &str, what: &str) -> ConfigError {
        match self.map.get(name) {
            Some(p) => ConfigError::bad_value(&p.origin, &p.written_as, &p.value, what),
            None => ConfigError::invalid(&Origin::Default, name, what.to_owned()),
        }
    }

    /// A string property, trimmed; `None` when unset.
    pub fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| java::trim(v).to_owned())
    }

    /// An `Integer.getInteger`-style number (decimal, `0x` hex or `0` octal). Java
    /// silently falls back to the default on garbage; we refuse to start instead, so a
    /// typo is not mistaken for a setting.
    pub fn int(&self, name: &str, default: i32) -> Result<i32, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => java::decode_int(java::trim(v)).ok_or_else(|| self.bad(name, "a number")),
        }
    }

    /// `Long.getLong`-style number.
    pub fn long(&self, name: &str, default: i64) -> Result<i64, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => java::decode_long(java::trim(v)).ok_or_else(|| self.bad(name, "a number")),
        }
    }

    /// A boolean property. Java's `Boolean.getBoolean` treats anything but "true" as
    /// false; we accept `true`/`false` in any case and reject the rest, so `yes` or `1`
    /// is reported rather than silently read as false. `-Dname` (empty) is false.
    pub fn boolean(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(java::trim) {
            None => Ok(default),
            Some("") => Ok(false),
            Some(v) => java::parse_bool(v).ok_or_else(|| self.bad(name, "true or false")),
        }
    }

    /// A `yes`/`no` switch such as `zookeeper.forceSync`. ZooKeeper tests `!= "no"`, so
    /// `forceSync=false` would leave syncing on; we reject such values instead.
    pub fn yes_no(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(java::trim) {
            None => Ok(default),
            Some("yes") => Ok(true),
            Some("no") => Ok(false),
            Some(_) => Err(self.bad(name, "yes or no")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> SystemProperties {
        let mut p = SystemProperties::default();
        for (i, (k, v)) in pairs.iter().enumerate() {
            let origin = Origin::File {
                path: "zoo.cfg".into(),
                line: i + 1,
            };
            let written = k.strip_prefix("zookeeper.").unwrap_or(k);
            p.set(k, v, origin, written);
        }
        p
    }

    #[test]
    fn typed_getters() {
        let p = props(&[
            ("zookeeper.snapCount", "0x10"),
            ("zookeeper.forceSync", "no"),
            ("b", "TRUE"),
            ("e", ""),
        ]);
        assert_eq!(p.int("zookeeper.snapCount", 1).ok(), Some(16));
        assert_eq!(p.int("missing", 7).ok(), Some(7));
        assert_eq!(p.yes_no("zookeeper.forceSync", true).ok(), Some(false));
        assert_eq!(p.boolean("b", false).ok(), Some(true));
        assert_eq!(p.boolean("e", true).ok(), Some(false));
    }

    #[test]
    fn errors_quote_the_written_key_and_line() {
        let p = props(&[
            ("x", "1"),
            ("zookeeper.snapCount", "lots"),
            ("zookeeper.forceSync", "false"),
        ]);
        let e = p.int("zookeeper.snapCount", 1).err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some(r#"zoo.cfg:2: snapCount: "lots" is not a number"#)
        );
        let e = p
            .yes_no("zookeeper.forceSync", true)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some(r#"zoo.cfg:3: forceSync: "false" is not yes or no"#)
        );
    }

    #[test]
    fn later_set_wins() {
        let mut p = props(&[("k", "file")]);
        p.set("k", "cli", Origin::CommandLine, "k");
        assert_eq!(p.get("k"), Some("cli"));
        assert_eq!(
            p.entry("k").map(|e| e.origin.clone()),
            Some(Origin::CommandLine)
        );
    }
}
