//! The commands, their zkCli syntax (clap derive) and what they print.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Parser, Subcommand};
use futures::StreamExt;
use tokio::task::JoinHandle;

use ferrokeeper_client::{
    AddWatchMode, Client, ClientBuilder, CreateMode, Error, SessionState, Watch, WatcherType,
    open_acl_unsafe,
};

use crate::format;
use crate::output::{errln, outln};
use crate::{admin, quota};

/// What getConfig returns: the ensemble's dynamic configuration.
const CONFIG_NODE: &str = "/zookeeper/config";

/// ZooKeeper's largest TTL (40 bits of milliseconds).
const MAX_TTL: i64 = 0xFF_FFFF_FFFF;

/// zkCli's usage line of every command this shell has, in `help`'s order.
pub const USAGE: &[(&str, &str)] = &[
    (
        "addWatch",
        "addWatch [-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE",
    ),
    ("addauth", "addauth scheme auth"),
    (
        "admin",
        "admin [--url http://host:8080/commands] command [key=value ...] # an AdminServer command, its JSON printed",
    ),
    ("close", "close "),
    ("config", "config [-c] [-w] [-s]"),
    ("connect", "connect host:port"),
    ("create", "create [-s] [-e] [-c] [-t ttl] path [data] [acl]"),
    ("delete", "delete [-v version] path"),
    ("delquota", "delquota [-n|-b|-N|-B] path"),
    ("deleteall", "deleteall path [-b batch size]"),
    ("get", "get [-s] [-w] path"),
    ("getAcl", "getAcl [-s] path"),
    ("getAllChildrenNumber", "getAllChildrenNumber path"),
    ("getEphemerals", "getEphemerals path"),
    ("help", "help "),
    ("history", "history "),
    ("listquota", "listquota path"),
    ("ls", "ls [-s] [-w] [-R] path"),
    ("printwatches", "printwatches on|off"),
    ("quit", "quit "),
    (
        "reconfig",
        "reconfig [-s] [-v version] [[-file path] | [-members serverID=host:port1:port2;port3[,...]*]] | [-add serverId=host:port1:port2;port3[,...]]* [-remove serverId[,...]*]",
    ),
    ("removewatches", "removewatches path [-c|-d|-a] [-l]"),
    ("set", "set [-s] [-v version] path data"),
    ("setAcl", "setAcl [-s] [-v version] [-R] path acl"),
    ("setquota", "setquota -n|-b|-N|-B val path"),
    ("stat", "stat [-w] path"),
    ("sync", "sync path"),
    ("version", "version "),
    ("whoami", "whoami "),
    (
        "4lw",
        "4lw word # a four-letter word (ruok, srvr, mntr, ...) to the first server's client port",
    ),
];

/// The help text (`help`, and after an unknown command), as zkCli's.
pub fn help() -> String {
    let mut out =
        String::from("ferrokeeper-cli -server host:port[/chroot] -timeout ms [-r] cmd args");
    for (_, usage) in USAGE {
        out.push_str("\n\t");
        out.push_str(usage);
    }
    out
}

