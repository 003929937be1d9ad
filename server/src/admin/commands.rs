//! The AdminServer's commands: ZooKeeper 3.8's names, aliases, JSON keys and value
//! types (monitoring tools parse them), answered from the same figures as the
//! four-letter words.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::{Map, Value, json};

use super::AdminContext;
use crate::net::Shared;
use crate::net::monitor;
use crate::replication::Role;

/// What a command may need besides the server.
pub struct Call<'a> {
    pub shared: &'a Arc<Shared>,
    pub ctx: &'a AdminContext,
    pub params: &'a std::collections::HashMap<String, String>,
}

/// A command's outcome: its fields, or ZooKeeper's `error` text (still HTTP 200).
pub type Outcome = Result<Map<String, Value>, String>;

pub struct Command {
    /// The primary name first, then the aliases.
    pub names: &'static [&'static str],
    /// ZooKeeper answers "not currently serving requests" for these while it has no
    /// quorum; the others answer anyway.
    pub server_required: bool,
    /// Changes state or leadership: needs ALL on `/` (see `auth`).
    pub needs_auth: bool,
    pub run: fn(&Call) -> Outcome,
}

const fn command(names: &'static [&'static str], run: fn(&Call) -> Outcome) -> Command {
    Command {
        names,
        server_required: true,
        needs_auth: false,
        run,
    }
}

const fn any_time(mut c: Command) -> Command {
    c.server_required = false;
    c
}

const fn guarded(mut c: Command) -> Command {
    c.needs_auth = true;
    c
}

pub const COMMANDS: &[Command] = &[
    guarded(command(&["connection_stat_reset", "crst"], crst)),
    command(&["configuration", "conf", "config"], configuration),
    command(&["connections", "cons"], connections),
    command(&["hash"], hash),
    command(&["dirs"], dirs),
    command(&["dump"], dump),
    any_time(command(&["environment", "env", "envi"], environment)),
    any_time(command(&["get_trace_mask", "gtmk"], get_trace_mask)),
    command(&["initial_configuration", "icfg"], initial_configuration),
    command(&["is_read_only", "isro"], is_read_only),
    command(&["last_snapshot", "lsnp"], last_snapshot),
    command(&["leader", "lead"], leader),
    any_time(command(&["monitor", "mntr"], monitor)),
    guarded(command(&["observer_connection_stat_reset", "orst"], orst)),
    command(&["ruok"], ruok),
    guarded(any_time(command(
        &["set_trace_mask", "stmk"],
        set_trace_mask,
    ))),
    command(&["server_stats", "srvr"], server_stats),
    command(&["stats", "stat"], stats),
    guarded(command(&["stat_reset", "srst"], stat_reset)),
    command(&["observers", "obsr"], observers),
    any_time(command(&["system_properties", "sysp"], system_properties)),
    command(&["voting_view"], voting_view),
    command(&["watches", "wchc"], watches),
    command(&["watches_by_path", "wchp"], watches_by_path),
    command(&["watch_summary", "wchs"], watch_summary),
    any_time(command(&["zabstate"], zabstate)),
];

pub fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.names.contains(&name))
}

fn map(pairs: Vec<(&str, Value)>) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn role(call: &Call) -> Role {
    *call.shared.backend().role().borrow()
}

fn ruok(_: &Call) -> Outcome {
    Ok(Map::new())
}

fn crst(call: &Call) -> Outcome {
    call.shared.core.reset_connection_stats();
    Ok(Map::new())
}

fn orst(_: &Call) -> Outcome {
    // Observers keep no per-connection statistics on the leader here (Raft replication
    // has no observer connections to reset), so there is nothing to reset.
    Ok(Map::new())
}

fn stat_reset(call: &Call) -> Outcome {
    call.shared.core.stats.reset();
    Ok(Map::new())
}

fn configuration(call: &Call) -> Outcome {
    let mut out = call.ctx.configuration.clone();
    out.insert(
        "client_port".into(),
        call.shared.settings.client_port.into(),
    );
    Ok(out)
}

