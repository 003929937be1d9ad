//! `Config::from_args`: merges defaults, zoo.cfg, `-D` options and flags, then applies
//! ZooKeeper's cross-key rules. Precedence, lowest first: defaults, `-D` in
//! `SERVER_JVMFLAGS`, `JVMFLAGS`, `-D` on the command line, zoo.cfg, flags. zoo.cfg beats
//! `-D` because ZooKeeper sets the file's keys as system properties while parsing it.

use std::path::{Path, PathBuf};

use super::cli::Cli;
use super::derived::derive;
use super::dynamic_file;
use super::error::{ConfigError, Origin};
use super::host_port::HostPort;
use super::jvm_args;
use super::logging;
use super::model::{
    Autopurge, Config, DEFAULT_CLIENT_PORT, DEFAULT_DATA_DIR, DEFAULT_TICK_TIME, Diagnostic,
    MetricsProvider,
};
use super::myid;
use super::properties;
use super::quorum;
use super::server_line::PeerType;
use super::sysprops::SystemProperties;
use super::zoo_cfg::{self, Draft, Val};

// ZooKeeper's default metrics provider class, reported as is.
use super::metrics::DEFAULT_PROVIDER as DEFAULT_METRICS_PROVIDER;

/// Largest id usable with TTL nodes (`EphemeralType.MAX_EXTENDED_SERVER_ID`).
const MAX_EXTENDED_SERVER_ID: u64 = 0xfe;

impl Config {
    /// Builds the configuration from command-line arguments and an environment lookup.
    ///
    /// `args` must NOT include the program name: pass `std::env::args().skip(1)`.
    /// `env` looks up environment variables (`|k| std::env::var(k).ok()` in `main`);
    /// only `SERVER_JVMFLAGS`, `JVMFLAGS`, `ZOO_LOG4J_PROP` and `FERROKEEPER_LOG_FORMAT`
    /// are read.
    ///
    /// `--help`, `--version` and usage errors come back as `ConfigError::Cli`; `main`
    /// should call `.exit()` on the inner clap error to print it with clap's exit code.
    pub fn from_args(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let filtered = jvm_args::prefilter(args, &env);
        let cli = Cli::parse_args(filtered.args)?;
        let mut diagnostics: Vec<Diagnostic> = filtered
            .ignored
            .into_iter()
            .map(|message| Diagnostic {
                level: tracing::Level::DEBUG,
                message,
            })
            .collect();
        let mut draft = Draft::default();
        let mut props = SystemProperties::default();

        // As in ZooKeeper, the JVM's -D properties exist first and zoo.cfg's keys are
        // applied over them (QuorumPeerConfig calls System.setProperty while parsing),
        // so a key written in the file wins over the same -D property.
        // zkServer.sh passes ZOO_LOG4J_PROP as -Dzookeeper.root.logger; a -D wins.
        if let Some(value) = env(logging::ROOT_LOGGER_ENV) {
            let origin = Origin::Env(logging::ROOT_LOGGER_ENV.to_owned());
            props.set(logging::ROOT_LOGGER, &value, origin, logging::ROOT_LOGGER);
        }
        for p in filtered.props {
            props.set(&p.name, &p.value, p.origin, &p.name);
        }
        let config_file = positional(&cli, &mut draft)?;
        if let Some(file) = &config_file {
            read_config_file(file, &mut draft, &mut props)?;
        }
        apply_flags(&cli, &mut draft, &mut props);
        diagnostics.extend(
            std::mem::take(&mut draft.diagnostics)
                .into_iter()
                .map(|(level, message)| Diagnostic { level, message }),
        );
        let root_level = logging::root_logger(&props, &mut diagnostics)?;
        let log_format = logging::format(cli.log_format, env(logging::FORMAT_ENV))?;
        let mut config = finish(config_file, draft, props, &cli, diagnostics)?;
        if config.log_level.is_none() {
            config.log_level = root_level.map(str::to_owned);
        }
        config.log_format = log_format;
        Ok(config)
    }
}