/// One command line.
#[derive(Debug, Parser)]
#[command(
    no_binary_name = true,
    disable_help_flag = true,
    disable_help_subcommand = true
)]
pub struct Line {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
#[command(rename_all = "verbatim")]
pub enum Command {
    /// ls [-s] [-w] [-R] path
    #[command(name = "ls")]
    Ls {
        #[arg(short = 's')]
        stat: bool,
        #[arg(short = 'w')]
        watch: bool,
        #[arg(short = 'R')]
        recursive: bool,
        path: String,
    },
    #[command(name = "get")]
    Get {
        #[arg(short = 's')]
        stat: bool,
        #[arg(short = 'w')]
        watch: bool,
        path: String,
    },
    #[command(name = "set")]
    Set {
        #[arg(short = 's')]
        stat: bool,
        #[arg(short = 'v', allow_negative_numbers = true)]
        version: Option<i32>,
        path: String,
        data: String,
    },
    #[command(name = "create")]
    Create {
        #[arg(short = 'e')]
        ephemeral: bool,
        #[arg(short = 's')]
        sequential: bool,
        #[arg(short = 'c')]
        container: bool,
        #[arg(short = 't', allow_negative_numbers = true)]
        ttl: Option<i64>,
        path: String,
        data: Option<String>,
        acl: Option<String>,
    },
    #[command(name = "delete")]
    Delete {
        #[arg(short = 'v', allow_negative_numbers = true)]
        version: Option<i32>,
        path: String,
    },
    #[command(name = "deleteall")]
    Deleteall {
        path: String,
        /// Accepted for zkCli compatibility; nodes are deleted one by one.
        #[arg(short = 'b')]
        batch: Option<usize>,
    },
    #[command(name = "stat")]
    Stat {
        #[arg(short = 'w')]
        watch: bool,
        path: String,
    },
    #[command(name = "getAcl")]
    GetAcl {
        #[arg(short = 's')]
        stat: bool,
        path: String,
    },
    #[command(name = "setAcl")]
    SetAcl {
        #[arg(short = 's')]
        stat: bool,
        #[arg(short = 'v', allow_negative_numbers = true)]
        version: Option<i32>,
        #[arg(short = 'R')]
        recursive: bool,
        path: String,
        acl: String,
    },
    #[command(name = "addauth")]
    Addauth {
        scheme: String,
        auth: Option<String>,
    },
    #[command(name = "sync")]
    Sync { path: String },
    #[command(name = "config")]
    Config {
        /// Only the version and the client addresses.
        #[arg(short = 'c')]
        client: bool,
        #[arg(short = 'w')]
        watch: bool,
        #[arg(short = 's')]
        stat: bool,
    },
    #[command(name = "reconfig")]
    Reconfig {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    #[command(name = "setquota")]
    Setquota {
        #[arg(short = 'n', allow_negative_numbers = true)]
        count: Option<String>,
        #[arg(short = 'b', allow_negative_numbers = true)]
        bytes: Option<String>,
        #[arg(short = 'N', allow_negative_numbers = true)]
        count_hard: Option<String>,
        #[arg(short = 'B', allow_negative_numbers = true)]
        bytes_hard: Option<String>,
        path: String,
    },
    #[command(name = "listquota")]
    Listquota { path: String },
    #[command(name = "delquota")]
    Delquota {
        #[arg(short = 'n')]
        count: bool,
        #[arg(short = 'b')]
        bytes: bool,
        #[arg(short = 'N')]
        count_hard: bool,
        #[arg(short = 'B')]
        bytes_hard: bool,
        path: String,
    },
    #[command(name = "admin")]
    Admin {
        /// The AdminServer's command URL (default http://<first server host>:8080/commands).
        #[arg(long)]
        url: Option<String>,
        command: String,
        /// The command's parameters, key=value.
        params: Vec<String>,
    },
    #[command(name = "4lw")]
    FourLetterWord { word: String },
    #[command(name = "getEphemerals")]
    GetEphemerals { path: Option<String> },
    #[command(name = "getAllChildrenNumber")]
    GetAllChildrenNumber { path: String },
    #[command(name = "whoami")]
    Whoami,
    #[command(name = "addWatch")]
    AddWatch {
        #[arg(short = 'm')]
        mode: Option<String>,
        path: String,
    },
    #[command(name = "removewatches")]
    Removewatches {
        path: String,
        #[arg(short = 'c')]
        children: bool,
        #[arg(short = 'd')]
        data: bool,
        #[arg(short = 'a')]
        any: bool,
        /// Accepted for zkCli compatibility: watches are always removed on the server too.
        #[arg(short = 'l')]
        local: bool,
    },
    #[command(name = "connect")]
    Connect { server: String },
    #[command(name = "printwatches")]
    Printwatches { on_off: String },
    #[command(name = "close")]
    Close,
    #[command(name = "quit")]
    Quit,
    #[command(name = "help")]
    Help,
    #[command(name = "history")]
    History,
    #[command(name = "version")]
    Version,
}

impl Command {
    /// Whether the command talks to ZooKeeper through a session (the others work
    /// without one, so one-shot mode does not connect for them).
    pub fn needs_session(&self) -> bool {
        !matches!(
            self,
            Command::Help
                | Command::Version
                | Command::Admin { .. }
                | Command::FourLetterWord { .. }
        )
    }
}

/// Why a command failed; its `Display` is what zkCli prints (on stderr).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A ZooKeeper error on a path.
    #[error("{}", format::keeper_error(.err, .path))]
    Keeper { err: Error, path: String },
    /// The command's usage line (bad arguments).
    #[error("{0}")]
    Usage(String),
    /// Not a command.
    #[error("Command not found: Command not found {0}")]
    NotFound(String),
    /// Any other message.
    #[error("{0}")]
    Message(String),
}

impl CliError {
    fn on(path: &str) -> impl FnOnce(Error) -> CliError + '_ {
        move |err| CliError::Keeper {
            err,
            path: path.to_owned(),
        }
    }

