//! Four-letter words: on a fresh connection ZooKeeper reads the first four bytes as a
//! frame length; if they spell a known command it answers in plain text and closes.

/// A four-letter command ZooKeeper 3.8 knows, plus ClickHouse Keeper's leadership
/// commands (`rqld`, `ydld`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FourLetterWord {
    Conf,
    Cons,
    Crst,
    Dirs,
    Dump,
    Envi,
    Gtmk,
    Ruok,
    /// Followed by an 8-byte big-endian trace mask.
    Stmk,
    Srst,
    Srvr,
    Stat,
    Wchc,
    Wchp,
    Wchs,
    Mntr,
    Isro,
    Hash,
    /// ClickHouse Keeper's "request leadership": the server asked becomes the leader.
    Rqld,
    /// ClickHouse Keeper's "yield leadership": a leader hands over to the most
    /// caught-up follower.
    Ydld,
    /// Telnet's interrupt sequence (`0xfff4fffd`); ZooKeeper just closes the connection.
    TelnetClose,
}

impl FourLetterWord {
    /// Every command with its spelling (the telnet sequence has none).
    pub const NAMED: &'static [(FourLetterWord, &'static str)] = &[
        (FourLetterWord::Conf, "conf"),
        (FourLetterWord::Cons, "cons"),
        (FourLetterWord::Crst, "crst"),
        (FourLetterWord::Dirs, "dirs"),
        (FourLetterWord::Dump, "dump"),
        (FourLetterWord::Envi, "envi"),
        (FourLetterWord::Gtmk, "gtmk"),
        (FourLetterWord::Ruok, "ruok"),
        (FourLetterWord::Stmk, "stmk"),
        (FourLetterWord::Srst, "srst"),
        (FourLetterWord::Srvr, "srvr"),
        (FourLetterWord::Stat, "stat"),
        (FourLetterWord::Wchc, "wchc"),
        (FourLetterWord::Wchp, "wchp"),
        (FourLetterWord::Wchs, "wchs"),
        (FourLetterWord::Mntr, "mntr"),
        (FourLetterWord::Isro, "isro"),
        (FourLetterWord::Hash, "hash"),
        (FourLetterWord::Rqld, "rqld"),
        (FourLetterWord::Ydld, "ydld"),
    ];

    const TELNET_CLOSE: [u8; 4] = [0xff, 0xf4, 0xff, 0xfd];

    /// Recognises a command from the first four bytes of a fresh connection. Any
    /// ConnectRequest length prefix is far from these values, so there is no ambiguity.
    pub fn detect(first: [u8; 4]) -> Option<Self> {
        if first == Self::TELNET_CLOSE {
            return Some(FourLetterWord::TelnetClose);
        }
        Self::NAMED
            .iter()
            .find(|(_, name)| name.as_bytes() == first)
            .map(|(word, _)| *word)
    }

    /// The command's spelling, as used in `4lw.commands.whitelist`.
    pub fn name(self) -> &'static str {
        Self::NAMED
            .iter()
            .find(|(word, _)| *word == self)
            .map_or("telnet-close", |(_, name)| name)
    }

    /// Looks up a command by its spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMED
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(word, _)| *word)
    }
}