/// `ferrokeeper zoo.cfg` (QuorumPeerMain) or `ferrokeeper PORT DATADIR [TICK [MAX]]`
/// (ZooKeeperServerMain). Returns the config file to read, if any.
fn positional(cli: &Cli, draft: &mut Draft) -> Result<Option<PathBuf>, ConfigError> {
    let args = &cli.positional;
    match args.len() {
        0 => return Ok(cli.config.clone()),
        1 => return Ok(Some(PathBuf::from(&args[0]))),
        2..=4 => {}
        n => {
            let at = Origin::Flag("positional arguments".into());
            return Err(ConfigError::invalid(
                &at,
                "arguments",
                format!(
                    "expected ZOO_CFG or PORT DATADIR [TICKTIME [MAXCLIENTCNXNS]], got {n} arguments"
                ),
            ));
        }
    }
    let flag = |name: &str| Origin::Flag(name.to_owned());
    let port_at = flag("PORT");
    let port = args[0]
        .parse::<u16>()
        .map_err(|_| ConfigError::bad_value(&port_at, "clientPort", &args[0], "a port"))?;
    draft.client_port = Some((port, port_at));
    draft.data_dir = Some((PathBuf::from(&args[1]), flag("DATADIR")));
    if let Some(t) = args.get(2) {
        let at = flag("TICKTIME");
        let tick = t
            .parse::<u32>()
            .ok()
            .filter(|t| (1..=i32::MAX as u32).contains(t))
            .ok_or_else(|| ConfigError::bad_value(&at, "tickTime", t, "a positive number"))?;
        draft.tick_time = Some((tick, at));
    }
    if let Some(m) = args.get(3) {
        let at = flag("MAXCLIENTCNXNS");
        let max = m
            .parse::<u32>()
            .map_err(|_| ConfigError::bad_value(&at, "maxClientCnxns", m, "a number"))?;
        draft.max_client_cnxns = Some((max, at));
    }
    Ok(None)
}