    /// The process exit code for this error in one-shot mode.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::NotFound(_) => 2,
            _ => 1,
        }
    }
}

/// What to do after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
    /// `history`: the interactive loop prints it.
    History,
}

/// Splits a command line into words: whitespace separates, single or double quotes
/// group (and are removed).
pub fn tokenize(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => word.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            None => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Parses a command's words (zkCli's usage line on bad arguments).
pub fn parse(words: &[String]) -> Result<Command, CliError> {
    let Some(name) = words.first() else {
        return Err(CliError::Message(String::new()));
    };
    match Line::try_parse_from(words) {
        Ok(line) => Ok(line.command),
        Err(_) => match USAGE.iter().find(|(cmd, _)| cmd == name) {
            Some((_, usage)) => Err(CliError::Usage((*usage).to_owned())),
            None => Err(CliError::NotFound(name.clone())),
        },
    }
}

/// zkCli's checks of a path argument.
fn check_path(path: &str, sequential: bool) -> Result<(), CliError> {
    if !path.starts_with('/') {
        return Err(CliError::Message("Path must start with / character".into()));
    }
    if path.len() > 1 && path.ends_with('/') && !sequential {
        return Err(CliError::Message(
            "Path must not end with / character".into(),
        ));
    }
    Ok(())
}

fn join(dir: &str, child: &str) -> String {
    if dir == "/" {
        format!("/{child}")
    } else {
        format!("{dir}/{child}")
    }
}

/// The shell's session and options.
pub struct Shell {
    /// The connect string as given (shown in the prompt).
    pub server: String,
    builder: ClientBuilder,
    /// At the server's root, for `config` (/zookeeper/config is outside any chroot).
    root: Option<Client>,
    /// With the connect string's chroot.
    client: Option<Client>,
    /// Interactive: print watch and session events.
    events: bool,
    print_watches: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
    /// How long connecting keeps trying (zkCli keeps trying for its session timeout):
    /// a server that accepts and closes while it starts is not a failure yet.
    connect_within: std::time::Duration,
    /// The session uses TLS (--secure): the client port speaks TLS, which `4lw` does not.
    pub secure: bool,
}

/// Checks that the hosts of a connect string resolve, within `within`: connecting to a
/// host that has no address can never succeed, so there is nothing to wait for. Warns
/// about the hosts that do not resolve; fails when none does (the Java client refuses
/// such a connect string outright).
async fn resolvable(hosts: &str, within: Duration) -> Result<(), CliError> {
    let mut unresolved = Vec::new();
    let mut any = false;
    for host in hosts.split(',').map(str::trim).filter(|h| !h.is_empty()) {
        let (name, with_port) = match host.rsplit_once(':') {
            Some((name, p)) if p.parse::<u16>().is_ok() => (name, host.to_owned()),
            _ => (host, format!("{host}:2181")),
        };
        let resolved = match tokio::time::timeout(within, tokio::net::lookup_host(&with_port)).await
        {
            Ok(Ok(mut addrs)) => addrs.next().is_some(),
            Ok(Err(_)) => false,
            Err(_) => {
                return Err(CliError::Message(format!(
                    "cannot resolve host \"{name}\": no answer within {} ms",
                    within.as_millis()
                )));
            }
        };
        if resolved {
            any = true;
        } else {
            unresolved.push(format!("\"{name}\""));
        }
    }
    let message = match unresolved.len() {
        0 => return Ok(()),
        1 => format!("cannot resolve host {}", unresolved[0]),
        _ => format!("cannot resolve hosts {}", unresolved.join(", ")),
    };
    if any {
        errln!("{message}; trying the others");
        Ok(())
    } else {
        Err(CliError::Message(message))
    }
}