fn connection_json(c: &crate::core::ConnInfo, full: bool) -> Value {
    let mut m = map(vec![
        ("remote_socket_address", c.peer.clone().into()),
        // Java's SelectionKey.OP_READ: the connection is being read from.
        ("interest_ops", 1.into()),
        ("outstanding_requests", 0.into()),
        ("packets_received", c.received.into()),
        ("packets_sent", c.sent.into()),
    ]);
    if full {
        let rest = map(vec![
            ("session_id", c.session.into()),
            ("last_operation", c.last_op.into()),
            ("established", c.established_ms.into()),
            ("session_timeout", c.timeout_ms.into()),
            ("last_cxid", c.last_cxid.into()),
            ("last_zxid", c.last_zxid.into()),
            ("last_response_time", c.last_response_ms.into()),
            ("last_latency", c.last_latency_ms.into()),
            ("min_latency", c.min_latency_ms.into()),
            ("avg_latency", c.avg_latency_ms.into()),
            ("max_latency", c.max_latency_ms.into()),
        ]);
        m.extend(rest);
    }
    Value::Object(m)
}

/// Plain and TLS connections, each listed as `full` or brief.
fn connection_lists(call: &Call, full: bool) -> (Value, Value) {
    let (secure, plain): (Vec<_>, Vec<_>) = call
        .shared
        .core
        .connections()
        .into_iter()
        .partition(|c| c.transport.tls);
    let list = |conns: Vec<crate::core::ConnInfo>| {
        Value::Array(conns.iter().map(|c| connection_json(c, full)).collect())
    };
    (list(plain), list(secure))
}

fn connections(call: &Call) -> Outcome {
    let (plain, secure) = connection_lists(call, true);
    Ok(map(vec![
        ("connections", plain),
        ("secure_connections", secure),
    ]))
}

fn hash(_: &Call) -> Outcome {
    Err("ferrokeeper keeps no data-tree digests (ZooKeeper's digest log)".into())
}

fn dirs(call: &Call) -> Outcome {
    Ok(map(vec![
        (
            "datadir_size",
            monitor::dir_bytes(&call.shared.settings.snapshot_dir).into(),
        ),
        (
            "logdir_size",
            monitor::dir_bytes(&call.shared.settings.log_dir).into(),
        ),
    ]))
}

fn dump(call: &Call) -> Outcome {
    let expiry: Map<String, Value> = call
        .shared
        .core
        .session_deadlines()
        .into_iter()
        .map(|(ms, ids)| (ms.to_string(), json!(ids)))
        .collect();
    let ephemerals: Map<String, Value> = call.shared.core.with_state(|zk, _| {
        crate::core::session_timeouts(zk)
            .iter()
            .map(|(id, _)| (*id, zk.tree().get_ephemerals(*id, "/")))
            .filter(|(_, paths)| !paths.is_empty())
            .map(|(id, paths)| (id.to_string(), json!(paths)))
            .collect()
    });
    Ok(map(vec![
        ("expiry_time_to_session_ids", Value::Object(expiry)),
        ("session_id_to_ephemeral_paths", Value::Object(ephemerals)),
    ]))
}

fn environment(call: &Call) -> Outcome {
    Ok(call
        .ctx
        .environment()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect())
}

fn get_trace_mask(call: &Call) -> Outcome {
    Ok(map(vec![(
        "tracemask",
        call.shared
            .core
            .stats
            .trace_mask
            .load(Ordering::Relaxed)
            .into(),
    )]))
}

fn set_trace_mask(call: &Call) -> Outcome {
    let Some(raw) = call.params.get("traceMask") else {
        return Err("setTraceMask requires long traceMask argument".into());
    };
    let mask: i64 = raw
        .parse()
        .map_err(|_| format!("setTraceMask requires long traceMask argument, got {raw}"))?;
    call.shared
        .core
        .stats
        .trace_mask
        .store(mask, Ordering::Relaxed);
    Ok(map(vec![("tracemask", mask.into())]))
}

fn initial_configuration(call: &Call) -> Outcome {
    Ok(map(vec![(
        "initial_configuration",
        call.ctx.initial_configuration.clone().into(),
    )]))
}

fn is_read_only(call: &Call) -> Outcome {
    Ok(map(vec![(
        "read_only",
        call.shared.serving_read_only().into(),
    )]))
}

fn last_snapshot(_: &Call) -> Outcome {
    Ok(match crate::metrics::last_snapshot() {
        Some((zxid, modified)) => map(vec![
            ("zxid", format!("{zxid:x}").into()),
            ("timestamp", modified.into()),
        ]),
        // ZooKeeper's answer before any snapshot: Long.toHexString(-1).
        None => map(vec![
            ("zxid", "ffffffffffffffff".into()),
            ("timestamp", (-1).into()),
        ]),
    })
}

