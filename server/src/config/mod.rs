//! Server configuration: zoo.cfg (Java properties syntax), `dataDir/myid`, ZooKeeper
//! system properties (`-D` options and `SERVER_JVMFLAGS`/`JVMFLAGS`) and command-line
//! flags, resolved into one [`Config`] the way ZooKeeper 3.8 resolves them.
//!
//! Entry point: [`Config::from_args`]. Output for the `conf` four-letter word:
//! [`Config::conf_4lw`].

mod cli;
mod conf_4lw;
mod derived;
mod dynamic_file;
mod error;
mod four_letter;
mod host_port;
mod java;
mod jvm_args;
mod load;
mod logging;
mod metrics;
mod model;
mod myid;
pub mod properties;
mod quorum;
mod sasl;
mod security;
mod server_line;
mod sysprops;
mod tls;
mod zoo_cfg;

pub use cli::Cli;
pub use conf_4lw::ConfRuntime;
pub use dynamic_file::write_after_reconfig;
pub use error::{ConfigError, Origin};
pub use four_letter::{FourLetterWhitelist, KNOWN_COMMANDS};
pub use host_port::HostPort;
pub use logging::LogFormat;
pub use metrics::{MetricsEndpoint, PROMETHEUS_PROVIDER};
pub use model::{
    AdminServer, Autopurge, Config, Containers, DEFAULT_CLIENT_PORT, DEFAULT_DATA_DIR,
    DEFAULT_JUTE_MAX_BUFFER, DEFAULT_TICK_TIME, Diagnostic, MetricsProvider,
};
pub use sasl::{ClientSasl, EnforceAuth, QuorumSasl};
pub use server_line::{PeerType, QuorumAddress, QuorumServer};
pub use sysprops::{SysProp, SystemProperties};
pub use tls::{ClientAuth, ClientTls, QuorumTls, StoreSettings, TlsVersion};

#[cfg(test)]
pub(crate) mod tests;
