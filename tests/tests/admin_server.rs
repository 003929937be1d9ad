//! The AdminServer and the Prometheus endpoint, side by side with a real ZooKeeper 3.8:
//! every command answers with ZooKeeper's keys and JSON types (values that differ by
//! nature are not compared), `monitor` carries ZooKeeper's metric names (each of
//! ZooKeeper's is served or listed in `metrics::ZOOKEEPER_ONLY` with its reason),
//! `/metrics` parses with Prometheus's own client parser and moves with the workload,
//! the commands that change state need ALL on `/`, and the readiness probe follows the
//! quorum.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrokeeper_protocol::{
    Acl, CreateRequest, ExistsRequest, GetDataRequest, Id, Request, SetAclRequest, perms,
};
use ferrokeeper_tests::Ferrokeeper;
use ferrokeeper_tests::http::{self, Reply};
use ferrokeeper_tests::raw::RawClient;
use ferrokeeper_tests::zookeeper::RealZooKeeper;
use serde_json::Value;

fn world() -> Vec<Acl> {
    vec![Acl {
        perms: perms::ALL,
        id: Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    }]
}

fn call(client: &mut RawClient, request: Request) {
    let frames = client.call(request).expect("call");
    let reply = frames.last().expect("reply");
    assert_eq!(reply.header.err, 0, "{reply:?}");
}

/// The same small workload on either server: an ephemeral node, a persistent one, a data
/// watch and an exists watch. Returns the client (its session must stay open).
fn workload(addr: SocketAddr) -> RawClient {
    let (mut c, _) = RawClient::connect(addr, 10_000, None).expect("connect");
    call(
        &mut c,
        Request::Create(CreateRequest {
            path: "/a".into(),
            data: Some(Bytes::from_static(b"hello")),
            acl: world(),
            flags: 1,
        }),
    );
    call(
        &mut c,
        Request::Create(CreateRequest {
            path: "/p".into(),
            data: Some(Bytes::from_static(b"x")),
            acl: world(),
            flags: 0,
        }),
    );
    call(
        &mut c,
        Request::GetData(GetDataRequest {
            path: "/p".into(),
            watch: true,
        }),
    );
    call(
        &mut c,
        Request::Exists(ExistsRequest {
            path: "/a".into(),
            watch: true,
        }),
    );
    c
}

/// A JSON value's type, as a monitoring tool parsing it would see it.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Differences in keys and types between ZooKeeper's answer and ours, recursively
/// (arrays by their first elements; maps keyed by ids or paths by their values' shape).
fn differences(at: &str, zk: &Value, fk: &Value, out: &mut Vec<String>) {
    if kind(zk) != kind(fk) {
        out.push(format!(
            "{at}: ZooKeeper {} ({zk}), ferrokeeper {} ({fk})",
            kind(zk),
            kind(fk)
        ));
        return;
    }
    match (zk, fk) {
        (Value::Object(z), Value::Object(f)) => {
            let keyed_by_data = z
                .keys()
                .chain(f.keys())
                .any(|k| k.starts_with('/') || k.chars().all(|c| c.is_ascii_digit() || c == '-'));
            if keyed_by_data {
                // Session ids, expiry times or paths as keys: compare one value's shape.
                if let (Some(zv), Some(fv)) = (z.values().next(), f.values().next()) {
                    differences(&format!("{at}.*"), zv, fv, out);
                }
                return;
            }
            for (k, zv) in z {
                match f.get(k) {
                    Some(fv) => differences(&format!("{at}.{k}"), zv, fv, out),
                    None => out.push(format!("{at}.{k}: missing in ferrokeeper")),
                }
            }
            for k in f.keys().filter(|k| !z.contains_key(*k)) {
                out.push(format!("{at}.{k}: only in ferrokeeper"));
            }
        }
        (Value::Array(z), Value::Array(f)) => {
            if let (Some(zv), Some(fv)) = (z.first(), f.first()) {
                differences(&format!("{at}[0]"), zv, fv, out);
            }
        }
        _ => {}
    }
}

fn command(addr: SocketAddr, name: &str) -> Value {
    let reply = http::get(addr, &format!("/commands/{name}"), &[]);
    assert_eq!(reply.status, 200, "{name}: {reply:?}");
    assert!(
        reply.content_type.starts_with("application/json"),
        "{name}: {reply:?}"
    );
    reply.json()
}