fn leader_host(call: &Call, leader: u64) -> String {
    call.ctx
        .servers
        .iter()
        .find(|s| s.id == leader)
        .and_then(|s| s.server_addresses.first())
        .and_then(|a| a.rsplit_once(':').map(|(host, _)| host.to_owned()))
        .unwrap_or_default()
}

fn leader(call: &Call) -> Outcome {
    let facts = call
        .shared
        .backend()
        .raft_facts()
        .filter(|f| f.voters.is_some());
    let Some(facts) = facts else {
        return Err("server is not initialized".into());
    };
    let leader = facts.leader;
    Ok(map(vec![
        ("is_leader", (role(call) == Role::Leader).into()),
        (
            "leader_id",
            leader.map_or(-1, |l| i64::try_from(l).unwrap_or(-1)).into(),
        ),
        (
            "leader_ip",
            leader
                .map(|l| leader_host(call, l))
                .unwrap_or_default()
                .into(),
        ),
    ]))
}

fn monitor(call: &Call) -> Outcome {
    Ok(monitor::report(call.shared)
        .flattened()
        .into_iter()
        .map(|(k, v)| (k, v.to_json()))
        .collect())
}

fn response_sizes(call: &Call) -> Value {
    let sizes = call.shared.core.stats.response_sizes();
    json!({
        "last_buffer_size": sizes.last,
        "min_buffer_size": sizes.min,
        "max_buffer_size": sizes.max,
    })
}

fn server_stats_fields(call: &Call) -> Map<String, Value> {
    let shared = call.shared;
    let stats = &shared.core.stats;
    let latency = stats.latency();
    let s = monitor::state_figures(shared);
    let role = role(call);
    let mut inner = map(vec![
        (
            "packets_sent",
            stats.packets_sent.load(Ordering::Relaxed).into(),
        ),
        (
            "packets_received",
            stats.packets_received.load(Ordering::Relaxed).into(),
        ),
        // fsyncs slower than ZooKeeper's fsync.warningthresholdms (1 s).
        (
            "fsync_threshold_exceed_count",
            crate::metrics::FSYNC_OVER_THRESHOLD
                .load(Ordering::Relaxed)
                .into(),
        ),
        ("client_response_stats", response_sizes(call)),
        (
            "data_dir_size",
            monitor::dir_bytes(&shared.settings.snapshot_dir).into(),
        ),
        (
            "log_dir_size",
            monitor::dir_bytes(&shared.settings.log_dir).into(),
        ),
        ("provider_null", false.into()),
        ("server_state", shared.mode().into()),
        ("last_processed_zxid", s.zxid.into()),
        (
            "outstanding_requests",
            shared.core.throttle.outstanding().into(),
        ),
        ("avg_latency", json!(latency.avg)),
        ("max_latency", latency.max.into()),
        ("min_latency", latency.min.into()),
        (
            "num_alive_client_connections",
            shared.core.connections().len().into(),
        ),
        (
            "uptime",
            u64::try_from(shared.started.elapsed().as_millis())
                .unwrap_or(u64::MAX)
                .into(),
        ),
        (
            "auth_failed_count",
            stats.auth_failed.load(Ordering::Relaxed).into(),
        ),
    ]);
    let (remote, local) = monitor::non_mtls_counts(shared);
    inner.insert("non_mtlsremote_conn_count".into(), remote.into());
    inner.insert("non_mtlslocal_conn_count".into(), local.into());
    let mut out = map(vec![
        ("version", monitor::version_with_build().into()),
        ("read_only", shared.serving_read_only().into()),
        ("server_stats", Value::Object(inner)),
        ("client_response", response_sizes(call)),
    ]);
    if role == Role::Leader {
        // Sizes of the proposals this leader made; not measured yet (ZooKeeper: -1 until
        // the first proposal).
        out.insert(
            "proposal_stats".into(),
            json!({"last_buffer_size": -1, "min_buffer_size": -1, "max_buffer_size": -1}),
        );
    }
    out.insert("node_count".into(), s.node_count.into());
    out
}

fn server_stats(call: &Call) -> Outcome {
    Ok(server_stats_fields(call))
}

fn stats(call: &Call) -> Outcome {
    let mut out = server_stats_fields(call);
    let (plain, secure) = connection_lists(call, false);
    out.insert("connections".into(), plain);
    out.insert("secure_connections".into(), secure);
    Ok(out)
}

