//! Configuration errors. Every message says where the bad setting came from (file and
//! line, flag, `-D` argument or environment variable) and which key it is, so an
//! operator can fix it without reading our source.

use std::fmt;
use std::path::PathBuf;

/// Where a setting came from. Displayed as the prefix of error and warning messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A line of a properties file (zoo.cfg or the dynamic config file); 1-based.
    File { path: PathBuf, line: usize },
    /// The file as a whole, for settings it lacks (e.g. `dataDir` not set).
    FileWide { path: PathBuf },
    /// A `--flag` or positional argument of ferrokeeper itself.
    Flag(String),
    /// A `-Dname=value` command-line argument.
    CommandLine,
    /// A `-Dname=value` inside an environment variable (`SERVER_JVMFLAGS`, `JVMFLAGS`).
    Env(String),
    /// Built-in default; only used when no file was given.
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::FileWide { path } => write!(f, "{}", path.display()),
            Origin::Flag(flag) => write!(f, "argument {flag}"),
            Origin::CommandLine => f.write_str("command line"),
            Origin::Env(var) => write!(f, "environment {var}"),
            Origin::Default => f.write_str("default configuration"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Clap's own outcome: `--help`, `--version` or a usage error. `main` should call
    /// `err.exit()`, which prints to stdout (help/version, exit 0) or stderr (exit 2).
    #[error("{0}")]
    Cli(#[from] clap::Error),

    /// A file (zoo.cfg, dynamic config) could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A bad value or a missing/contradictory setting, e.g.
    /// `zoo.cfg:7: tickTime: "abc" is not a number`.
    #[error("{at}: {key}: {message}")]
    Invalid {
        at: Origin,
        key: String,
        message: String,
    },

    /// The `myid` file is missing, unreadable or not a number.
    #[error("{}: {message}", path.display())]
    Myid { path: PathBuf, message: String },
}

impl ConfigError {
    pub(crate) fn invalid(at: &Origin, key: &str, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            at: at.clone(),
            key: key.to_owned(),
            message: message.into(),
        }
    }

    /// Convenience for the most common case: a value that does not parse.
    pub(crate) fn bad_value(at: &Origin, key: &str, value: &str, what: &str) -> Self {
        Self::invalid(at, key, format!("{value:?} is not {what}"))
    }

    /// True for `--help` / `--version`, which are not failures.
    pub fn is_help_or_version(&self) -> bool {
        matches!(self, ConfigError::Cli(e) if matches!(
            e.kind(),
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_file_line_and_key() {
        let at = Origin::File {
            path: "zoo.cfg".into(),
            line: 7,
        };
        let e = ConfigError::bad_value(&at, "tickTime", "abc", "a number");
        assert_eq!(
            e.to_string(),
            r#"zoo.cfg:7: tickTime: "abc" is not a number"#
        );
        let e = ConfigError::invalid(&Origin::Env("JVMFLAGS".into()), "jute.maxbuffer", "x");
        assert_eq!(e.to_string(), "environment JVMFLAGS: jute.maxbuffer: x");
    }
}