/// Waits until `addr` answers HTTP (ZooKeeper's Jetty starts after its client port).
fn wait_for_http(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while http::try_get(addr, "/commands/ruok", &[]).is_err() {
        assert!(
            Instant::now() < deadline,
            "no AdminServer on {addr} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn real_zookeeper_with_admin() -> (RealZooKeeper, SocketAddr) {
    let (zk, port) = RealZooKeeper::start_with_admin(&[], &[]);
    let admin = SocketAddr::from(([127, 0, 0, 1], port));
    wait_for_http(admin);
    (zk, admin)
}

/// Commands whose keys legitimately differ, and how.
fn allowed(command: &str, difference: &str) -> bool {
    match command {
        // ZooKeeper's are the JVM's properties and environment (java.*, os.memory.*);
        // ferrokeeper reports its own. Values are strings on both (checked below).
        "system_properties" | "environment" => true,
        // ferrokeeper keeps no data-tree digests: `hash` answers an error instead of an
        // empty list (README, "AdminServer").
        "hash" => true,
        // `monitor` is compared name by name below.
        "monitor" => true,
        _ => {
            let _ = difference;
            false
        }
    }
}

#[test]
fn every_command_answers_with_zookeepers_keys_and_types() {
    let (zk, zk_admin) = real_zookeeper_with_admin();
    let fk = Ferrokeeper::start(&[]);
    let _zk_client = workload(zk.addr());
    let _fk_client = workload(fk.addr());

    // The command list: the same names, as links under /commands.
    let list = |addr| http::get(addr, "/commands", &[]).body;
    let names = |body: String| -> BTreeSet<String> {
        body.split("href=\"/commands/")
            .skip(1)
            .filter_map(|s| s.split('"').next().map(str::to_owned))
            .collect()
    };
    let zk_names = names(list(zk_admin));
    let fk_names = names(list(fk.admin_addr()));
    assert!(zk_names.len() >= 26, "{zk_names:?}");
    let only_ours: Vec<&String> = fk_names.difference(&zk_names).collect();
    assert!(
        zk_names.is_subset(&fk_names),
        "missing: {:?}",
        zk_names.difference(&fk_names)
    );
    // ZooKeeper 3.9's snapshot command, and ferrokeeper's own.
    assert_eq!(
        only_ours,
        ["snapshot", "transfer_leadership"],
        "commands ZooKeeper 3.8 lacks"
    );

    let mut report = Vec::new();
    for name in &zk_names {
        // Resets would reset what the other commands report; they are checked alone.
        if name.ends_with("reset") || name == "set_trace_mask" {
            continue;
        }
        let z = command(zk_admin, name);
        let f = command(fk.admin_addr(), name);
        assert_eq!(f["command"], Value::String(name.clone()), "{f}");
        let mut diffs = Vec::new();
        differences(name, &z, &f, &mut diffs);
        if !diffs.is_empty() {
            println!("{name}: accepted differences: {diffs:?}");
        }
        let unexplained: Vec<&String> = diffs.iter().filter(|d| !allowed(name, d)).collect();
        if !unexplained.is_empty() {
            report.push(format!(
                "{name}:\n  {}",
                unexplained
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("\n  ")
            ));
        }
        if name == "system_properties" || name == "environment" {
            let obj = f.as_object().expect("object");
            assert!(
                obj.iter()
                    .filter(|(k, _)| *k != "command" && *k != "error")
                    .all(|(_, v)| v.is_string()),
                "{f}"
            );
        }
    }
    assert!(
        report.is_empty(),
        "differences from ZooKeeper 3.8:\n{}",
        report.join("\n")
    );

    // Both say so the same way for an unknown command.
    for addr in [zk_admin, fk.admin_addr()] {
        let v = command(addr, "nosuch");
        assert_eq!(v["error"], "Unknown command: nosuch", "{v}");
    }
    // Aliases answer under the primary name.
    assert_eq!(command(fk.admin_addr(), "mntr")["command"], "monitor");
    assert_eq!(command(fk.admin_addr(), "srvr")["command"], "server_stats");

    // The figures are real: the workload's nodes, session and watches.
    let f = command(fk.admin_addr(), "watch_summary");
    assert_eq!(
        (f["num_paths"].as_i64(), f["num_total_watches"].as_i64()),
        (Some(2), Some(2)),
        "{f}"
    );
    let dump = command(fk.admin_addr(), "dump");
    let ephemerals = dump["session_id_to_ephemeral_paths"]
        .as_object()
        .expect("map");
    assert_eq!(
        ephemerals.values().next(),
        Some(&serde_json::json!(["/a"])),
        "{dump}"
    );
    let sessions = dump["expiry_time_to_session_ids"].as_object().expect("map");
    assert_eq!(
        sessions
            .values()
            .flat_map(|v| v.as_array().cloned().unwrap_or_default())
            .count(),
        1,
        "{dump}"
    );
}

/// A ZooKeeper `monitor` key's metric name: summaries are flattened with a prefix, and
/// per-namespace summaries carry the namespace (the first path component) too.
fn metric_names(key: &str) -> Vec<String> {
    let mut names = vec![key.to_owned()];
    for prefix in [
        "avg_", "min_", "max_", "cnt_", "sum_", "p50_", "p95_", "p99_", "p999_",
    ] {
        if let Some(rest) = key.strip_prefix(prefix) {
            names.push(rest.to_owned());
            // Per-member summaries carry the member's id: avg_1_learner_handler_qp_size.
            if let Some((id, name)) = rest.split_once('_')
                && id.chars().all(|c| c.is_ascii_digit())
            {
                names.push(name.to_owned());
            }
            for suffix in ["read_per_namespace", "write_per_namespace"] {
                if rest.ends_with(suffix) {
                    names.push(suffix.to_owned());
                }
            }
        }
    }
    names
}

#[test]
fn monitor_has_zookeepers_metric_names() {
    let (zk, zk_admin) = real_zookeeper_with_admin();
    let fk = Ferrokeeper::start(&["-Dzookeeper.4lw.commands.whitelist=*"]);
    let _zk_client = workload(zk.addr());
    let _fk_client = workload(fk.addr());
    let z = command(zk_admin, "monitor");
    let f = command(fk.admin_addr(), "monitor");
    let z = z.as_object().expect("object");
    let f = f.as_object().expect("object");
    let zookeeper_only: BTreeSet<&str> = ferrokeeper_server::metrics::ZOOKEEPER_ONLY
        .iter()
        .flat_map(|(_, names)| names.iter().copied())
        .collect();

    let mut unaccounted = Vec::new();
    let mut served = 0;
    for (key, zv) in z {
        match f.get(key) {
            Some(fv) => {
                served += 1;
                assert_eq!(
                    kind(zv),
                    kind(fv),
                    "monitor.{key}: ZooKeeper {zv}, ferrokeeper {fv}"
                );
            }
            None => {
                if !metric_names(key)
                    .iter()
                    .any(|n| zookeeper_only.contains(n.as_str()))
                {
                    unaccounted.push(key.clone());
                }
            }
        }
    }
    assert!(
        unaccounted.is_empty(),
        "ZooKeeper names neither served nor listed in metrics::ZOOKEEPER_ONLY: {unaccounted:?}"
    );
    let extra: Vec<&String> = f.keys().filter(|k| !z.contains_key(*k)).collect();
    assert!(
        extra.is_empty(),
        "names ZooKeeper's standalone monitor lacks: {extra:?}"
    );
    // Every name in the ZooKeeper-only list is a name ZooKeeper has (no stale entries).
    let zk_names: BTreeSet<String> = z.keys().flat_map(|k| metric_names(k)).collect();
    // The proposal sizes are a leader's gauges, absent from a standalone server.
    // (The ensemble test checks them on a ZooKeeper leader.)
    let leader_only = [
        "last_proposal_size",
        "max_proposal_size",
        "min_proposal_size",
        "learner_handler_qp_size",
        "learner_handler_qp_time_ms",
    ];
    let stale: Vec<&&str> = zookeeper_only
        .iter()
        .filter(|n| !zk_names.contains(**n) && !leader_only.contains(*n))
        .collect();
    assert!(stale.is_empty(), "not ZooKeeper metric names: {stale:?}");
    println!(
        "monitor: {served} of ZooKeeper's {} keys served, {} accounted for as ZooKeeper-only",
        z.len(),
        z.len() - served
    );

    // mntr (the four-letter word) carries the same names, zk_-prefixed.
    let mntr = ferrokeeper_tests::four_letter(fk.addr(), "mntr");
    for key in [
        "znode_count",
        "readlatency",
        "fsynctime",
        "packets_received",
    ] {
        let k = if key == "readlatency" || key == "fsynctime" {
            format!("zk_avg_{key}\t")
        } else {
            format!("zk_{key}\t")
        };
        assert!(mntr.contains(&k), "{k} missing from mntr:\n{mntr}");
    }
}

/// Parses Prometheus exposition text with Prometheus's Python client parser; returns
/// family name → (type, samples as (name, labels, value)).
type Families = BTreeMap<String, (String, Vec<(String, BTreeMap<String, String>, f64)>)>;

fn parse_prometheus(text: &str) -> Families {
    ferrokeeper_tests::process::require_python("prometheus_client", "prometheus-client==0.21.1");
    let script = r#"
import sys, json
from prometheus_client.parser import text_string_to_metric_families as parse
out = {}
for f in parse(sys.stdin.read()):
    out[f.name] = [f.type, [[s.name, s.labels, s.value] for s in f.samples]]
print(json.dumps(out))
"#;
    let mut child = Command::new("timeout")
        .args(["60", "python3", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python3");
    assert!(
        out.status.success(),
        "prometheus_client could not parse /metrics: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

fn scrape(addr: SocketAddr) -> Families {
    let reply: Reply = http::get(addr, "/metrics", &[]);
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.content_type.starts_with("text/plain"), "{reply:?}");
    parse_prometheus(&reply.body)
}

fn value(families: &Families, name: &str) -> f64 {
    let (_, samples) = families
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing"));
    samples
        .first()
        .map(|s| s.2)
        .unwrap_or_else(|| panic!("{name}: no sample"))
}

/// A zoo.cfg with the Prometheus provider on a kernel-chosen loopback port.
fn prometheus_cfg(dir: &std::path::Path) -> String {
    let path = dir.join("zoo.cfg");
    std::fs::write(
        &path,
        format!(
            "dataDir={}\nclientPort=2181\n\
             metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
             metricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort=0\n\
             metricsProvider.exportJvmInfo=false\n",
            dir.join("data").display()
        ),
    )
    .expect("zoo.cfg");
    path.display().to_string()
}

#[test]
fn prometheus_endpoint_has_zookeepers_names_and_follows_the_workload() {
    let dir = tempfile::tempdir().expect("dir");
    let cfg = prometheus_cfg(dir.path());
    let fk = Ferrokeeper::start(&[&cfg]);
    let metrics = fk
        .metrics_addr()
        .expect("the metrics endpoint's address is logged");
    let before = scrape(metrics);

    // ZooKeeper's names with ZooKeeper's types: counters keep their names (no _total,
    // as ZooKeeper's simpleclient 0.9 exports them), summaries carry quantiles.
    for (name, kind) in [
        ("znode_count", "gauge"),
        ("num_alive_connections", "gauge"),
        ("packets_received", "gauge"),
        ("outstanding_requests", "gauge"),
        ("approximate_data_size", "gauge"),
        ("uptime", "gauge"),
        ("open_file_descriptor_count", "gauge"),
        ("connection_request_count", "counter"),
        ("bytes_received_count", "counter"),
        ("readlatency", "summary"),
        ("updatelatency", "summary"),
        ("fsynctime", "summary"),
        ("snapshottime", "summary"),
        ("election_time", "summary"),
        ("ferrokeeper_raft_term", "gauge"),
        ("ferrokeeper_raft_applied_index", "gauge"),
        ("ferrokeeper_log_bytes", "gauge"),
        ("ferrokeeper_resident_memory_bytes", "gauge"),
    ] {
        let (got, _) = before
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing: {:?}", before.keys()));
        assert_eq!(got, kind, "{name}");
    }
    let (_, samples) = &before["updatelatency"];
    let quantiles: Vec<&str> = samples
        .iter()
        .filter_map(|(_, labels, _)| labels.get("quantile").map(String::as_str))
        .collect();
    assert_eq!(quantiles, ["0.5", "0.9", "0.99"], "{samples:?}");
    assert!(
        samples.iter().any(|(n, _, _)| n == "updatelatency_count"),
        "{samples:?}"
    );
    // On the wire, as ZooKeeper's: no _total suffix (the parser adds one to sample
    // names of counters, so this is checked on the text itself).
    let raw = http::get(metrics, "/metrics", &[]).body;
    assert!(
        raw.lines()
            .any(|l| l.starts_with("connection_request_count ")),
        "{raw}"
    );
    assert!(!raw.contains("connection_request_count_total"), "{raw}");

    // The figures move with the workload.
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(workload_in(fk.addr(), clients.len()));
    }
    let after = scrape(metrics);
    assert_eq!(
        value(&after, "znode_count"),
        value(&before, "znode_count") + 6.0
    );
    assert_eq!(value(&after, "num_alive_connections"), 3.0);
    // Two creates per client at least (the handshake counts too, as in ZooKeeper).
    assert!(value(&after, "packets_received") >= value(&before, "packets_received") + 6.0);
    assert!(value(&after, "connection_request_count") >= 3.0);
    let count = |f: &Families, name: &str| {
        f[name]
            .1
            .iter()
            .find(|(n, _, _)| n.ends_with("_count"))
            .map(|s| s.2)
            .unwrap_or(0.0)
    };
    assert!(count(&after, "updatelatency") >= count(&before, "updatelatency") + 6.0);
    assert!(count(&after, "fsynctime") > count(&before, "fsynctime"));
    assert!(
        value(&after, "ferrokeeper_raft_applied_index")
            > value(&before, "ferrokeeper_raft_applied_index")
    );
    drop(clients);

    // ZooKeeper's quota gauge sets, one sample per namespace (label `key`): a quota of
    // 10 nodes (hard) and 100 bytes (soft) on /q/a holding /q/a and one child.
    let mut c = RawClient::connect(fk.addr(), 30_000, None)
        .expect("connect")
        .0;
    for (path, data) in [
        ("/q", ""),
        ("/q/a", "12"),
        ("/q/a/b", "345"),
        ("/zookeeper/quota/q", ""),
        ("/zookeeper/quota/q/a", ""),
        (
            "/zookeeper/quota/q/a/zookeeper_limits",
            "count=-1,bytes=100=;countHardLimit=10",
        ),
        ("/zookeeper/quota/q/a/zookeeper_stats", "count=0,bytes=0"),
    ] {
        call(
            &mut c,
            Request::Create(CreateRequest {
                path: path.into(),
                data: Some(Bytes::copy_from_slice(data.as_bytes())),
                acl: world(),
                flags: 0,
            }),
        );
    }
    let quotas = scrape(metrics);
    let sample = |name: &str| {
        let (kind, samples) = quotas.get(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(kind, "gauge", "{name}");
        let (_, labels, value) = samples
            .first()
            .unwrap_or_else(|| panic!("{name}: no sample"));
        assert_eq!(labels.get("key").map(String::as_str), Some("q"), "{name}");
        *value
    };
    assert_eq!(sample("quota_count_limit_per_namespace"), 10.0);
    assert_eq!(sample("quota_bytes_limit_per_namespace"), 100.0);
    assert_eq!(sample("quota_count_usage_per_namespace"), 2.0);
    assert_eq!(sample("quota_bytes_usage_per_namespace"), 5.0);
}

/// The workload under a per-client prefix, so several clients can run it.
fn workload_in(addr: SocketAddr, n: usize) -> RawClient {
    let (mut c, _) = RawClient::connect(addr, 10_000, None).expect("connect");
    for (path, flags) in [(format!("/e{n}"), 1), (format!("/n{n}"), 0)] {
        call(
            &mut c,
            Request::Create(CreateRequest {
                path,
                data: Some(Bytes::from_static(b"x")),
                acl: world(),
                flags,
            }),
        );
    }
    c
}

#[test]
fn commands_that_change_state_need_all_on_the_root() {
    let fk = Ferrokeeper::start(&[]);
    let admin = fk.admin_addr();
    // ZooKeeper 3.8 leaves them open; here they need credentials even with the
    // default world-writable root.
    let r = http::get(admin, "/commands/stat_reset", &[]);
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.json()["error"], "Auth info is missing for the command");
    let r = http::get(admin, "/commands/stat_reset", &[("Authorization", "ip")]);
    assert_eq!(r.status, 200, "world:anyone has ALL on / by default: {r:?}");
    let r = http::get(
        admin,
        "/commands/stat_reset",
        &[("Authorization", "kerberos x")],
    );
    assert_eq!(r.status, 401, "{r:?}");

    // Root locked to one digest user: others are refused before anything runs.
    let (mut c, _) = RawClient::connect(fk.addr(), 10_000, None).expect("connect");
    let digest = {
        use base64::Engine;
        use sha1::Digest;
        let hash = sha1::Sha1::digest(b"root:secret");
        format!(
            "root:{}",
            base64::engine::general_purpose::STANDARD.encode(hash)
        )
    };
    call(
        &mut c,
        Request::SetAcl(SetAclRequest {
            path: "/".into(),
            acl: vec![Acl {
                perms: perms::ALL,
                id: Id {
                    scheme: "digest".into(),
                    id: digest,
                },
            }],
            version: -1,
        }),
    );
    let mask_before = command(admin, "get_trace_mask")["tracemask"].clone();
    let r = http::get(
        admin,
        "/commands/set_trace_mask?traceMask=7",
        &[("Authorization", "ip")],
    );
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(r.json()["error"], "Not authorized");
    let r = http::get(
        admin,
        "/commands/set_trace_mask?traceMask=7",
        &[("Authorization", "digest root:wrong")],
    );
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(
        command(admin, "get_trace_mask")["tracemask"],
        mask_before,
        "refused before running"
    );
    let r = http::get(
        admin,
        "/commands/set_trace_mask?traceMask=7",
        &[("Authorization", "digest root:secret")],
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(command(admin, "get_trace_mask")["tracemask"], 7);
    // Reading commands stay open, as in ZooKeeper.
    assert_eq!(command(admin, "ruok")["error"], Value::Null);
}

#[test]
fn readiness_follows_the_quorum() {
    use ferrokeeper_tests::cluster::{ClusterOptions, FerrokeeperEnsemble};
    let mut cluster = FerrokeeperEnsemble::start(ClusterOptions::new(3));
    let admin = |m: usize, cluster: &FerrokeeperEnsemble| {
        cluster
            .log(m)
            .address_after(ferrokeeper_tests::ADMIN_LISTENING)
            .expect("admin address")
    };
    let ready = |m: usize, cluster: &FerrokeeperEnsemble| {
        http::get(admin(m, cluster), "/ready", &[]).status
    };
    for m in 0..3 {
        assert_eq!(ready(m, &cluster), 200, "member {m}");
        assert_eq!(http::get(admin(m, &cluster), "/live", &[]).status, 200);
    }
    // Leadership handed to a named follower over HTTP (ferrokeeper's own command):
    // refused without credentials, done with them.
    let leader = cluster.wait_leader(Duration::from_secs(30));
    let target = (leader + 1) % 3;
    let path = format!("/commands/transfer_leadership?to={}", target + 1);
    let r = http::get(admin(leader, &cluster), &path, &[]);
    assert_eq!(r.status, 401, "{r:?}");
    let r = http::get(admin(leader, &cluster), &path, &[("Authorization", "ip")]);
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json();
    assert_eq!(v["error"], Value::Null, "{v}");
    assert_eq!(v["leader_id"], (target + 1) as u64, "{v}");
    // Raft's leadership first; the member reports it once its role monitor sees it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while cluster.mode(target).as_deref() != Some("leader") {
        assert!(
            Instant::now() < deadline,
            "server.{} does not report leading",
            target + 1
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let lead = command(admin(target, &cluster), "leader");
    assert_eq!(
        (lead["is_leader"].as_bool(), lead["leader_id"].as_i64()),
        (Some(true), Some(target as i64 + 1)),
        "{lead}"
    );
    let r = http::get(
        admin(target, &cluster),
        "/commands/transfer_leadership?to=9",
        &[("Authorization", "ip")],
    );
    assert_eq!(
        r.json()["error"],
        "server 9 is not a member of this ensemble"
    );

    // Two members gone: the last one has no quorum and must not take traffic.
    let last = (target + 1) % 3;
    for m in (0..3).filter(|m| *m != last) {
        cluster.terminate(m);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while ready(last, &cluster) != 503 {
        assert!(Instant::now() < deadline, "still ready without a quorum");
        std::thread::sleep(Duration::from_millis(100));
    }
    let addr = admin(last, &cluster);
    assert_eq!(
        http::get(addr, "/live", &[]).status,
        200,
        "alive, just not ready"
    );
    let v = command(addr, "server_stats");
    assert_eq!(
        v["error"],
        "This ZooKeeper instance is not currently serving requests"
    );
}

#[test]
fn snapshot_streams_zookeepers_format_that_import_and_zookeeper_load() {
    use ferrokeeper_tests::znode_tree::{assert_same_tree, dump_tree, srvr_zxid};
    let src = Ferrokeeper::start(&[]);
    let admin = src.admin_addr();
    let _client = workload(src.addr());
    let tree = dump_tree(src.addr(), &[]);

    // ALL on / first, as every guarded command.
    let r = http::get(admin, "/commands/snapshot", &[]);
    assert_eq!(r.status, 401, "{r:?}");
    let snap = http::get(
        admin,
        "/commands/snapshot?streaming=true",
        &[("Authorization", "ip")],
    );
    assert_eq!(snap.status, 200, "{}", snap.body);
    let zxid = snap
        .header("last_zxid")
        .expect("last_zxid header")
        .to_owned();
    let size: usize = snap
        .header("snapshot_size")
        .and_then(|v| v.parse().ok())
        .expect("snapshot_size header");
    assert_eq!(snap.bytes.len(), size, "the whole snapshot is streamed");
    assert_eq!(zxid, format!("0x{:x}", srvr_zxid(src.addr())));
    // ZooKeeper's rate limit: one snapshot per interval (5 minutes by default).
    let again = http::get(admin, "/commands/snapshot", &[("Authorization", "ip")]);
    assert_eq!(again.status, 429, "{again:?}");
    // Restore is a POST (checked after the permission check).
    let r = http::get(admin, "/commands/restore", &[]);
    assert_eq!(r.status, 401, "{r:?}");
    let r = http::get(admin, "/commands/restore", &[("Authorization", "ip")]);
    assert_eq!(r.status, 405, "{r:?}");

    // The stream is a ZooKeeper snapshot file: `ferrokeeper import` restores it into a
    // fresh server, and a real ZooKeeper 3.8 loads it; both serve the source's tree.
    let zk_dir = tempfile::tempdir().expect("dir");
    let version2 = zk_dir.path().join("version-2");
    std::fs::create_dir_all(&version2).expect("version-2");
    let name = format!("snapshot.{}", zxid.trim_start_matches("0x"));
    std::fs::write(version2.join(&name), &snap.bytes).expect("write snapshot");

    let zk = RealZooKeeper::start(&[("dataDir", zk_dir.path().to_str().expect("utf-8"))], &[]);
    assert_same_tree(
        "ZooKeeper on the snapshot",
        &tree,
        &dump_tree(zk.addr(), &[]),
    );
    drop(zk);

    let fresh = tempfile::tempdir().expect("dir");
    let data = fresh.path().join("data");
    let cfg = fresh.path().join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!("dataDir={}\nclientPort=2181\n", data.display()),
    )
    .expect("zoo.cfg");
    let copy = tempfile::tempdir().expect("dir");
    std::fs::create_dir_all(copy.path().join("version-2")).expect("version-2");
    std::fs::write(copy.path().join("version-2").join(&name), &snap.bytes).expect("copy");
    let out = ferrokeeper_tests::process::run(
        ferrokeeper_tests::ferrokeeper_command()
            .arg("import")
            .arg("--zk-data-dir")
            .arg(copy.path())
            .arg("--config")
            .arg(&cfg),
        None,
        "ferrokeeper import",
        Duration::from_secs(120),
    );
    assert!(out.status.success(), "import failed: {}", out.stderr);
    let restored = Ferrokeeper::start_in(&data, &[]);
    assert_same_tree(
        "ferrokeeper restored from the snapshot",
        &tree,
        &dump_tree(restored.addr(), &[]),
    );
}

/// 3.9's restore, through the Raft log: a snapshot streamed from one server, POSTed to
/// any member of an ensemble holding other data, becomes every member's state (the
/// zxid moves on, the members' clients are disconnected), as permission checks, the
/// rate limit and `admin.restore.enabled` allow.
#[test]
fn restore_replaces_every_members_state_through_the_log() {
    use ferrokeeper_tests::cluster::{ClusterOptions, FerrokeeperEnsemble};
    use ferrokeeper_tests::ensemble::Ensemble;
    use ferrokeeper_tests::znode_tree::{assert_same_tree, dump_tree, srvr_zxid};

    // The ensemble keeps its own membership in /zookeeper/config (a standalone source
    // has none): the rest of the tree is compared.
    let without_config = |mut tree: ferrokeeper_tests::znode_tree::Tree| {
        tree.remove("/zookeeper/config");
        tree
    };
    let src = Ferrokeeper::start(&[]);
    let _source_client = workload(src.addr());
    let tree = without_config(dump_tree(src.addr(), &[]));
    let snap = http::get(
        src.admin_addr(),
        "/commands/snapshot?streaming=true",
        &[("Authorization", "ip")],
    );
    assert_eq!(snap.status, 200, "{}", snap.body);

    let cluster = FerrokeeperEnsemble::start(ClusterOptions::new(3));
    cluster.wait_all_serving(Duration::from_secs(30));
    let leader = cluster.wait_leader(Duration::from_secs(30));
    let follower = (leader + 1) % 3;
    let admin = cluster
        .log(follower)
        .address_after(ferrokeeper_tests::ADMIN_LISTENING)
        .expect("admin address");
    let mut before = RawClient::connect(cluster.client_addr(leader), 30_000, None)
        .expect("connect")
        .0;
    call(
        &mut before,
        Request::Create(CreateRequest {
            path: "/replaced".into(),
            data: None,
            acl: world(),
            flags: 0,
        }),
    );
    let zxid_before = srvr_zxid(cluster.client_addr(leader));

    let r = http::post(admin, "/commands/restore", &[], &snap.bytes);
    assert_eq!(r.status, 401, "{r:?}");
    // Not a snapshot (on the source, whose one restore per interval is not used yet).
    let r = http::post(
        src.admin_addr(),
        "/commands/restore",
        &[("Authorization", "ip")],
        b"not a snapshot",
    );
    assert_eq!(r.status, 400, "{r:?}");
    let r = http::post(
        admin,
        "/commands/restore",
        &[("Authorization", "ip")],
        &snap.bytes,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let answer = r.json();
    assert_eq!(
        (answer["command"].as_str(), &answer["error"]),
        (Some("restore"), &Value::Null)
    );
    let restored_at = answer["last_zxid"].as_i64().expect("last_zxid");
    assert!(
        restored_at > zxid_before,
        "{restored_at} after {zxid_before}"
    );
    assert!(
        before.closed_by_server(Duration::from_secs(20)),
        "clients are disconnected"
    );
    for m in 0..3 {
        let deadline = Instant::now() + Duration::from_secs(30);
        while srvr_zxid(cluster.client_addr(m)) < restored_at {
            assert!(
                Instant::now() < deadline,
                "server.{} did not apply the restore",
                m + 1
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_same_tree(
            &format!("server.{} after the restore", m + 1),
            &tree,
            &without_config(dump_tree(cluster.client_addr(m), &[])),
        );
    }
    let again = http::post(
        admin,
        "/commands/restore",
        &[("Authorization", "ip")],
        &snap.bytes,
    );
    assert_eq!(again.status, 429, "{again:?}");

    let off = Ferrokeeper::start(&["-Dzookeeper.admin.restore.enabled=false"]);
    let r = http::post(
        off.admin_addr(),
        "/commands/restore",
        &[("Authorization", "ip")],
        &snap.bytes,
    );
    assert_eq!(r.status, 503, "{r:?}");
}

/// The commands whose answers depend on a member's part in an ensemble, compared on a
/// leader and a follower of a 3-server ZooKeeper 3.8 ensemble and of a ferrokeeper one.
#[test]
fn ensemble_commands_answer_with_zookeepers_keys_and_types() {
    use ferrokeeper_tests::cluster::{ClusterOptions, FerrokeeperEnsemble};
    use ferrokeeper_tests::ensemble::Ensemble;
    use ferrokeeper_tests::zk_ensemble::RealZooKeeperEnsemble;

    let zk = RealZooKeeperEnsemble::start(3, 500, &[("admin.enableServer", "true")]);
    let fk = FerrokeeperEnsemble::start(ClusterOptions::new(3));
    let zk_leader = zk.leader().expect("a ZooKeeper leader");
    let fk_leader = fk.wait_leader(Duration::from_secs(30));
    let zk_admin = |m: usize| zk.admin_addr(m).expect("admin address");
    let fk_admin = |m: usize| {
        fk.log(m)
            .address_after(ferrokeeper_tests::ADMIN_LISTENING)
            .expect("admin address")
    };
    for m in 0..3 {
        wait_for_http(zk_admin(m));
    }
    let _zk_client = workload(zk.client_addr(zk_leader));
    let _fk_client = workload(fk.client_addr(fk_leader));

    let mut report = Vec::new();
    for (role, z, f) in [
        ("leader", zk_leader, fk_leader),
        ("follower", (zk_leader + 1) % 3, (fk_leader + 1) % 3),
    ] {
        for name in [
            "leader",
            "voting_view",
            "zabstate",
            "observers",
            "server_stats",
            "stats",
            "configuration",
            "dump",
            "watch_summary",
            "is_read_only",
            "last_snapshot",
            "connections",
        ] {
            let zv = command(zk_admin(z), name);
            let fv = command(fk_admin(f), name);
            let mut diffs = Vec::new();
            differences(&format!("{role} {name}"), &zv, &fv, &mut diffs);
            if !diffs.is_empty() {
                report.push(diffs.join("\n  "));
            }
        }
        // monitor: ZooKeeper's names on this role are served or accounted for; ours
        // beyond them are only 3.9's quorum_size.
        let zv = command(zk_admin(z), "monitor");
        let fv = command(fk_admin(f), "monitor");
        let (zv, fv) = (zv.as_object().expect("map"), fv.as_object().expect("map"));
        let zookeeper_only: BTreeSet<&str> = ferrokeeper_server::metrics::ZOOKEEPER_ONLY
            .iter()
            .flat_map(|(_, names)| names.iter().copied())
            .collect();
        for (key, value) in zv {
            match fv.get(key) {
                Some(ours) if kind(ours) != kind(value) => report.push(format!(
                    "{role} monitor.{key}: ZooKeeper {value}, ferrokeeper {ours}"
                )),
                Some(_) => {}
                None if metric_names(key)
                    .iter()
                    .any(|n| zookeeper_only.contains(n.as_str())) => {}
                None => report.push(format!("{role} monitor.{key}: missing in ferrokeeper")),
            }
        }
        for key in fv.keys().filter(|k| !zv.contains_key(*k)) {
            if key != "quorum_size" {
                report.push(format!("{role} monitor.{key}: only in ferrokeeper"));
            }
        }
        // Figures that say who leads agree with the role.
        let lead = command(fk_admin(f), "leader");
        assert_eq!(lead["is_leader"], role == "leader", "{lead}");
        assert_eq!(lead["leader_id"], fk_leader as i64 + 1, "{lead}");
        let zab = command(fk_admin(f), "zabstate");
        assert_eq!(
            (zab["voting"].as_bool(), zab["zabstate"].as_str()),
            (Some(true), Some("broadcast")),
            "{zab}"
        );
    }
    assert!(
        report.is_empty(),
        "differences from a ZooKeeper 3.8 ensemble:\n  {}",
        report.join("\n  ")
    );
}

#[test]
fn admin_idle_timeout_closes_quiet_connections() {
    use std::io::Read;
    let fk = Ferrokeeper::start(&["-Dzookeeper.admin.idleTimeout=300"]);
    let mut quiet = std::net::TcpStream::connect(fk.admin_addr()).expect("connect");
    // Bounded wait: the server must close it long before this read gives up.
    quiet
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut buf = [0u8; 16];
    let n = quiet
        .read(&mut buf)
        .expect("the server closes, not the read timeout");
    assert_eq!(n, 0, "closed without an answer");
}

#[test]
fn http_connections_are_bounded() {
    use std::io::Read;
    let fk = Ferrokeeper::start(&[]);
    let admin = fk.admin_addr();
    // Idle connections hold their slots (the idle timeout is 30 s by default).
    let held: Vec<std::net::TcpStream> = (0..64)
        .map(|_| std::net::TcpStream::connect(admin).expect("connect"))
        .collect();
    // The server takes them in order: once one more is closed at once, all 64 are held.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut extra = std::net::TcpStream::connect(admin).expect("connect");
        extra
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut buf = [0u8; 16];
        if extra.read(&mut buf).is_ok_and(|n| n == 0) {
            break;
        }
        assert!(Instant::now() < deadline, "a 65th connection was kept open");
    }
    // Freed slots serve again.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(20);
    while http::try_get(admin, "/commands/ruok", &[]).is_err() {
        assert!(Instant::now() < deadline, "no slot came free");
        std::thread::sleep(Duration::from_millis(50));
    }
}