fn observers(call: &Call) -> Outcome {
    let counts = call.shared.backend().follower_counts();
    let synced = if role(call) == Role::Leader {
        counts.synced_observers
    } else {
        0
    };
    // Raft replicates to observers from the leader without a learner handler per
    // connection, so there are no per-observer connection figures to list.
    Ok(map(vec![
        ("synced_observers", synced.into()),
        ("observers", Value::Array(Vec::new())),
    ]))
}

fn system_properties(call: &Call) -> Outcome {
    Ok(call
        .ctx
        .system_properties
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect())
}

fn voting_view(call: &Call) -> Outcome {
    let config: Map<String, Value> = call
        .ctx
        .servers
        .iter()
        .filter(|s| !s.observer)
        .map(|s| {
            (
                s.id.to_string(),
                json!({
                    "server_addresses": s.server_addresses,
                    "election_addresses": s.election_addresses,
                    "client_address": s.client_address,
                    "learner_type": "participant",
                }),
            )
        })
        .collect();
    Ok(map(vec![("current_config", Value::Object(config))]))
}

fn watches(call: &Call) -> Outcome {
    let sessions = session_of(call);
    let by_watcher = call
        .shared
        .core
        .with_state(|_, watches| watches.by_watcher());
    let mut out = Map::new();
    for (conn, paths) in by_watcher {
        let id = sessions.get(&conn).copied().unwrap_or_default();
        out.insert(id.to_string(), json!(paths));
    }
    Ok(map(vec![(
        "session_id_to_watched_paths",
        Value::Object(out),
    )]))
}

fn watches_by_path(call: &Call) -> Outcome {
    let sessions = session_of(call);
    let by_path = call.shared.core.with_state(|_, watches| watches.by_path());
    let out: Map<String, Value> = by_path
        .into_iter()
        .map(|(path, conns)| {
            let ids: Vec<i64> = conns
                .iter()
                .map(|c| sessions.get(c).copied().unwrap_or_default())
                .collect();
            (path, json!(ids))
        })
        .collect();
    Ok(map(vec![("path_to_session_ids", Value::Object(out))]))
}

fn session_of(call: &Call) -> std::collections::HashMap<u64, i64> {
    call.shared
        .core
        .connections()
        .into_iter()
        .map(|c| (c.conn, c.session))
        .collect()
}

fn watch_summary(call: &Call) -> Outcome {
    let s = monitor::state_figures(call.shared);
    Ok(map(vec![
        ("num_connections", s.watch_conns.into()),
        ("num_paths", s.watch_paths.into()),
        ("num_total_watches", s.watch_total.into()),
    ]))
}

/// A quorum address as ZooKeeper's `MultipleAddresses` serialises (one address here).
fn multiple_addresses(address: &str) -> Value {
    let (host, port) = address.rsplit_once(':').unwrap_or((address, "0"));
    let port: u16 = port.parse().unwrap_or(0);
    json!({
        "empty": false,
        "all_addresses": [address],
        "all_reachable_addresses": [address],
        "one": address,
        "reachable_address": address,
        "wildcard_addresses": [format!("0.0.0.0:{port}")],
        "all_ports": [port],
        "all_host_strings": [host],
        "all_reachable_addresses_or_all": [address],
        "reachable_or_one": address,
    })
}

fn zabstate(call: &Call) -> Outcome {
    let Some(me) = call.ctx.servers.iter().find(|s| s.id == call.ctx.my_id) else {
        return Ok(map(vec![("voting", false.into()), ("zabstate", "".into())]));
    };
    let role = role(call);
    let zxid = monitor::state_figures(call.shared).zxid;
    // Raft's phases map onto Zab's: serving is broadcast, anything else is an election.
    let state = if role.serving() {
        "broadcast"
    } else {
        "election"
    };
    Ok(map(vec![
        ("myid", call.ctx.my_id.into()),
        ("is_leader", (role == Role::Leader).into()),
        (
            "quorum_address",
            me.server_addresses
                .first()
                .map_or(Value::Null, |a| multiple_addresses(a)),
        ),
        (
            "election_address",
            me.election_addresses
                .first()
                .map_or(Value::Null, |a| multiple_addresses(a)),
        ),
        ("client_address", me.client_address.clone().into()),
        ("voting", (!me.observer).into()),
        ("last_zxid", format!("0x{zxid:x}").into()),
        ("zab_epoch", (zxid >> 32).into()),
        ("zab_counter", (zxid & 0xffff_ffff).into()),
        ("zabstate", state.into()),
    ]))
}