impl Shell {
    pub fn new(
        server: &str,
        builder: ClientBuilder,
        events: bool,
        connect_within: std::time::Duration,
    ) -> Shell {
        Shell {
            connect_within,
            secure: false,
            server: server.to_owned(),
            builder,
            root: None,
            client: None,
            events,
            print_watches: Arc::new(AtomicBool::new(true)),
            tasks: Vec::new(),
        }
    }

    /// Connects to `server` (`host:port[,...][/chroot]`), closing the current session.
    pub async fn connect(&mut self, server: &str) -> Result<(), CliError> {
        self.close().await;
        let (hosts, chroot) = match server.find('/') {
            Some(i) => (&server[..i], Some(&server[i..])),
            None => (server, None),
        };
        resolvable(hosts, self.answer_within()).await?;
        let deadline = tokio::time::Instant::now() + self.connect_within;
        let mut pause = std::time::Duration::from_millis(20);
        let root = loop {
            match self.builder.connect(hosts).await {
                Ok(root) => break root,
                // No host answered yet: try again until the deadline, as zkCli does.
                Err(ferrokeeper_client::Error::ConnectionLoss)
                    if tokio::time::Instant::now() + pause < deadline =>
                {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_millis(500));
                }
                Err(e) => {
                    return Err(CliError::Message(format!(
                        "Unable to connect to {server}: {}",
                        format::code_message(&e)
                    )));
                }
            }
        };
        let client = match chroot {
            Some(chroot) if chroot != "/" => root.chroot(chroot).map_err(|_| {
                CliError::Message(format!("Invalid chroot in the connect string: {chroot}"))
            })?,
            _ => root.clone(),
        };
        self.server = server.to_owned();
        if self.events {
            outln!(
                "\nWATCHER::\n\n{}",
                format::session_event(SessionState::Connected.keeper_state())
            );
            let mut states = root.state_stream();
            let print = self.print_watches.clone();
            self.tasks.push(tokio::spawn(async move {
                // The first item is the state now (connected), printed above.
                let _ = states.next().await;
                while let Some(state) = states.next().await {
                    if print.load(Ordering::Relaxed) {
                        outln!(
                            "\nWATCHER::\n\n{}",
                            format::session_event(state.keeper_state())
                        );
                    }
                }
            }));
        }
        self.root = Some(root);
        self.client = Some(client);
        Ok(())
    }

    /// Closes the session, if any (its events are printed first).
    pub async fn close(&mut self) {
        if let Some(client) = self.root.take() {
            let _ = client.close().await;
        }
        self.client = None;
        for task in self.tasks.drain(..) {
            // The session task ends with the Closed state; let it print it.
            let _ = tokio::time::timeout(Duration::from_millis(200), task).await;
        }
    }

    /// zkCli's prompt state name.
    pub fn state_name(&self) -> &'static str {
        match self.client.as_ref().map(Client::state) {
            Some(SessionState::Connected) => "CONNECTED",
            Some(SessionState::ReadOnly) => "CONNECTEDREADONLY",
            Some(SessionState::Disconnected) => "CONNECTING",
            Some(SessionState::AuthFailed) => "AUTH_FAILED",
            _ => "CLOSED",
        }
    }

    /// How long a single exchange (a DNS look-up, an admin request) may take: the
    /// connection timeout, the smaller of the session timeout and 10 s.
    fn answer_within(&self) -> Duration {
        self.connect_within.min(Duration::from_secs(10))
    }

    /// The session at the server's root (for what lives outside any chroot).
    fn root(&self) -> Result<&Client, CliError> {
        self.root
            .as_ref()
            .ok_or_else(|| CliError::Message("Not connected".into()))
    }

    /// `path` of the shell's chroot as a path from the server's root: quotas are
    /// kept by server path, so a quota set through a chroot must name the real node.
    fn absolute(&self, path: &str) -> String {
        match self.client.as_ref().and_then(Client::chroot_path) {
            Some(chroot) if chroot != "/" && path == "/" => chroot.to_owned(),
            Some(chroot) if chroot != "/" => format!("{chroot}{path}"),
            _ => path.to_owned(),
        }
    }

    fn client(&self) -> Result<&Client, CliError> {
        self.client
            .as_ref()
            .ok_or_else(|| CliError::Message("Not connected".into()))
    }

    fn spawn_watch(&self, watch: Watch) {
        if !self.events {
            return;
        }
        let print = self.print_watches.clone();
        tokio::spawn(async move {
            if let Ok(event) = watch.await
                && print.load(Ordering::Relaxed)
            {
                outln!("\nWATCHER::\n\n{}", format::event(&event));
            }
        });
    }

    /// Runs one command; prints its result on stdout.
    pub async fn run(&mut self, command: Command) -> Result<Flow, CliError> {
        match command {
            Command::Ls {
                stat,
                watch,
                recursive,
                path,
            } => self.ls(&path, stat, watch, recursive).await?,
            Command::Get { stat, watch, path } => {
                check_path(&path, false)?;
                let client = self.client()?;
                let (data, st) = if watch {
                    let (data, st, w) = client
                        .get_data_w(&path)
                        .await
                        .map_err(CliError::on(&path))?;
                    self.spawn_watch(w);
                    (data, st)
                } else {
                    client.get_data(&path).await.map_err(CliError::on(&path))?
                };
                // The client cannot tell null data from empty data: zkCli prints
                // "null" for nodes created without data.
                if data.is_empty() {
                    outln!("null");
                } else {
                    outln!("{}", String::from_utf8_lossy(&data));
                }
                if stat {
                    outln!("{}", format::stat(&st));
                }
            }
            Command::Set {
                stat,
                version,
                path,
                data,
            } => {
                check_path(&path, false)?;
                let st = self
                    .client()?
                    .set_data(&path, data.as_bytes(), version)
                    .await
                    .map_err(CliError::on(&path))?;
                if stat {
                    outln!("{}", format::stat(&st));
                }
            }
            Command::Create {
                ephemeral,
                sequential,
                container,
                ttl,
                path,
                data,
                acl,
            } => {
                self.create(ephemeral, sequential, container, ttl, &path, data, acl)
                    .await?
            }
            Command::Delete { version, path } => {
                check_path(&path, false)?;
                self.client()?
                    .delete(&path, version)
                    .await
                    .map_err(CliError::on(&path))?;
            }
            Command::Deleteall { path, batch: _ } => {
                check_path(&path, false)?;
                let client = self.client()?;
                let nodes = subtree(client, &path).await?;
                for node in nodes.iter().rev() {
                    match client.delete(node, None).await {
                        Ok(()) | Err(Error::NoNode) => {}
                        Err(e) => return Err(CliError::on(node)(e)),
                    }
                }
            }
            Command::Stat { watch, path } => {
                check_path(&path, false)?;
                let client = self.client()?;
                let st = if watch {
                    let (st, w) = client.exists_w(&path).await.map_err(CliError::on(&path))?;
                    self.spawn_watch(w);
                    st
                } else {
                    client.exists(&path).await.map_err(CliError::on(&path))?
                };
                let st = st.ok_or_else(|| CliError::on(&path)(Error::NoNode))?;
                outln!("{}", format::stat(&st));
            }
            Command::GetAcl { stat, path } => {
                check_path(&path, false)?;
                let (acl, st) = self
                    .client()?
                    .get_acl(&path)
                    .await
                    .map_err(CliError::on(&path))?;
                outln!("{}", format::acl(&acl));
                if stat {
                    outln!("{}", format::stat(&st));
                }
            }
            Command::SetAcl {
                stat,
                version,
                recursive,
                path,
                acl,
            } => {
                check_path(&path, false)?;
                let acl = format::parse_acl(&acl).map_err(CliError::Message)?;
                let client = self.client()?;
                let nodes = if recursive {
                    subtree(client, &path).await?
                } else {
                    vec![path.clone()]
                };
                let mut last = None;
                for node in &nodes {
                    let st = client
                        .set_acl(node, &acl, if recursive { None } else { version })
                        .await
                        .map_err(CliError::on(node))?;
                    if node == &path {
                        last = Some(st);
                    }
                }
                if stat && let Some(st) = last {
                    outln!("{}", format::stat(&st));
                }
            }
            Command::Addauth { scheme, auth } => {
                self.client()?
                    .add_auth(&scheme, auth.unwrap_or_default().as_bytes())
                    .await
                    .map_err(CliError::on(""))?;
            }
            Command::Sync { path } => {
                check_path(&path, false)?;
                match self.client()?.sync(&path).await {
                    Ok(()) => outln!("Sync is OK"),
                    Err(e) => {
                        return Err(CliError::Message(format!(
                            "Sync has failed. rc={}",
                            e.code()
                        )));
                    }
                }
            }
            Command::Config {
                client: client_only,
                watch,
                stat,
            } => {
                // The client crate has no getConfig (opcode 104): a read of the node it
                // returns, at the server's root as getConfig ignores the chroot.
                let root = self.root()?;
                let (data, st) = if watch {
                    let (data, st, w) = root
                        .get_data_w(CONFIG_NODE)
                        .await
                        .map_err(CliError::on(CONFIG_NODE))?;
                    self.spawn_watch(w);
                    (data, st)
                } else {
                    root.get_data(CONFIG_NODE)
                        .await
                        .map_err(CliError::on(CONFIG_NODE))?
                };
                let text = String::from_utf8_lossy(&data);
                if client_only {
                    outln!("{}", format::client_config(&text));
                } else {
                    outln!("{text}");
                }
                if stat {
                    outln!("{}", format::stat(&st));
                }
            }
            Command::Reconfig { args } => {
                let parsed =
                    crate::reconfig::parse(&args, &usage("reconfig")).map_err(CliError::Usage)?;
                let (data, st) = self
                    .root()?
                    .reconfig(
                        parsed.joining.as_deref(),
                        parsed.leaving.as_deref(),
                        parsed.members.as_deref(),
                        parsed.version,
                    )
                    .await
                    // ZooKeeper's client reports a reconfig error with an empty path.
                    .map_err(CliError::on(""))?;
                outln!(
                    "Committed new configuration:\n{}",
                    String::from_utf8_lossy(&data)
                );
                if parsed.stat {
                    outln!("{}", format::stat(&st));
                }
            }
            Command::Setquota {
                count,
                bytes,
                count_hard,
                bytes_hard,
                path,
            } => {
                let chosen: Vec<(quota::Limit, String)> = [
                    (quota::Limit::Count, count),
                    (quota::Limit::Bytes, bytes),
                    (quota::Limit::CountHard, count_hard),
                    (quota::Limit::BytesHard, bytes_hard),
                ]
                .into_iter()
                .filter_map(|(limit, value)| value.map(|v| (limit, v)))
                .collect();
                let [(limit, value)] = chosen.as_slice() else {
                    return Err(CliError::Usage(usage("setquota")));
                };
                check_path(&path, false)?;
                let absolute = self.absolute(&path);
                quota::set(self.root()?, &absolute, *limit, value).await?;
            }
            Command::Listquota { path } => {
                check_path(&path, false)?;
                let absolute = self.absolute(&path);
                quota::list(self.root()?, &absolute).await?;
            }
            Command::Delquota {
                count,
                bytes,
                count_hard,
                bytes_hard,
                path,
            } => {
                let chosen: Vec<quota::Limit> = [
                    (quota::Limit::Count, count),
                    (quota::Limit::Bytes, bytes),
                    (quota::Limit::CountHard, count_hard),
                    (quota::Limit::BytesHard, bytes_hard),
                ]
                .into_iter()
                .filter_map(|(limit, set)| set.then_some(limit))
                .collect();
                if chosen.len() > 1 {
                    return Err(CliError::Usage(usage("delquota")));
                }
                check_path(&path, false)?;
                let absolute = self.absolute(&path);
                quota::delete(self.root()?, &absolute, chosen.first().copied()).await?;
            }
            Command::Admin {
                url,
                command,
                params,
            } => {
                let base = match url {
                    Some(url) => url,
                    None => admin::default_url(&self.server)?,
                };
                let url = admin::command_url(&base, &command, &params)?;
                outln!("{}", admin::admin(url, self.answer_within()).await?);
            }
            Command::FourLetterWord { word } => {
                if self.secure {
                    return Err(CliError::Message(
                        "4lw over TLS is not supported by this CLI yet (it speaks plain TCP)"
                            .into(),
                    ));
                }
                let answer = admin::four_letter(&self.server, &word, self.answer_within()).await?;
                outln!("{}", answer.strip_suffix('\n').unwrap_or(&answer));
            }
            Command::GetEphemerals { path } => {
                let path = path.unwrap_or_else(|| "/".to_owned());
                check_path(&path, true)?;
                let nodes = self
                    .client()?
                    .get_ephemerals(&path)
                    .await
                    .map_err(CliError::on(&path))?;
                outln!("[{}]", nodes.join(", "));
            }
            Command::GetAllChildrenNumber { path } => {
                check_path(&path, false)?;
                let n = self
                    .client()?
                    .get_all_children_number(&path)
                    .await
                    .map_err(CliError::on(&path))?;
                outln!("{n}");
            }
            Command::Whoami => {
                let ids = self.client()?.whoami().await.map_err(CliError::on(""))?;
                outln!("Auth scheme: User");
                for id in ids {
                    outln!("{}: {}", id.auth_scheme, id.user);
                }
            }
            Command::AddWatch { mode, path } => {
                check_path(&path, false)?;
                let mode = match mode.as_deref() {
                    None | Some("PERSISTENT_RECURSIVE") => AddWatchMode::PersistentRecursive,
                    Some("PERSISTENT") => AddWatchMode::Persistent,
                    Some(_) => {
                        return Err(CliError::Usage(usage("addWatch")));
                    }
                };
                let mut events = self
                    .client()?
                    .add_watch(&path, mode)
                    .await
                    .map_err(CliError::on(&path))?;
                if self.events {
                    let print = self.print_watches.clone();
                    tokio::spawn(async move {
                        while let Some(event) = events.next().await {
                            // Session changes are printed once, by the session's printer.
                            if !event.is_session_event() && print.load(Ordering::Relaxed) {
                                outln!("\nWATCHER::\n\n{}", format::event(&event));
                            }
                        }
                    });
                }
            }
            Command::Removewatches {
                path,
                children,
                data,
                any: _,
                local: _,
            } => {
                check_path(&path, false)?;
                let kind = match (children, data) {
                    (true, false) => WatcherType::Children,
                    (false, true) => WatcherType::Data,
                    _ => WatcherType::Any,
                };
                self.client()?
                    .remove_watches(&path, kind)
                    .await
                    .map_err(CliError::on(&path))?;
            }
            Command::Connect { server } => self.connect(&server).await?,
            Command::Printwatches { on_off } => match on_off.as_str() {
                "on" => self.print_watches.store(true, Ordering::Relaxed),
                "off" => self.print_watches.store(false, Ordering::Relaxed),
                _ => return Err(CliError::Usage(usage("printwatches"))),
            },
            Command::Close => self.close().await,
            Command::Quit => {
                self.close().await;
                return Ok(Flow::Quit);
            }
            Command::Help => outln!("{}", help()),
            Command::History => return Ok(Flow::History),
            Command::Version => outln!(
                "ferrokeeper-cli version {} (speaks ZooKeeper 3.8)",
                env!("CARGO_PKG_VERSION")
            ),
        }
        Ok(Flow::Continue)
    }

    async fn ls(
        &self,
        path: &str,
        stat: bool,
        watch: bool,
        recursive: bool,
    ) -> Result<(), CliError> {
        check_path(path, false)?;
        let client = self.client()?;
        if recursive {
            for node in subtree(client, path).await? {
                outln!("{node}");
            }
            return Ok(());
        }
        let (mut children, st) = if watch {
            let (children, st, w) = client
                .get_children2_w(path)
                .await
                .map_err(CliError::on(path))?;
            self.spawn_watch(w);
            (children, st)
        } else {
            client
                .get_children2(path)
                .await
                .map_err(CliError::on(path))?
        };
        children.sort();
        outln!("[{}]", children.join(", "));
        if stat {
            outln!("{}", format::stat(&st));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn create(
        &self,
        ephemeral: bool,
        sequential: bool,
        container: bool,
        ttl: Option<i64>,
        path: &str,
        data: Option<String>,
        acl: Option<String>,
    ) -> Result<(), CliError> {
        if container && (ephemeral || sequential) {
            return Err(CliError::Message(
                "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential."
                    .into(),
            ));
        }
        if ttl.is_some() && ephemeral {
            return Err(CliError::Message(
                "TTLs cannot be used with Ephemeral znodes".into(),
            ));
        }
        if ttl.is_some() && container {
            return Err(CliError::Message(
                "TTLs cannot be used with Container znodes".into(),
            ));
        }
        check_path(path, sequential)?;
        let acl = match acl {
            Some(text) => format::parse_acl(&text).map_err(CliError::Message)?,
            None => open_acl_unsafe(),
        };
        let data = data.unwrap_or_default();
        let client = self.client()?;
        let created = match ttl {
            Some(ttl) => {
                if ttl <= 0 || ttl > MAX_TTL {
                    return Err(CliError::Message(format!(
                        "ttl must be positive and cannot be larger than: {MAX_TTL}"
                    )));
                }
                let mode = if sequential {
                    CreateMode::PersistentSequentialWithTtl
                } else {
                    CreateMode::PersistentWithTtl
                };
                let ttl = Duration::from_millis(u64::try_from(ttl).unwrap_or_default());
                client
                    .create_ttl(path, data.as_bytes(), &acl, mode, ttl)
                    .await
            }
            None => {
                let mode = match (ephemeral, sequential, container) {
                    (_, _, true) => CreateMode::Container,
                    (true, true, _) => CreateMode::EphemeralSequential,
                    (true, false, _) => CreateMode::Ephemeral,
                    (false, true, _) => CreateMode::PersistentSequential,
                    (false, false, _) => CreateMode::Persistent,
                };
                client.create(path, data.as_bytes(), &acl, mode).await
            }
        };
        match created {
            Ok((created, _)) => {
                outln!("Created {created}");
                Ok(())
            }
            // zkCli prints the exception, then its own text.
            Err(Error::InvalidAcl) => Err(CliError::Message(format!(
                "KeeperErrorCode = InvalidACL for {path}\nAcl is not valid : {path}"
            ))),
            Err(e) => Err(CliError::on(path)(e)),
        }
    }
}

fn usage(name: &str) -> String {
    USAGE
        .iter()
        .find(|(cmd, _)| *cmd == name)
        .map(|(_, usage)| (*usage).to_owned())
        .unwrap_or_default()
}

/// `path` and every node below it, breadth first, children sorted (zkCli's
/// `ZKUtil.listSubTreeBFS`).
async fn subtree(client: &Client, path: &str) -> Result<Vec<String>, CliError> {
    let mut out = Vec::new();
    let mut queue = VecDeque::from([path.to_owned()]);
    while let Some(node) = queue.pop_front() {
        let mut children = match client.get_children(&node).await {
            Ok(children) => children,
            // Gone meanwhile (not the starting node).
            Err(Error::NoNode) if node != path => continue,
            Err(e) => return Err(CliError::on(&node)(e)),
        };
        children.sort();
        queue.extend(children.iter().map(|c| join(&node, c)));
        out.push(node);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(
            tokenize("  set /a \"hello world\" "),
            ["set", "/a", "hello world"]
        );
        assert_eq!(tokenize("create /x ''"), ["create", "/x", ""]);
        assert!(tokenize("   ").is_empty());
    }

    #[test]
    fn commands_parse_with_zkcli_syntax() {
        let words = |s: &str| tokenize(s);
        assert!(matches!(
            parse(&words("ls -s -R /a")),
            Ok(Command::Ls {
                stat: true,
                recursive: true,
                watch: false,
                ..
            })
        ));
        assert!(matches!(
            parse(&words("create -e -s /a/b- data world:anyone:r")),
            Ok(Command::Create {
                ephemeral: true,
                sequential: true,
                acl: Some(_),
                ..
            })
        ));
        assert!(matches!(
            parse(&words("set -v -1 /a x")),
            Ok(Command::Set {
                version: Some(-1),
                ..
            })
        ));
        assert!(matches!(
            parse(&words("getAcl -s /")),
            Ok(Command::GetAcl { stat: true, .. })
        ));
        assert!(matches!(
            parse(&words("get")),
            Err(CliError::Usage(u)) if u == "get [-s] [-w] path"
        ));
        assert!(matches!(parse(&words("foo")), Err(CliError::NotFound(_))));
    }
}
