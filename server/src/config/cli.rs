//! Command-line flags. They override zoo.cfg, so a packaged config can be reused with a
//! different port or data directory. `-Dname=value` and JVM options are removed before
//! clap runs (see `jvm_args`), which is why they are described in the help text only.

use std::path::PathBuf;

use clap::Parser;

const AFTER_HELP: &str = "\
ZooKeeper compatibility:
  ferrokeeper zoo.cfg                      same as --config zoo.cfg (as zkServer.sh starts ZooKeeper)
  ferrokeeper PORT DATADIR [TICK [MAXCNXNS]]  ZooKeeperServerMain's positional form
  -Dname=value                             a ZooKeeper system property, e.g.
                                           -Dzookeeper.DigestAuthenticationProvider.superDigest=super:...
                                           -Dzookeeper.extendedTypesEnabled=true -Dreadonlymode.enabled=true
                                           -Djute.maxbuffer=4194304 -Dznode.container.checkIntervalMs=1000
                                           -Dzookeeper.4lw.commands.whitelist=ruok,stat
  SERVER_JVMFLAGS, JVMFLAGS                environment variables scanned for -D options
  -Xmx512m, -XX:..., -server, -cp PATH     JVM-only options, accepted and ignored
Unknown zoo.cfg keys are accepted with a warning and become zookeeper.<key> properties.
Precedence, as in ZooKeeper: flags > zoo.cfg > -D options (command line > JVMFLAGS > SERVER_JVMFLAGS) > defaults.";

#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "ferrokeeper",
    version,
    about = "A ZooKeeper-compatible coordination server",
    long_about = "A ZooKeeper-compatible coordination server.\n\n\
                  With no arguments it runs a standalone server on port 2181 with its data in \
                  ./ferrokeeper-data. With a ZooKeeper config file (zoo.cfg) it reads that file and \
                  dataDir/myid as ZooKeeper 3.8 does.",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// ZooKeeper configuration file (zoo.cfg, Java properties syntax)
    #[arg(short = 'c', long, value_name = "FILE", conflicts_with = "positional")]
    pub config: Option<PathBuf>,

    /// Config file, or PORT DATADIR [TICKTIME [MAXCLIENTCNXNS]] as ZooKeeperServerMain takes them
    #[arg(value_name = "ZOO_CFG")]
    pub positional: Vec<String>,

    /// Port for client connections [zoo.cfg: clientPort; default 2181 without a config file]
    #[arg(long, value_name = "PORT")]
    pub client_port: Option<u16>,

    /// Address to listen on for clients [zoo.cfg: clientPortAddress; default all interfaces]
    #[arg(long, value_name = "HOST")]
    pub client_port_address: Option<String>,

    /// Port for TLS client connections; 0 asks for any free port [zoo.cfg: secureClientPort]
    #[arg(long, value_name = "PORT")]
    pub secure_client_port: Option<u16>,

    /// Directory for snapshots and myid [zoo.cfg: dataDir; default ./ferrokeeper-data without a config file]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Directory for the transaction log [zoo.cfg: dataLogDir; default: the data directory]
    #[arg(long, value_name = "DIR")]
    pub data_log_dir: Option<PathBuf>,

    /// Basic time unit in milliseconds [zoo.cfg: tickTime; default 3000]
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u32).range(1..=i32::MAX as i64))]
    pub tick_time: Option<u32>,

    /// Maximum concurrent connections per client IP, 0 = unlimited [zoo.cfg: maxClientCnxns; default 60]
    #[arg(long, value_name = "N")]
    pub max_client_cnxns: Option<u32>,

    /// Smallest session timeout granted, in ms [zoo.cfg: minSessionTimeout; default 2 x tickTime]
    #[arg(long, value_name = "MS")]
    pub min_session_timeout: Option<u32>,

    /// Largest session timeout granted, in ms [zoo.cfg: maxSessionTimeout; default 20 x tickTime]
    #[arg(long, value_name = "MS")]
    pub max_session_timeout: Option<u32>,

    /// Enabled four-letter words, comma or space separated, * = all; srvr is always on
    /// [zoo.cfg: 4lw.commands.whitelist; default srvr]
    #[arg(long = "4lw-whitelist", value_name = "LIST")]
    pub four_letter_whitelist: Option<String>,

    /// AdminServer HTTP port [zoo.cfg: admin.serverPort; default 8080]
    #[arg(long, value_name = "PORT")]
    pub admin_port: Option<u16>,

    /// This server's id in the ensemble, instead of reading dataDir/myid
    #[arg(long, value_name = "ID")]
    pub myid: Option<u64>,

    /// Log level or tracing filter (error, warn, info, debug, trace; e.g. "info,ferrokeeper=debug")
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,

    /// Log line format [env: FERROKEEPER_LOG_FORMAT; default: text]
    #[arg(long, value_name = "FORMAT", value_enum)]
    pub log_format: Option<super::logging::LogFormat>,
}

impl Cli {
    /// Parses arguments that do NOT include the program name.
    pub fn parse_args(args: Vec<String>) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("ferrokeeper".to_owned()).chain(args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::parse_args(args.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_mentions_every_flag() {
        let help = Cli::command().render_long_help().to_string();
        for flag in [
            "--config",
            "--client-port",
            "--client-port-address",
            "--data-dir",
            "--data-log-dir",
            "--tick-time",
            "--max-client-cnxns",
            "--min-session-timeout",
            "--max-session-timeout",
            "--4lw-whitelist",
            "--admin-port",
            "--myid",
            "--log-level",
            "-Dname=value",
            "JVMFLAGS",
        ] {
            assert!(help.contains(flag), "help lacks {flag}");
        }
    }

    #[test]
    fn flags_parse() {
        let cli = parse(&[
            "--client-port",
            "2182",
            "--4lw-whitelist",
            "*",
            "--tick-time",
            "100",
        ])
        .ok();
        let cli = cli.unwrap_or_default();
        assert_eq!(cli.client_port, Some(2182));
        assert_eq!(cli.four_letter_whitelist.as_deref(), Some("*"));
        assert_eq!(cli.tick_time, Some(100));
        assert!(parse(&["--tick-time", "0"]).is_err());
        assert!(parse(&["--client-port", "70000"]).is_err());
        assert!(parse(&["--config", "a.cfg", "b.cfg"]).is_err());
        assert_eq!(
            parse(&["zoo.cfg"]).map(|c| c.positional).ok(),
            Some(vec!["zoo.cfg".to_string()])
        );
    }
}