fn read_config_file(
    file: &Path,
    draft: &mut Draft,
    props: &mut SystemProperties,
) -> Result<(), ConfigError> {
    let bytes = std::fs::read(file).map_err(|source| ConfigError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    let entries = properties::parse(&properties::decode_bytes(&bytes)).map_err(|e| {
        let at = Origin::File {
            path: file.to_path_buf(),
            line: e.line,
        };
        ConfigError::invalid(&at, &e.key, "malformed \\uxxxx escape")
    })?;
    zoo_cfg::apply_file(draft, props, file, entries)
}

fn apply_flags(cli: &Cli, d: &mut Draft, props: &mut SystemProperties) {
    fn set<T: Clone>(slot: &mut Val<T>, v: &Option<T>, flag: &str) {
        if let Some(v) = v {
            *slot = Some((v.clone(), Origin::Flag(flag.to_owned())));
        }
    }
    set(&mut d.client_port, &cli.client_port, "--client-port");
    set(
        &mut d.client_port_address,
        &cli.client_port_address,
        "--client-port-address",
    );
    set(
        &mut d.secure_client_port,
        &cli.secure_client_port,
        "--secure-client-port",
    );
    set(&mut d.data_dir, &cli.data_dir, "--data-dir");
    set(&mut d.data_log_dir, &cli.data_log_dir, "--data-log-dir");
    set(&mut d.tick_time, &cli.tick_time, "--tick-time");
    set(
        &mut d.max_client_cnxns,
        &cli.max_client_cnxns,
        "--max-client-cnxns",
    );
    set(
        &mut d.min_session_timeout,
        &cli.min_session_timeout.map(Some),
        "--min-session-timeout",
    );
    set(
        &mut d.max_session_timeout,
        &cli.max_session_timeout.map(Some),
        "--max-session-timeout",
    );
    // These two are system properties in ZooKeeper, so the flag sets the property.
    if let Some(list) = &cli.four_letter_whitelist {
        let at = Origin::Flag("--4lw-whitelist".into());
        props.set(
            "zookeeper.4lw.commands.whitelist",
            list,
            at,
            "4lw.commands.whitelist",
        );
    }
    if let Some(port) = cli.admin_port {
        let at = Origin::Flag("--admin-port".into());
        props.set(
            "zookeeper.admin.serverPort",
            &port.to_string(),
            at,
            "admin.serverPort",
        );
    }
}

fn value<T>(v: Val<T>) -> Option<T> {
    v.map(|(v, _)| v)
}

fn origin<T>(v: &Val<T>) -> Option<Origin> {
    v.as_ref().map(|(_, o)| o.clone())
}

/// Where to blame a setting the file lacks.
fn file_origin(config_file: &Option<PathBuf>) -> Origin {
    match config_file {
        Some(path) => Origin::FileWide { path: path.clone() },
        None => Origin::Default,
    }
}

/// Session timeout bounds: -1/unset → 2x / 20x tickTime; min > max is an error.
fn session_timeouts(d: &Draft, tick: u32, whole: &Origin) -> Result<(u32, u32), ConfigError> {
    let min_at = origin(&d.min_session_timeout);
    let max_at = origin(&d.max_session_timeout);
    let explicit = |v: &Val<Option<u32>>| v.as_ref().and_then(|(v, _)| *v).map(u64::from);
    let min = explicit(&d.min_session_timeout).unwrap_or(u64::from(tick) * 2);
    let max = explicit(&d.max_session_timeout).unwrap_or(u64::from(tick) * 20);
    let fits = |v: u64| u32::try_from(v).ok().filter(|v| *v <= i32::MAX as u32);
    let at = min_at
        .clone()
        .or(max_at.clone())
        .unwrap_or_else(|| whole.clone());
    let (Some(min), Some(max)) = (fits(min), fits(max)) else {
        return Err(ConfigError::invalid(
            &at,
            "tickTime",
            "session timeouts derived from tickTime overflow",
        ));
    };
    if min > max {
        let (key, at) = match (&min_at, &max_at) {
            (Some(a), _) => ("minSessionTimeout", a.clone()),
            (None, Some(a)) => ("maxSessionTimeout", a.clone()),
            _ => ("minSessionTimeout", whole.clone()),
        };
        return Err(ConfigError::invalid(
            &at,
            key,
            format!("minSessionTimeout ({min}) must not be larger than maxSessionTimeout ({max})"),
        ));
    }
    Ok((min, max))
}

/// clientPort + clientPortAddress → listen address (port 0 = not set).
fn listen_address(
    port: &Val<u16>,
    address: &Val<String>,
    default_port: Option<u16>,
    port_key: &str,
    address_key: &str,
) -> Result<Option<HostPort>, ConfigError> {
    // In zoo.cfg a port of 0 means "not set", as in ZooKeeper; on our own command line
    // it asks the kernel for a free port (tests and embedding rely on that).
    let port = match port {
        Some((p, Origin::Flag(_))) => Some(*p),
        Some((p, _)) => Some(*p).filter(|p| *p != 0),
        None => default_port,
    };
    match (port, address) {
        (None, Some((_, at))) => Err(ConfigError::invalid(
            at,
            address_key,
            format!("{address_key} is set but {port_key} is not set"),
        )),
        (None, None) => Ok(None),
        (Some(p), Some((host, at))) => {
            if host.is_empty() {
                return Err(ConfigError::invalid(at, address_key, "empty address"));
            }
            // A bracketed IPv6 literal is accepted with or without brackets.
            let host = host.trim_start_matches('[').trim_end_matches(']');
            Ok(Some(HostPort::new(host, p)))
        }
        (Some(p), None) => Ok(Some(HostPort::any(p))),
    }
}

fn finish(
    config_file: Option<PathBuf>,
    mut d: Draft,
    props: SystemProperties,
    cli: &Cli,
    mut diagnostics: Vec<Diagnostic>,
) -> Result<Config, ConfigError> {
    let mut warn = |message: String| {
        diagnostics.push(Diagnostic {
            level: tracing::Level::WARN,
            message,
        })
    };
    let whole = file_origin(&config_file);
    let no_file = config_file.is_none();

    let data_dir = match value(d.data_dir.take()) {
        Some(dir) => dir,
        None if no_file => PathBuf::from(DEFAULT_DATA_DIR),
        None => {
            return Err(ConfigError::invalid(
                &whole,
                "dataDir",
                "dataDir is not set",
            ));
        }
    };
    let data_log_dir = value(d.data_log_dir.take()).unwrap_or_else(|| data_dir.clone());
    let tick_time = d.tick_time.as_ref().map_or(DEFAULT_TICK_TIME, |(t, _)| *t);
    let (min_session_timeout, max_session_timeout) = session_timeouts(&d, tick_time, &whole)?;

    let default_port = no_file.then_some(DEFAULT_CLIENT_PORT);
    let static_client = listen_address(
        &d.client_port,
        &d.client_port_address,
        default_port,
        "clientPort",
        "clientPortAddress",
    )?;
    let secure_client_address = listen_address(
        &d.secure_client_port,
        &d.secure_client_port_address,
        None,
        "secureClientPort",
        "secureClientPortAddress",
    )?;
    super::security::refuse_unhonoured(&d, &props)?;
    let client_tls = super::tls::client_tls(&props, secure_client_address.is_some())?;
    let switch = |name: &str| {
        d.security_keys
            .iter()
            .rev()
            .find(|(k, _, _)| k == name)
            .map(|(_, v, at)| (v.trim().eq_ignore_ascii_case("true"), at.clone()))
    };
    let quorum_tls = super::tls::quorum_tls(
        &props,
        switch("sslQuorum"),
        switch("portUnification"),
        switch("sslQuorumReloadCertFiles").is_some_and(|(on, _)| on),
    )?;
    let client_sasl = super::sasl::client_sasl(&props, &mut warn)?;
    let quorum_sasl = super::sasl::quorum_sasl(&props, &d.security_keys)?;
    let enforce_auth =
        super::sasl::enforce_auth(&props, client_tls.is_some(), client_sasl.is_some())?;
    // TLS keys nothing reads are legal in ZooKeeper too, but say so: an operator who
    // set them expects them to matter.
    for (name, p) in props.iter() {
        let inert = if name.starts_with("zookeeper.ssl.quorum.") {
            if quorum_tls.is_some() {
                continue;
            }
            "quorum TLS settings have no effect while sslQuorum is off"
        } else if name.starts_with("zookeeper.ssl.") && client_tls.is_none() {
            "TLS settings have no effect without secureClientPort (or \
             client.portUnification=true)"
        } else {
            continue;
        };
        warn(format!(
            "{}: {}: {inert}, as in ZooKeeper",
            p.origin, p.written_as
        ));
    }

    let derived = derive(&props)?;
    derived.warnings.iter().for_each(|w| warn(w.clone()));

    // Membership: from the dynamic file if there is one, else from zoo.cfg.
    let dynamic_config_file = value(d.dynamic_config_file.take());
    let (server_lines, config_version) = match &dynamic_config_file {
        Some(path) => dynamic_file::read(path)?,
        None => (std::mem::take(&mut d.server_lines), 0),
    };
    let servers = quorum::parse_servers(&server_lines, derived.multi_address_enabled)?;
    let standalone_enabled = d.standalone_enabled.as_ref().is_none_or(|(v, _)| *v);
    if !no_file {
        let at = origin(&d.standalone_enabled).unwrap_or_else(|| whole.clone());
        quorum::check_membership(&servers, standalone_enabled, &at)?
            .into_iter()
            .for_each(&mut warn);
    }

    // ZooKeeper reads myid whenever the file exists; --myid replaces it.
    let server_id = match cli.myid {
        Some(id) => Some(id),
        None => myid::read(&data_dir)?,
    };
    let own = server_id.and_then(|id| servers.get(&id));
    let client_at = origin(&d.client_port).unwrap_or_else(|| whole.clone());
    let client_address = quorum::reconcile_client_address(own, static_client, &client_at)?;
    let configured_type = d.peer_type.as_ref().map_or(Default::default(), |(t, _)| *t);
    let (peer_type, mismatch) = quorum::resolve_peer_type(&servers, server_id, configured_type);
    mismatch.into_iter().for_each(&mut warn);
    if client_address.is_none() && secure_client_address.is_none() {
        warn("no clientPort is configured: this server accepts no client connections".to_owned());
    }
    // A priority must name a voter: anything else would be silently meaningless.
    for (id, (_, at)) in &d.priorities {
        let voter = servers
            .get(id)
            .is_some_and(|s| s.peer_type == PeerType::Participant);
        if !voter {
            return Err(ConfigError::invalid(
                at,
                &format!("ferrokeeper.priority.{id}"),
                format!("server.{id} is not a voting member of this ensemble"),
            ));
        }
    }
    let priorities: std::collections::BTreeMap<u64, u32> =
        d.priorities.iter().map(|(id, (p, _))| (*id, *p)).collect();
    let follow_zookeeper = d.follow_zookeeper.is_some();
    let follow_ensemble = d
        .follow_ensemble
        .as_ref()
        .map(|(ids, _)| ids.clone())
        .unwrap_or_default();
    if let Some((ids, at)) = &d.follow_ensemble {
        let bad = |why: String| ConfigError::invalid(at, "ferrokeeper.ensemble", why);
        if !follow_zookeeper {
            return Err(bad(
                "only means something with ferrokeeper.follow=zookeeper".into(),
            ));
        }
        if !server_id.is_some_and(|me| ids.contains(&me)) {
            return Err(bad("must list this server's own id (myid)".into()));
        }
        for id in ids {
            if !servers
                .get(id)
                .is_some_and(|s| s.peer_type == PeerType::Observer)
            {
                return Err(bad(format!(
                    "server {id} is not one of ZooKeeper's observers (a server.{id}=…:observer line)"
                )));
            }
        }
    }
    if let Some((_, at)) = &d.follow_zookeeper {
        let own_observer = own.is_some_and(|s| s.peer_type == PeerType::Observer);
        if !own_observer || peer_type != PeerType::Observer {
            return Err(ConfigError::invalid(
                at,
                "ferrokeeper.follow",
                "following ZooKeeper needs this server to be one of its observers: myid N, \
                 a server.N=host:port:port:observer line, peerType=observer, and the \
                 ensemble's other server lines"
                    .to_owned(),
            ));
        }
        if derived.enforce_quota {
            // Writes go to ZooKeeper's leader, which enforces (or not) by its own setting.
            return Err(ConfigError::invalid(
                at,
                "zookeeper.enforceQuota",
                "a server following ZooKeeper cannot enforce quotas: its writes are \
                 decided by ZooKeeper's leader; set zookeeper.enforceQuota there"
                    .to_owned(),
            ));
        }
    }
    if !derived.admin.enabled {
        diagnostics.push(Diagnostic {
            level: tracing::Level::DEBUG,
            message: "AdminServer disabled (admin.enableServer=false)".to_owned(),
        });
    }

    let metrics_class_at = origin(&d.metrics_class_name);
    let metrics = MetricsProvider {
        class_name: value(d.metrics_class_name.take())
            .unwrap_or_else(|| DEFAULT_METRICS_PROVIDER.to_owned()),
        properties: std::mem::take(&mut d.metrics_properties),
    };
    let (metrics_endpoint, metrics_notes) =
        super::metrics::endpoint(&metrics, metrics_class_at.as_ref(), &d.metrics_origins)?;
    diagnostics.extend(metrics_notes.into_iter().map(|message| Diagnostic {
        level: tracing::Level::INFO,
        message,
    }));

    let config = Config {
        config_file,
        tick_time,
        init_limit: d.init_limit.as_ref().map_or(0, |(v, _)| *v),
        sync_limit: d.sync_limit.as_ref().map_or(0, |(v, _)| *v),
        connect_to_learner_master_limit: d
            .connect_to_learner_master_limit
            .as_ref()
            .map_or(0, |(v, _)| *v),
        min_session_timeout,
        max_session_timeout,
        data_dir,
        data_log_dir,
        autopurge: Autopurge {
            snap_retain_count: d.snap_retain_count.as_ref().map_or(3, |(v, _)| *v),
            purge_interval_hours: d.purge_interval.as_ref().map_or(0, |(v, _)| *v),
        },
        snap_count: derived.snap_count,
        snap_size_limit_kb: derived.snap_size_limit_kb,
        force_sync: derived.force_sync,
        pre_alloc_size_kb: derived.pre_alloc_size_kb,
        client_address,
        secure_client_address,
        client_tls,
        quorum_tls,
        quorum_sasl,
        client_sasl,
        enforce_auth,
        client_port_listen_backlog: d
            .client_port_listen_backlog
            .as_ref()
            .map_or(-1, |(v, _)| *v),
        max_client_cnxns: d.max_client_cnxns.as_ref().map_or(60, |(v, _)| *v),
        max_cnxns: derived.max_cnxns,
        global_outstanding_limit: derived.global_outstanding_limit,
        jute_max_buffer: derived.jute_max_buffer,
        four_letter_words: derived.four_letter_words,
        admin: derived.admin,
        servers,
        server_id,
        peer_type,
        standalone_enabled,
        follow_zookeeper,
        watch_event_zxid: d
            .watch_event_zxid
            .as_ref()
            .map_or(derived.watch_event_zxid, |(v, _)| *v),
        follow_ensemble,
        priorities,
        reconfig_enabled: d.reconfig_enabled.as_ref().is_some_and(|(v, _)| *v),
        dynamic_config_file,
        config_version,
        election_alg: 3,
        quorum_listen_on_all_ips: d.quorum_listen_on_all_ips.as_ref().is_some_and(|(v, _)| *v),
        observer_master_port: d
            .observer_master_port
            .as_ref()
            .map(|(v, _)| *v)
            .filter(|p| *p != 0),
        sync_enabled: d.sync_enabled.as_ref().is_none_or(|(v, _)| *v),
        local_sessions_enabled: d.local_sessions_enabled.as_ref().is_some_and(|(v, _)| *v),
        local_sessions_upgrading_enabled: d
            .local_sessions_upgrading_enabled
            .as_ref()
            .is_some_and(|(v, _)| *v),
        multi_address_enabled: derived.multi_address_enabled,
        super_digest: derived.super_digest,
        extended_types_enabled: derived.extended_types_enabled,
        read_only_mode_enabled: derived.read_only_mode_enabled,
        enforce_quota: derived.enforce_quota,
        containers: derived.containers,
        metrics_endpoint,
        metrics,
        system_properties: props,
        log_level: cli.log_level.clone(),
        log_format: super::logging::LogFormat::Text,
        diagnostics,
    };
    check_quorum(&config, &d, &whole)?;
    Ok(config)
}

/// `checkValidity` plus the start-up checks ZooKeeper makes a little later.
fn check_quorum(c: &Config, d: &Draft, whole: &Origin) -> Result<(), ConfigError> {
    if c.extended_types_enabled && c.effective_server_id() > MAX_EXTENDED_SERVER_ID {
        let at = Origin::FileWide {
            path: myid::path(&c.data_dir),
        };
        return Err(ConfigError::invalid(
            &at,
            "myid",
            format!(
                "extendedTypesEnabled is true but Server ID is too large. Cannot be larger than {MAX_EXTENDED_SERVER_ID}"
            ),
        ));
    }
    if !c.is_distributed() {
        return Ok(());
    }
    let at = |v: &Val<u32>| origin(v).unwrap_or_else(|| whole.clone());
    if c.init_limit == 0 {
        return Err(ConfigError::invalid(
            &at(&d.init_limit),
            "initLimit",
            "initLimit is not set",
        ));
    }
    if c.sync_limit == 0 {
        return Err(ConfigError::invalid(
            &at(&d.sync_limit),
            "syncLimit",
            "syncLimit is not set",
        ));
    }
    let Some(id) = c.server_id else {
        return Err(ConfigError::Myid {
            path: myid::path(&c.data_dir),
            message: "myid file is missing (required when the ensemble has several servers)"
                .to_owned(),
        });
    };
    if !c.servers.contains_key(&id) {
        return Err(ConfigError::Myid {
            path: myid::path(&c.data_dir),
            message: format!("My id {id} not in the peer list"),
        });
    }
    Ok(())
}
