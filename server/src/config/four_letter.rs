//! The four-letter-word whitelist (`4lw.commands.whitelist`), resolved as ZooKeeper's
//! `FourLetterCommands.isEnabled` does: `*` means every known command, `srvr` is always
//! on (zkServer.sh status needs it) and `isro` is on in read-only mode.
//!
//! ClickHouse Keeper's `rqld` and `ydld` move the leadership, so they are enabled only
//! by name: neither the default (`srvr`) nor `*` (written with ZooKeeper's read-mostly
//! commands in mind) turns on a command that changes the ensemble.

use std::collections::BTreeSet;

/// Every four-letter word ZooKeeper 3.8 knows.
pub const KNOWN_COMMANDS: [&str; 18] = [
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srst", "srvr", "stat",
    "wchc", "wchp", "wchs", "mntr", "isro", "hash",
];

/// Commands that change the ensemble (ClickHouse Keeper's leadership requests): known,
/// but enabled only when listed by name.
pub const BY_NAME_ONLY: [&str; 2] = ["rqld", "ydld"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FourLetterWhitelist {
    enabled: BTreeSet<String>,
}

impl FourLetterWhitelist {
    /// `list` is the property value (`None` when unset). ZooKeeper splits on commas
    /// only; we also split on whitespace, so `ruok stat` means two commands instead of
    /// one unknown one. Returns the list and any names it does not know.
    pub fn parse(list: Option<&str>, read_only_mode: bool) -> (Self, Vec<String>) {
        let mut enabled = BTreeSet::new();
        let mut unknown = Vec::new();
        for word in list
            .unwrap_or_default()
            .split(|c: char| c == ',' || c.is_whitespace())
        {
            if word == "*" {
                enabled.extend(KNOWN_COMMANDS.iter().map(|c| c.to_string()));
            } else if !word.is_empty() {
                if !KNOWN_COMMANDS.contains(&word) && !BY_NAME_ONLY.contains(&word) {
                    unknown.push(word.to_owned());
                }
                enabled.insert(word.to_owned());
            }
        }
        if read_only_mode {
            enabled.insert("isro".to_owned());
        }
        enabled.insert("srvr".to_owned());
        (FourLetterWhitelist { enabled }, unknown)
    }

    /// Whether `cmd` (e.g. `"ruok"`) may run. A known command that is not enabled
    /// answers "<cmd> is not executed because it is not in the whitelist."
    pub fn is_enabled(&self, cmd: &str) -> bool {
        self.enabled.contains(cmd)
    }

    pub fn commands(&self) -> impl Iterator<Item = &str> {
        self.enabled.iter().map(String::as_str)
    }
}

impl Default for FourLetterWhitelist {
    fn default() -> Self {
        FourLetterWhitelist::parse(None, false).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_srvr_only() {
        let w = FourLetterWhitelist::default();
        assert_eq!(w.commands().collect::<Vec<_>>(), vec!["srvr"]);
        assert!(!w.is_enabled("ruok"));
    }

    #[test]
    fn star_lists_and_read_only() {
        let (w, unknown) = FourLetterWhitelist::parse(Some("*"), false);
        assert!(KNOWN_COMMANDS.iter().all(|c| w.is_enabled(c)));
        assert!(unknown.is_empty());
        // `*` turns on no command that moves the leadership.
        assert!(BY_NAME_ONLY.iter().all(|c| !w.is_enabled(c)));
        let (w, _) = FourLetterWhitelist::parse(Some(" ruok, stat  mntr,,"), true);
        assert_eq!(
            w.commands().collect::<Vec<_>>(),
            vec!["isro", "mntr", "ruok", "srvr", "stat"]
        );
        let (w, unknown) = FourLetterWhitelist::parse(Some("*,rqld,ydld"), false);
        assert!(w.is_enabled("rqld") && w.is_enabled("ydld") && w.is_enabled("mntr"));
        assert!(unknown.is_empty());
        let (w, unknown) = FourLetterWhitelist::parse(Some("ruok,nope"), false);
        assert!(w.is_enabled("ruok"));
        assert_eq!(unknown, vec!["nope".to_string()]);
    }
}
