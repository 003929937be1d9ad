//! Moving between Apache ZooKeeper 3.8 and ferrokeeper: `ferrokeeper import` (ZooKeeper's
//! `version-2` snapshots and txn logs → ferrokeeper's own data), `ferrokeeper export`
//! (ferrokeeper's data → one ZooKeeper snapshot), and the start-up check that refuses to
//! serve an empty tree over a ZooKeeper data dir that was never imported.
//!
//! The ZooKeeper side is always a real ZooKeeper 3.8 ([`RealZooKeeper`]): it writes the
//! data an import reads (killed with SIGKILL, so live sessions and a possibly unfinished
//! log stay as a crash leaves them) and it starts from the snapshot an export writes.
//! Trees are compared znode by znode with [`dump_tree`]: data (null stays null), every
//! Stat field and the ACL.
//!
//! The scenario ([`write_everything`]) makes every kind of znode and txn: persistent,
//! ephemeral and sequential nodes of live sessions, containers, TTL nodes, null and empty
//! data, digest/ip/world ACLs (several distinct lists, `auth` expanded, setACL), committed
//! and failed multis, failed single writes (error txns), deletes, children of deleted
//! nodes recreated, a closed session whose ephemerals went, and enough txns that
//! ZooKeeper (snapCount 50) rolls several logs and takes several snapshots.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use ferrokeeper_protocol::{
    Acl, CheckVersionRequest, CreateMode, CreateRequest, CreateTtlRequest, DeleteRequest,
    ExistsRequest, Id, MultiOp, MultiRequest, MultiResult, ReplyFrame, Request, Response,
    SetAclRequest, SetDataRequest, Stat, perms,
};
use ferrokeeper_tests::process::{self, Finished};
use ferrokeeper_tests::raw::RawClient;
use ferrokeeper_tests::zk_files::{self, TxnRecord};
use ferrokeeper_tests::znode_tree::{
    Tree, add_digest, assert_same_tree, dump_tree, max_zxid, srvr_zxid,
};
use ferrokeeper_tests::zookeeper::RealZooKeeper;
use ferrokeeper_tests::{Ferrokeeper, ferrokeeper_command};
use sha1::Digest as _;

/// The bound on one run of `ferrokeeper import` / `export`.
const TOOL_LIMIT: Duration = Duration::from_secs(60);
/// The bound on `ferrokeeper` refusing to start (a server that starts instead would run
/// into it and fail the test; no speed is asserted).
const REFUSAL_LIMIT: Duration = Duration::from_secs(30);
/// The session that stays open through the kill (longer than any test).
const LONG_TIMEOUT_MS: i32 = 60_000;
/// The session that is left to expire after the import.
const SHORT_TIMEOUT_MS: i32 = 8_000;
/// TTL nodes' TTL: far beyond a test, so no server reaps them meanwhile.
const TTL_MS: i64 = 3_600_000;
const ALICE: &str = "alice:secret";
const BOB: &str = "bob:hunter2";
/// The identities the dump adds, so it can read every node the scenario makes.
const DIGESTS: &[&str] = &[ALICE, BOB];
/// What the start-up check must tell the operator to run.
const IMPORT_HINT: &str = "ferrokeeper import --zk-data-dir";

const NO_NODE: i32 = -101;
const NO_AUTH: i32 = -102;
const BAD_VERSION: i32 = -103;
const NODE_EXISTS: i32 = -110;
const NOT_EMPTY: i32 = -111;

// ---------------------------------------------------------------------------------------
// Raw-protocol writes

fn call(client: &mut RawClient, request: Request) -> ReplyFrame {
    let what = format!("{request:?}");
    let mut frames = client
        .call(request)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    frames.pop().unwrap_or_else(|| panic!("{what}: no reply"))
}

/// Sends `request`, asserts it succeeded and returns the reply.
fn ok(client: &mut RawClient, request: Request) -> ReplyFrame {
    let what = format!("{request:?}");
    let reply = call(client, request);
    assert_eq!(reply.header.err, 0, "{what} failed: {:?}", reply.header);
    reply
}

/// Sends `request` and asserts it failed with `code`.
fn fails(client: &mut RawClient, request: Request, code: i32) {
    let what = format!("{request:?}");
    let reply = call(client, request);
    assert_eq!(reply.header.err, code, "{what}: unexpected result");
}

fn create_request(path: &str, data: Option<&[u8]>, acl: &[Acl], mode: CreateMode) -> CreateRequest {
    CreateRequest {
        path: path.to_owned(),
        data: data.map(Bytes::copy_from_slice),
        acl: acl.to_vec(),
        flags: mode.code(),
    }
}

/// Creates a node (createContainer for [`CreateMode::Container`]); returns its path.
fn create(
    client: &mut RawClient,
    path: &str,
    data: Option<&[u8]>,
    acl: &[Acl],
    mode: CreateMode,
) -> String {
    let request = create_request(path, data, acl, mode);
    let request = if mode == CreateMode::Container {
        Request::CreateContainer(request)
    } else {
        Request::Create(request)
    };
    match ok(client, request).response {
        Response::Create(r) => r.path,
        Response::Create2(r) => r.path,
        other => panic!("create {path}: unexpected reply {other:?}"),
    }
}

fn create_ttl(client: &mut RawClient, path: &str, data: &[u8], mode: CreateMode) -> String {
    let request = Request::CreateTtl(CreateTtlRequest {
        path: path.to_owned(),
        data: Some(Bytes::copy_from_slice(data)),
        acl: perms::open_acl_unsafe(),
        flags: mode.code(),
        ttl: TTL_MS,
    });
    match ok(client, request).response {
        Response::Create2(r) => r.path,
        other => panic!("createTTL {path}: unexpected reply {other:?}"),
    }
}

fn set_data(client: &mut RawClient, path: &str, data: Option<&[u8]>, version: i32) {
    ok(
        client,
        Request::SetData(SetDataRequest {
            path: path.to_owned(),
            data: data.map(Bytes::copy_from_slice),
            version,
        }),
    );
}

fn set_acl(client: &mut RawClient, path: &str, acl: Vec<Acl>, version: i32) {
    ok(
        client,
        Request::SetAcl(SetAclRequest {
            path: path.to_owned(),
            acl,
            version,
        }),
    );
}

fn delete(client: &mut RawClient, path: &str) {
    ok(
        client,
        Request::Delete(DeleteRequest {
            path: path.to_owned(),
            version: -1,
        }),
    );
}

/// The node's Stat, or `None` if it does not exist.
fn exists(client: &mut RawClient, path: &str) -> Option<Stat> {
    let reply = call(
        client,
        Request::Exists(ExistsRequest {
            path: path.to_owned(),
            watch: false,
        }),
    );
    match (reply.header.err, reply.response) {
        (0, Response::Stat(stat)) => Some(stat),
        (NO_NODE, _) => None,
        (err, response) => panic!("exists {path}: error {err}, {response:?}"),
    }
}

fn connect(addr: SocketAddr, timeout_ms: i32) -> RawClient {
    RawClient::connect(addr, timeout_ms, None)
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"))
        .0
}

/// `digest:user:base64(sha1(user:password))`, the id ZooKeeper stores for a digest user.
fn digest_id(user_password: &str) -> Id {
    let user = user_password.split(':').next().unwrap_or_default();
    let hash = base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(user_password));
    Id {
        scheme: "digest".into(),
        id: format!("{user}:{hash}"),
    }
}

fn grant(perms: i32, id: Id) -> Acl {
    Acl { perms, id }
}

fn ip(address: &str) -> Id {
    Id {
        scheme: "ip".into(),
        id: address.into(),
    }
}

fn anyone() -> Id {
    Id {
        scheme: "world".into(),
        id: "anyone".into(),
    }
}

/// What a client needs to resume a session elsewhere.
#[derive(Debug, Clone)]
struct SessionKeys {
    id: i64,
    passwd: Bytes,
    last_zxid: i64,
}

fn keys(client: &RawClient) -> SessionKeys {
    SessionKeys {
        id: client.session_id,
        passwd: client.passwd.clone(),
        last_zxid: client.last_zxid,
    }
}

/// What [`write_everything`] left behind.
struct Written {
    /// Open (not closed) when the scenario ends; its ephemerals are `long_ephemerals`.
    long: SessionKeys,
    long_ephemerals: Vec<String>,
    /// Open with an 8 s timeout; its ephemerals are `short_ephemerals`.
    short: SessionKeys,
    short_ephemerals: Vec<String>,
    /// The closed session's ephemerals (gone).
    gone: Vec<String>,
    /// The connections of the open sessions, kept so neither is closed or left to
    /// expire before the server is stopped.
    _open: Vec<RawClient>,
}

/// Writes the whole scenario (see the module doc) through `addr`.
fn write_everything(addr: SocketAddr) -> Written {
    let open = perms::open_acl_unsafe();
    let mut main = connect(addr, LONG_TIMEOUT_MS);
    add_digest(&mut main, ALICE);
    let c = &mut main;
    let mut long_ephemerals = Vec::new();

    // Data: sized, empty, null (created null; set to null), versions above zero.
    create(c, "/app", Some(b"app"), &open, CreateMode::Persistent);
    create(c, "/app/config", Some(b"v1"), &open, CreateMode::Persistent);
    set_data(c, "/app/config", Some(b"v2"), 0);
    set_data(c, "/app/config", Some(b"v3"), -1);
    create(c, "/app/nulldata", None, &open, CreateMode::Persistent);
    create(c, "/app/empty", Some(b""), &open, CreateMode::Persistent);
    create(
        c,
        "/app/was-null",
        Some(b"x"),
        &open,
        CreateMode::Persistent,
    );
    set_data(c, "/app/was-null", None, 0);
    // Sequential children, some deleted (the parent's cversion keeps counting).
    create(c, "/app/seq", None, &open, CreateMode::Persistent);
    let jobs: Vec<String> = (0..5)
        .map(|i| {
            let data = format!("job {i}");
            create(
                c,
                "/app/seq/job-",
                Some(data.as_bytes()),
                &open,
                CreateMode::PersistentSequential,
            )
        })
        .collect();
    delete(c, &jobs[1]);
    delete(c, &jobs[3]);
    // Ephemerals and ephemeral sequentials of this (surviving) session.
    create(c, "/app/locks", Some(b""), &open, CreateMode::Persistent);
    for _ in 0..3 {
        long_ephemerals.push(create(
            c,
            "/app/locks/lock-",
            Some(b"held"),
            &open,
            CreateMode::EphemeralSequential,
        ));
    }
    long_ephemerals.push(create(
        c,
        "/app/eph",
        Some(b"mine"),
        &open,
        CreateMode::Ephemeral,
    ));
    // TTL nodes and containers. Which kind a node is shows in no Stat (ZooKeeper reports
    // ephemeralOwner 0 for both), only in reaping: see [`check_kinds`]. None is due for
    // reaping while the trees are compared: the TTLs of childless TTL nodes are an hour,
    // the 1 ms TTL node has a child from the start (one multi), the used container has
    // its item, the unused one never had a child.
    create_ttl(c, "/app/ttl", b"ttl", CreateMode::PersistentWithTtl);
    create_ttl(
        c,
        "/app/ttl-seq-",
        b"ttl seq",
        CreateMode::PersistentSequentialWithTtl,
    );
    ok(
        c,
        Request::Multi(MultiRequest {
            ops: vec![
                MultiOp::CreateTtl(CreateTtlRequest {
                    path: "/app/ttl-parent".into(),
                    data: Some(Bytes::new()),
                    acl: open.clone(),
                    flags: CreateMode::PersistentWithTtl.code(),
                    ttl: 1,
                }),
                MultiOp::Create(create_request(
                    "/app/ttl-parent/kid",
                    Some(b"k"),
                    &open,
                    CreateMode::Persistent,
                )),
            ],
        }),
    );
    create(
        c,
        "/app/container",
        Some(b"c"),
        &open,
        CreateMode::Container,
    );
    create(
        c,
        "/app/container/item",
        Some(b"i"),
        &open,
        CreateMode::Persistent,
    );
    create(
        c,
        "/app/container-unused",
        None,
        &open,
        CreateMode::Container,
    );

    // ACLs: several distinct lists, `auth` expanded to the creator's digest, setACL.
    let alice = digest_id(ALICE);
    let bob = digest_id(BOB);
    create(c, "/acl", None, &open, CreateMode::Persistent);
    create(
        c,
        "/acl/world-read",
        Some(b"r"),
        &perms::read_acl_unsafe(),
        CreateMode::Persistent,
    );
    create(
        c,
        "/acl/ip",
        Some(b"ip"),
        &[grant(perms::ALL, ip("127.0.0.1"))],
        CreateMode::Persistent,
    );
    create(
        c,
        "/acl/creator",
        Some(b"alice's"),
        &perms::creator_all_acl(),
        CreateMode::Persistent,
    );
    create(
        c,
        "/acl/alice-world",
        Some(b"aw"),
        &[
            grant(perms::ALL, alice.clone()),
            grant(perms::READ, anyone()),
        ],
        CreateMode::Persistent,
    );
    create(
        c,
        "/acl/mixed",
        Some(b"m"),
        &[
            grant(perms::READ | perms::WRITE, bob.clone()),
            grant(perms::READ | perms::ADMIN, ip("127.0.0.0/8")),
            grant(perms::READ, anyone()),
        ],
        CreateMode::Persistent,
    );
    create(
        c,
        "/acl/changed",
        Some(b"ch"),
        &open,
        CreateMode::Persistent,
    );
    set_acl(
        c,
        "/acl/changed",
        vec![
            grant(perms::ALL, alice.clone()),
            grant(perms::READ, anyone()),
        ],
        0,
    );
    set_acl(
        c,
        "/acl/changed",
        vec![
            grant(perms::ALL, alice.clone()),
            grant(perms::READ | perms::CREATE, ip("127.0.0.1")),
        ],
        1,
    );
    // Failed single writes: each is an error txn in ZooKeeper's log.
    fails(
        c,
        Request::SetData(SetDataRequest {
            path: "/acl/world-read".into(),
            data: Some(Bytes::from_static(b"no")),
            version: -1,
        }),
        NO_AUTH,
    );
    fails(
        c,
        Request::Create(create_request("/app", None, &open, CreateMode::Persistent)),
        NODE_EXISTS,
    );
    fails(
        c,
        Request::SetData(SetDataRequest {
            path: "/app/config".into(),
            data: None,
            version: 0,
        }),
        BAD_VERSION,
    );
    fails(
        c,
        Request::Delete(DeleteRequest {
            path: "/app".into(),
            version: -1,
        }),
        NOT_EMPTY,
    );
    fails(
        c,
        Request::Delete(DeleteRequest {
            path: "/nope".into(),
            version: -1,
        }),
        NO_NODE,
    );

    // Multi: one committed (creates incl. an ephemeral and a TTL node, setData, delete,
    // check), one failed (nothing of it applies).
    create(c, "/multi", None, &open, CreateMode::Persistent);
    let committed = ok(
        c,
        Request::Multi(MultiRequest {
            ops: vec![
                MultiOp::Create(create_request(
                    "/multi/a",
                    Some(b"a"),
                    &open,
                    CreateMode::Persistent,
                )),
                MultiOp::Create(create_request(
                    "/multi/b",
                    Some(b"b"),
                    &open,
                    CreateMode::Persistent,
                )),
                MultiOp::SetData(SetDataRequest {
                    path: "/multi/a".into(),
                    data: Some(Bytes::from_static(b"a2")),
                    version: -1,
                }),
                MultiOp::Delete(DeleteRequest {
                    path: "/multi/b".into(),
                    version: -1,
                }),
                MultiOp::Create(create_request(
                    "/multi/c",
                    None,
                    &open,
                    CreateMode::Persistent,
                )),
                MultiOp::Create(create_request(
                    "/multi/eph",
                    Some(b"e"),
                    &open,
                    CreateMode::Ephemeral,
                )),
                MultiOp::CreateTtl(CreateTtlRequest {
                    path: "/multi/ttl".into(),
                    data: Some(Bytes::from_static(b"t")),
                    acl: open.clone(),
                    flags: CreateMode::PersistentWithTtl.code(),
                    ttl: TTL_MS,
                }),
                MultiOp::Check(CheckVersionRequest {
                    path: "/multi/a".into(),
                    version: 1,
                }),
            ],
        }),
    );
    let Response::Multi(results) = committed.response else {
        panic!("multi: unexpected reply {committed:?}");
    };
    assert!(
        !results
            .results
            .iter()
            .any(|r| matches!(r, MultiResult::Error(_))),
        "the multi should have committed: {results:?}"
    );
    long_ephemerals.push("/multi/eph".into());
    let failed = call(
        c,
        Request::Multi(MultiRequest {
            ops: vec![
                MultiOp::Create(create_request(
                    "/multi/x",
                    Some(b"x"),
                    &open,
                    CreateMode::Persistent,
                )),
                MultiOp::SetData(SetDataRequest {
                    path: "/multi/a".into(),
                    data: Some(Bytes::from_static(b"never")),
                    version: -1,
                }),
                MultiOp::Check(CheckVersionRequest {
                    path: "/multi/a".into(),
                    version: 99,
                }),
            ],
        }),
    );
    let Response::Multi(results) = failed.response else {
        panic!("failed multi: unexpected reply {failed:?}");
    };
    assert!(
        results
            .results
            .iter()
            .any(|r| matches!(r, MultiResult::Error(BAD_VERSION))),
        "the second multi should have failed on its check: {results:?}"
    );

    // Children of deleted nodes recreated.
    create(c, "/reborn", Some(b"1"), &open, CreateMode::Persistent);
    create(c, "/reborn/kid", Some(b"1"), &open, CreateMode::Persistent);
    create(
        c,
        "/reborn/kid/grandkid",
        Some(b"1"),
        &open,
        CreateMode::Persistent,
    );
    delete(c, "/reborn/kid/grandkid");
    delete(c, "/reborn/kid");
    delete(c, "/reborn");
    create(c, "/reborn", Some(b"2"), &open, CreateMode::Persistent);
    create(c, "/reborn/kid", Some(b"2"), &open, CreateMode::Persistent);
    create(
        c,
        "/reborn/kid/grandkid",
        None,
        &open,
        CreateMode::Persistent,
    );
    delete(c, "/reborn/kid/grandkid");
    create(
        c,
        "/reborn/kid/grandkid",
        Some(b"3"),
        &open,
        CreateMode::Persistent,
    );

    // A session that closes: its ephemerals go; its persistent node (bob's ACL) stays.
    let mut bob_session = connect(addr, LONG_TIMEOUT_MS);
    add_digest(&mut bob_session, BOB);
    create(
        &mut bob_session,
        "/acl/bob",
        Some(b"bob's"),
        &[grant(perms::ALL, bob)],
        CreateMode::Persistent,
    );
    let gone = vec![
        create(
            &mut bob_session,
            "/bob-eph",
            Some(b"b"),
            &open,
            CreateMode::Ephemeral,
        ),
        create(
            &mut bob_session,
            "/bob-eph-seq-",
            None,
            &open,
            CreateMode::EphemeralSequential,
        ),
    ];
    ok(&mut bob_session, Request::CloseSession);

    // Bulk: enough txns for several log rolls and snapshots at snapCount 50.
    create(c, "/bulk", Some(b"bulk"), &open, CreateMode::Persistent);
    for i in 0..120u8 {
        let data = vec![i; usize::from(i % 40)];
        let data = (i % 7 != 0).then_some(&data[..]);
        create(
            c,
            &format!("/bulk/n{i}"),
            data,
            &open,
            CreateMode::Persistent,
        );
    }
    for i in (0..120).step_by(3) {
        let data = format!("set {i}");
        set_data(c, &format!("/bulk/n{i}"), Some(data.as_bytes()), -1);
    }
    for i in (0..120).step_by(5) {
        delete(c, &format!("/bulk/n{i}"));
    }
    for i in (0..120).step_by(10) {
        create(
            c,
            &format!("/bulk/n{i}"),
            Some(b"again"),
            &open,
            CreateMode::Persistent,
        );
    }

    // Last, so it is well inside its timeout when the server stops.
    let mut short = connect(addr, SHORT_TIMEOUT_MS);
    assert_eq!(short.timeout, SHORT_TIMEOUT_MS, "negotiated timeout");
    let short_ephemerals = vec![create(
        &mut short,
        "/short-eph",
        Some(b"short"),
        &open,
        CreateMode::Ephemeral,
    )];

    Written {
        long: keys(&main),
        long_ephemerals,
        short: keys(&short),
        short_ephemerals,
        gone,
        _open: vec![main, short],
    }
}

/// Checks that the dump shows what the scenario made (so a comparison that follows
/// compares the cases it is meant to).
fn check_scenario(tree: &Tree, written: &Written) {
    let node = |path: &str| {
        tree.get(path)
            .unwrap_or_else(|| panic!("{path} missing from the dump"))
    };
    assert_eq!(node("/app/nulldata").data, None, "null data");
    assert_eq!(node("/app/was-null").data, None, "data set to null");
    assert_eq!(node("/app/empty").data, Some(Bytes::new()), "empty data");
    assert_eq!(node("/app/config").stat.version, 2);
    assert_eq!(node("/acl/changed").stat.aversion, 2);
    assert_eq!(
        node("/acl/creator").acl,
        vec![grant(perms::ALL, digest_id(ALICE))],
        "`auth` expanded to the creator's digest"
    );
    for path in &written.long_ephemerals {
        assert_eq!(node(path).stat.ephemeral_owner, written.long.id, "{path}");
    }
    for path in &written.short_ephemerals {
        assert_eq!(node(path).stat.ephemeral_owner, written.short.id, "{path}");
    }
    for path in written
        .gone
        .iter()
        .map(String::as_str)
        .chain(["/multi/x", "/multi/b"])
    {
        assert!(!tree.contains_key(path), "{path} should not exist");
    }
    assert_eq!(node("/multi/a").data.as_deref(), Some(&b"a2"[..]));
    assert_eq!(node("/bulk").stat.num_children, 120 - 24 + 12);
}

// ---------------------------------------------------------------------------------------
// Running ferrokeeper

/// A ferrokeeper zoo.cfg (same syntax as ZooKeeper's) in `dir`, for `data_dir` (and
/// `data_log_dir`): TTL nodes enabled, sessions up to 60 s, a loopback client port.
///
/// ZooKeeper's syntax has no "any port" (`clientPort=0` reads as unset), so the port is
/// one the kernel just handed out. Nothing binds it when things go as expected: import,
/// export and a refused start do not listen, and [`start_ferrokeeper`] overrides it with
/// `--client-port 0`.
fn write_cfg(dir: &Path, data_dir: &Path, data_log_dir: Option<&Path>) -> PathBuf {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut text = format!(
        "tickTime=2000\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
         maxSessionTimeout=60000\nextendedTypesEnabled=true\n4lw.commands.whitelist=*\n\
         dataDir={}\n",
        data_dir.display()
    );
    if let Some(log_dir) = data_log_dir {
        text.push_str(&format!("dataLogDir={}\n", log_dir.display()));
    }
    let path = dir.join("zoo.cfg");
    std::fs::write(&path, text).expect("write zoo.cfg");
    path
}

fn as_str(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// Runs the `ferrokeeper` binary with `args` to completion (bounded).
fn run_ferrokeeper(args: &[&OsStr], limit: Duration) -> Finished {
    let mut command = ferrokeeper_command();
    command.args(args);
    let what = format!("ferrokeeper {args:?}");
    process::run(&mut command, None, &what, limit)
}

fn import(zk_dir: &Path, zk_log_dir: Option<&Path>, cfg: &Path, extra: &[&str]) -> Finished {
    let mut args = vec![
        OsStr::new("import"),
        OsStr::new("--zk-data-dir"),
        zk_dir.as_os_str(),
    ];
    if let Some(log_dir) = zk_log_dir {
        args.extend([OsStr::new("--zk-data-log-dir"), log_dir.as_os_str()]);
    }
    args.extend([OsStr::new("--config"), cfg.as_os_str()]);
    args.extend(extra.iter().map(OsStr::new));
    run_ferrokeeper(&args, TOOL_LIMIT)
}

fn export(zk_dir: &Path, cfg: &Path) -> Finished {
    run_ferrokeeper(
        &[
            OsStr::new("export"),
            OsStr::new("--zk-data-dir"),
            zk_dir.as_os_str(),
            OsStr::new("--config"),
            cfg.as_os_str(),
        ],
        TOOL_LIMIT,
    )
}

/// Starts ferrokeeper on `cfg` (its dataDir, dataLogDir and settings; port 0).
fn start_ferrokeeper(data_dir: &Path, cfg: &Path) -> Ferrokeeper {
    Ferrokeeper::start_in(data_dir, &["--config", as_str(cfg)])
}

/// The container/TTL check interval for servers whose node kinds [`check_kinds`] tests
/// (ZooKeeper's default is a minute).
const REAP_INTERVAL_MS: &str = "100";

/// As [`start_ferrokeeper`], reaping containers and TTL nodes every 100 ms.
fn start_ferrokeeper_reaping(data_dir: &Path, cfg: &Path) -> Ferrokeeper {
    let interval = format!("-Dznode.container.checkIntervalMs={REAP_INTERVAL_MS}");
    Ferrokeeper::start_in(data_dir, &["--config", as_str(cfg), &interval])
}

/// Every file ferrokeeper keeps for `dir` as dataDir or dataLogDir.
fn ferrokeeper_files(dir: &Path) -> Vec<PathBuf> {
    zk_files::files_below(&dir.join("ferrokeeper"))
}

/// Files, sizes and modification times under `dir`: to show something was left alone.
fn fingerprint(dir: &Path) -> Vec<(PathBuf, u64, Option<std::time::SystemTime>)> {
    let mut out: Vec<_> = zk_files::files_below(dir)
        .into_iter()
        .map(|path| {
            let meta = std::fs::metadata(&path).ok();
            let len = meta.as_ref().map_or(0, |m| m.len());
            let modified = meta.and_then(|m| m.modified().ok());
            (path, len, modified)
        })
        .collect();
    out.sort();
    out
}

fn assert_failed(out: &Finished, what: &str) {
    assert!(
        !out.status.success(),
        "{what}: expected a non-zero exit\n{}",
        out.dump()
    );
    assert!(
        !out.stderr.trim().is_empty(),
        "{what}: failed without saying why\n{}",
        out.dump()
    );
}

/// `ferrokeeper <cfg>` (positional) or `ferrokeeper --config <cfg>` must refuse, quickly,
/// naming one of `zk_files` and telling the operator to import.
fn assert_start_refused(cfg: &Path, positional: bool, zk_files: &[PathBuf], what: &str) {
    let args: Vec<&OsStr> = if positional {
        vec![cfg.as_os_str()]
    } else {
        vec![OsStr::new("--config"), cfg.as_os_str()]
    };
    let out = run_ferrokeeper(&args, REFUSAL_LIMIT);
    assert_failed(&out, what);
    let names: Vec<String> = zk_files.iter().map(|p| zk_files::file_name(p)).collect();
    assert!(
        names.iter().any(|name| out.stderr.contains(name.as_str())),
        "{what}: the message names none of the ZooKeeper files {names:?}\n{}",
        out.dump()
    );
    assert!(
        out.stderr.contains(IMPORT_HINT),
        "{what}: the message lacks `{IMPORT_HINT}`\n{}",
        out.dump()
    );
}

/// The numbers N of every "offset N" in `text`.
fn offsets_named(text: &str) -> Vec<usize> {
    text.match_indices("offset ")
        .filter_map(|(at, word)| {
            let digits: String = text[at + word.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Sessions after the move

/// Polls until none of `paths` exists (a session expired), within `deadline`.
fn wait_gone(addr: SocketAddr, paths: &[String], deadline: Instant, what: &str) {
    let mut checker = connect(addr, 30_000);
    loop {
        let left: Vec<&String> = paths
            .iter()
            .filter(|p| exists(&mut checker, p).is_some())
            .collect();
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {left:?} still exist (the session did not expire)"
        );
        // Polling for an expiry the server decides on its own clock.
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Resumes `session` at `addr` with its id and password: same session, its ephemerals
/// there and its own; closing it deletes them.
fn resume_and_close(addr: SocketAddr, session: &SessionKeys, ephemerals: &[String], what: &str) {
    let (mut resumed, response) = RawClient::connect_seen(
        addr,
        LONG_TIMEOUT_MS,
        Some((session.id, session.passwd.clone())),
        session.last_zxid,
    )
    .unwrap_or_else(|e| panic!("{what}: resuming session {:#x}: {e}", session.id));
    assert_eq!(
        (response.session_id, response.timeout > 0),
        (session.id, true),
        "{what}: session {:#x} was not resumed ({response:?})",
        session.id
    );
    for path in ephemerals {
        let stat = exists(&mut resumed, path)
            .unwrap_or_else(|| panic!("{what}: ephemeral {path} of the resumed session missing"));
        assert_eq!(stat.ephemeral_owner, session.id, "{what}: owner of {path}");
    }
    ok(&mut resumed, Request::CloseSession);
    let mut checker = connect(addr, 30_000);
    for path in ephemerals {
        assert_eq!(
            exists(&mut checker, path),
            None,
            "{what}: {path} outlived closing its session"
        );
    }
}

/// The kinds of the scenario's nodes, which no Stat shows, by what a server that reaps
/// often does with them once the test makes them reapable (run after the long session
/// closed): the container whose item goes and the 1 ms TTL node whose child goes are
/// deleted; TTL nodes within their TTL, the never-used container and persistent nodes
/// left without children (`/app/locks`: its ephemerals went with their session) stay.
fn check_kinds(addr: SocketAddr, what: &str) {
    let mut client = connect(addr, 30_000);
    delete(&mut client, "/app/container/item");
    delete(&mut client, "/app/ttl-parent/kid");
    let reaped = ["/app/container".to_owned(), "/app/ttl-parent".to_owned()];
    let deadline = Instant::now() + Duration::from_secs(20);
    wait_gone(addr, &reaped, deadline, &format!("{what}: reaping"));
    for path in [
        "/app/ttl",
        "/multi/ttl",
        "/app/container-unused",
        "/app/locks",
        "/multi",
    ] {
        assert!(
            exists(&mut client, path).is_some(),
            "{what}: {path} was reaped (its kind changed?)"
        );
    }
}

/// Creates a node and returns the zxid the server gave the txn.
fn new_write_zxid(addr: SocketAddr, path: &str) -> i64 {
    let mut client = connect(addr, 30_000);
    let reply = ok(
        &mut client,
        Request::Create(create_request(
            path,
            Some(b"new"),
            &perms::open_acl_unsafe(),
            CreateMode::Persistent,
        )),
    );
    let stat = exists(&mut client, path).expect("the new node");
    assert_eq!(stat.czxid, reply.header.zxid, "czxid of {path}");
    reply.header.zxid
}

// ---------------------------------------------------------------------------------------
// Import of a full scenario

/// Where ferrokeeper's zoo.cfg points.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    /// dataDir (and dataLogDir) are ZooKeeper's own: the operator's usual case.
    ZooKeeperDirs,
    /// A fresh dataDir elsewhere.
    OtherDir,
}

struct Variant {
    /// `zookeeper.snapshot.compression.method` (None: plain snapshots).
    compression: Option<&'static str>,
    /// ZooKeeper writes its txn logs to a separate dataLogDir.
    separate_log_dir: bool,
    target: Target,
    /// Also wait for the short session to expire on ferrokeeper (its timeout survived).
    check_expiry: bool,
    /// Also run the import a second time, which must refuse and change nothing.
    check_reimport: bool,
}

fn import_scenario(variant: Variant) {
    let zk_logs = tempfile::tempdir().expect("temp dir");
    let zk_logs_line = as_str(zk_logs.path()).to_owned();
    let mut cfg_lines = vec![("maxSessionTimeout", "60000")];
    if variant.separate_log_dir {
        cfg_lines.push(("dataLogDir", &zk_logs_line));
    }
    let mut props = vec![
        ("zookeeper.extendedTypesEnabled", "true"),
        ("zookeeper.snapCount", "50"),
    ];
    if let Some(method) = variant.compression {
        props.push(("zookeeper.snapshot.compression.method", method));
    }
    let mut zk = RealZooKeeper::start(&cfg_lines, &props);

    let written = write_everything(zk.addr());
    let before = dump_tree(zk.addr(), DIGESTS);
    check_scenario(&before, &written);
    let zk_last = srvr_zxid(zk.addr());
    zk.wait_snapshots_written(Duration::from_secs(30));
    zk.kill9();
    drop(written._open);

    // The data is what the variant is about: several logs and snapshots, compressed.
    let zk_dir = zk.data_dir().to_owned();
    let zk_log_dir = zk.data_log_dir().to_owned();
    let snapshots = zk_files::data_files(&zk_dir, "snapshot");
    let logs = zk_files::data_files(&zk_log_dir, "log");
    assert!(
        snapshots.len() >= 3 && logs.len() >= 3,
        "expected several snapshots and logs: {snapshots:?} {logs:?}"
    );
    if variant.separate_log_dir {
        assert!(zk_files::data_files(&zk_dir, "log").is_empty());
    }
    for (_, snapshot) in &snapshots {
        let name = zk_files::file_name(snapshot);
        match variant.compression {
            Some(method) => assert!(name.ends_with(&format!(".{method}")), "{name}"),
            None => assert!(!name.contains(".g") && !name.contains(".s"), "{name}"),
        }
    }

    let other = tempfile::tempdir().expect("temp dir");
    let (data_dir, data_log_dir) = match variant.target {
        Target::ZooKeeperDirs => (
            zk_dir.clone(),
            variant.separate_log_dir.then(|| zk_log_dir.clone()),
        ),
        Target::OtherDir => (other.path().to_owned(), None),
    };
    let cfg_dir = tempfile::tempdir().expect("temp dir");
    let cfg = write_cfg(cfg_dir.path(), &data_dir, data_log_dir.as_deref());
    let zk_log_arg = variant.separate_log_dir.then_some(zk_log_dir.as_path());

    let out = import(&zk_dir, zk_log_arg, &cfg, &[]);
    assert!(out.status.success(), "import failed\n{}", out.dump());
    assert!(
        !ferrokeeper_files(&data_dir).is_empty(),
        "import wrote nothing under {}/ferrokeeper",
        data_dir.display()
    );
    assert!(
        !out.stderr.to_lowercase().contains("torn"),
        "nothing was torn\n{}",
        out.dump()
    );
    // ZooKeeper 3.8 logs its tree digest with every txn; the import proves its tree
    // against the last one.
    assert!(
        out.stderr
            .contains("equals the one ZooKeeper recorded at zxid"),
        "the rebuilt tree's digest was not checked against ZooKeeper's\n{}",
        out.dump()
    );
    if variant.check_reimport {
        let written_by_import = fingerprint(&data_dir.join("ferrokeeper"));
        let again = import(&zk_dir, zk_log_arg, &cfg, &[]);
        assert_failed(&again, "a second import over existing ferrokeeper data");
        assert_eq!(
            fingerprint(&data_dir.join("ferrokeeper")),
            written_by_import,
            "the refused import changed ferrokeeper's data"
        );
    }

    // The reference: ZooKeeper restarted on its own files restores exactly this tree.
    zk.restart();
    let zk_again = dump_tree(zk.addr(), DIGESTS);
    zk.kill9();
    assert_same_tree("ZooKeeper restarted on its own data", &before, &zk_again);

    let server = start_ferrokeeper_reaping(&data_dir, &cfg);
    let started = Instant::now();
    let after = dump_tree(server.addr(), DIGESTS);
    assert_same_tree("ferrokeeper after the import", &before, &after);

    let zxid = new_write_zxid(server.addr(), "/after-import");
    assert!(
        zxid > zk_last && zk_last >= max_zxid(&before),
        "a new write got zxid {zxid:#x}; ZooKeeper's last was {zk_last:#x}"
    );

    if variant.check_expiry {
        // The short session expires on its own timeout; the long one is still there.
        let deadline = started + Duration::from_millis(SHORT_TIMEOUT_MS as u64 * 3);
        wait_gone(
            server.addr(),
            &written.short_ephemerals,
            deadline,
            "ferrokeeper after the import",
        );
        let mut checker = connect(server.addr(), 30_000);
        for path in &written.long_ephemerals {
            assert!(
                exists(&mut checker, path).is_some(),
                "{path} went with the short session (its session has a 60 s timeout)"
            );
        }
    }
    resume_and_close(
        server.addr(),
        &written.long,
        &written.long_ephemerals,
        "ferrokeeper after the import",
    );
    check_kinds(server.addr(), "ferrokeeper after the import");
}

#[test]
fn import_plain_snapshots_into_the_zookeeper_data_dir() {
    import_scenario(Variant {
        compression: None,
        separate_log_dir: false,
        target: Target::ZooKeeperDirs,
        check_expiry: true,
        check_reimport: true,
    });
}

#[test]
fn import_gz_snapshots_with_a_separate_data_log_dir() {
    import_scenario(Variant {
        compression: Some("gz"),
        separate_log_dir: true,
        target: Target::ZooKeeperDirs,
        check_expiry: false,
        check_reimport: false,
    });
}

#[test]
fn import_snappy_snapshots_into_another_data_dir() {
    import_scenario(Variant {
        compression: Some("snappy"),
        separate_log_dir: false,
        target: Target::OtherDir,
        check_expiry: false,
        check_reimport: false,
    });
}

// ---------------------------------------------------------------------------------------
// Damaged or missing ZooKeeper data

/// A small history in one txn log (default snapCount: one log, one snapshot).
struct History {
    zk: RealZooKeeper,
    /// The tree before `last`.
    before_last: Tree,
    /// The log, and its last record: the create of `/d/last`.
    log: PathBuf,
    last: TxnRecord,
    records: Vec<TxnRecord>,
}

impl History {
    fn write() -> History {
        let mut zk = RealZooKeeper::start(&[], &[]);
        let open = perms::open_acl_unsafe();
        let mut client = connect(zk.addr(), LONG_TIMEOUT_MS);
        create(&mut client, "/d", Some(b"d"), &open, CreateMode::Persistent);
        for i in 0..30 {
            let data = format!("node {i}");
            create(
                &mut client,
                &format!("/d/n{i}"),
                Some(data.as_bytes()),
                &open,
                CreateMode::Persistent,
            );
        }
        for i in (0..30).step_by(4) {
            set_data(&mut client, &format!("/d/n{i}"), None, -1);
        }
        for i in (0..30).step_by(7) {
            delete(&mut client, &format!("/d/n{i}"));
        }
        create(
            &mut client,
            "/d/eph",
            Some(b"e"),
            &open,
            CreateMode::Ephemeral,
        );
        let before_last = dump_tree(zk.addr(), &[]);
        // The last txn of the log: nothing writes after it (the client stays open, and
        // pings are not txns).
        create(
            &mut client,
            "/d/last",
            Some(b"last"),
            &open,
            CreateMode::Persistent,
        );
        let last_zxid = client.last_zxid;
        zk.wait_snapshots_written(Duration::from_secs(30));
        zk.kill9();
        drop(client);

        let logs = zk_files::data_files(zk.data_log_dir(), "log");
        assert_eq!(logs.len(), 1, "one txn log expected: {logs:?}");
        let log = logs[0].1.clone();
        let (bytes, records) = zk_files::read_txn_log(&log);
        let last = *records.last().expect("records in the log");
        assert_eq!(
            (last.zxid, last.txn_type),
            (last_zxid, 1),
            "the log's last record is not the create of /d/last"
        );
        assert!(records.iter().all(|r| r.checksum_ok(&bytes)));
        History {
            zk,
            before_last,
            log,
            last,
            records,
        }
    }

    fn dir(&self) -> PathBuf {
        self.zk.data_dir().to_owned()
    }
}

/// Imports a log whose last record was torn by `tear`: the import succeeds, says "torn",
/// and ferrokeeper then serves the tree as it was before that record, as ZooKeeper does
/// when it restarts on the same files.
fn torn_tail(tear: impl FnOnce(&Path, &TxnRecord)) {
    let mut history = History::write();
    tear(&history.log, &history.last);
    let dir = history.dir();
    let cfg_dir = tempfile::tempdir().expect("temp dir");
    let cfg = write_cfg(cfg_dir.path(), &dir, None);

    let out = import(&dir, None, &cfg, &[]);
    assert!(
        out.status.success(),
        "import of a log with a torn tail failed\n{}",
        out.dump()
    );
    assert!(
        out.stderr.to_lowercase().contains("torn"),
        "the import did not report the torn tail\n{}",
        out.dump()
    );

    history.zk.restart();
    let zookeeper = dump_tree(history.zk.addr(), &[]);
    history.zk.kill9();
    assert_same_tree(
        "ZooKeeper on the torn log",
        &history.before_last,
        &zookeeper,
    );

    let server = start_ferrokeeper(&dir, &cfg);
    let after = dump_tree(server.addr(), &[]);
    assert!(!after.contains_key("/d/last"), "the torn txn was applied");
    assert_same_tree("ferrokeeper after the import", &history.before_last, &after);
    let before_tear = history.records[history.records.len() - 2].zxid;
    let zxid = new_write_zxid(server.addr(), "/d/after");
    assert!(
        zxid > before_tear,
        "new zxid {zxid:#x} not after the last whole txn {before_tear:#x}"
    );
}

#[test]
fn import_cuts_a_log_truncated_mid_record() {
    torn_tail(|log, last| {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(log)
            .expect("open log");
        file.set_len((last.payload_start() + last.len / 2) as u64)
            .expect("truncate log");
    });
}

#[test]
fn import_cuts_a_log_whose_last_record_is_partly_zeroed() {
    torn_tail(|log, last| {
        let mut bytes = std::fs::read(log).expect("read log");
        let from = last.payload_start() + last.len / 2;
        bytes[from..last.end].fill(0);
        std::fs::write(log, bytes).expect("write log");
    });
}

#[test]
fn import_refuses_a_bad_checksum_followed_by_valid_records() {
    let history = History::write();
    let (mut bytes, records) = zk_files::read_txn_log(&history.log);
    let damaged = records[records.len() / 2];
    assert!(
        records.len() - records.len() / 2 > 5,
        "valid records follow the damaged one"
    );
    // One flipped bit in the payload's last byte: the record still parses.
    bytes[damaged.payload_start() + damaged.len - 1] ^= 0x01;
    assert!(!damaged.checksum_ok(&bytes));
    std::fs::write(&history.log, &bytes).expect("write log");

    let dir = history.dir();
    let cfg_dir = tempfile::tempdir().expect("temp dir");
    let cfg = write_cfg(cfg_dir.path(), &dir, None);
    let out = import(&dir, None, &cfg, &[]);
    assert_failed(&out, "import of a log with a bad checksum");
    let name = zk_files::file_name(&history.log);
    assert!(
        out.stderr.contains(&name),
        "the message does not name {name}\n{}",
        out.dump()
    );
    let offsets = offsets_named(&out.stderr);
    assert!(
        offsets
            .iter()
            .any(|&n| (damaged.offset..damaged.end).contains(&n)),
        "the message names no offset within the damaged record ({}..{}): {offsets:?}\n{}",
        damaged.offset,
        damaged.end,
        out.dump()
    );
    assert_eq!(
        ferrokeeper_files(&dir),
        Vec::<PathBuf>::new(),
        "a failed import left ferrokeeper data behind"
    );
    // Nothing half-imported passes for data: the server still refuses this dir.
    let mut zk_data = zk_files::data_files(&dir, "snapshot");
    zk_data.extend(zk_files::data_files(&dir, "log"));
    let zk_data: Vec<PathBuf> = zk_data.into_iter().map(|(_, p)| p).collect();
    assert_start_refused(&cfg, false, &zk_data, "start after a failed import");
}

#[test]
fn import_refuses_logs_without_a_snapshot_unless_trusted() {
    let mut history = History::write();
    let dir = history.dir();
    // The reference: ZooKeeper restarted on its snapshot and log (it adds a snapshot and
    // a log of its own, which go or stay below with the rest).
    history.zk.restart();
    let reference = dump_tree(history.zk.addr(), &[]);
    history.zk.kill9();
    assert!(reference.contains_key("/d/last"));

    let snapshots = zk_files::data_files(&dir, "snapshot");
    assert!(!snapshots.is_empty());
    for (_, snapshot) in &snapshots {
        std::fs::remove_file(snapshot).expect("remove snapshot");
    }
    assert_eq!(
        zk_files::data_files(&dir, "log")
            .first()
            .map(|(zxid, _)| *zxid),
        Some(1),
        "the logs hold the whole history, from zxid 1"
    );
    let cfg_dir = tempfile::tempdir().expect("temp dir");
    let cfg = write_cfg(cfg_dir.path(), &dir, None);
    let out = import(&dir, None, &cfg, &[]);
    assert_failed(&out, "import without a snapshot");
    assert!(
        out.stderr.to_lowercase().contains("snapshot"),
        "the message does not say the snapshot is missing\n{}",
        out.dump()
    );
    assert_eq!(ferrokeeper_files(&dir), Vec::<PathBuf>::new());

    let out = import(&dir, None, &cfg, &["--trust-empty-snapshot"]);
    assert!(
        out.status.success(),
        "import with --trust-empty-snapshot failed\n{}",
        out.dump()
    );
    let server = start_ferrokeeper(&dir, &cfg);
    let after = dump_tree(server.addr(), &[]);
    assert_same_tree(
        "ferrokeeper from the logs alone, against ZooKeeper from snapshot and logs",
        &reference,
        &after,
    );
}

/// `kill -9` while ZooKeeper's snapshot thread writes leaves the newest snapshot cut
/// short. ZooKeeper starts from the newest *valid* snapshot and replays the logs after it;
/// the import does the same and arrives at ZooKeeper's tree.
#[test]
fn import_falls_back_from_a_snapshot_cut_short() {
    let mut zk = RealZooKeeper::start(&[], &[("zookeeper.snapCount", "10")]);
    let mut client = connect(zk.addr(), LONG_TIMEOUT_MS);
    let open = perms::open_acl_unsafe();
    create(&mut client, "/s", None, &open, CreateMode::Persistent);
    for i in 0..40 {
        let data = format!("node {i}");
        create(
            &mut client,
            &format!("/s/n{i}"),
            Some(data.as_bytes()),
            &open,
            CreateMode::Persistent,
        );
    }
    create(&mut client, "/s/eph", None, &open, CreateMode::Ephemeral);
    zk.wait_snapshots_written(Duration::from_secs(30));
    zk.kill9();
    drop(client);
    let dir = zk.data_dir().to_owned();
    let snapshots = zk_files::data_files(&dir, "snapshot");
    assert!(snapshots.len() >= 3, "{snapshots:?}");
    let (_, newest) = snapshots.last().expect("a snapshot");
    let len = std::fs::metadata(newest).expect("snapshot").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(newest)
        .and_then(|f| f.set_len(len / 2))
        .expect("cut the newest snapshot short");

    let cfg_dir = tempfile::tempdir().expect("temp dir");
    let cfg = write_cfg(cfg_dir.path(), &dir, None);
    let out = import(&dir, None, &cfg, &[]);
    assert!(
        out.status.success(),
        "import with a snapshot cut short failed\n{}",
        out.dump()
    );
    let name = zk_files::file_name(newest);
    assert!(
        out.stderr.contains(&name),
        "the import did not mention the damaged {name}\n{}",
        out.dump()
    );

    zk.restart();
    let reference = dump_tree(zk.addr(), &[]);
    zk.kill9();
    assert!(reference.contains_key("/s/n39") && reference.contains_key("/s/eph"));
    let server = start_ferrokeeper(&dir, &cfg);
    let after = dump_tree(server.addr(), &[]);
    assert_same_tree(
        "ferrokeeper against ZooKeeper, both past a snapshot cut short",
        &reference,
        &after,
    );
}

#[test]
fn import_refuses_a_dir_without_zookeeper_data() {
    let empty = tempfile::tempdir().expect("temp dir");
    let empty_version_2 = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(zk_files::version_2(empty_version_2.path())).expect("version-2");
    for (zk_dir, what) in [
        (empty.path(), "an empty dir"),
        (empty_version_2.path(), "an empty version-2"),
    ] {
        let data = tempfile::tempdir().expect("temp dir");
        let cfg = write_cfg(data.path(), data.path(), None);
        let out = import(zk_dir, None, &cfg, &[]);
        assert_failed(&out, what);
        assert!(
            out.stderr.to_lowercase().contains("no zookeeper data"),
            "{what}: the message does not say no ZooKeeper data was found\n{}",
            out.dump()
        );
        assert_eq!(
            ferrokeeper_files(data.path()),
            Vec::<PathBuf>::new(),
            "{what}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Export

#[test]
fn export_starts_a_real_zookeeper_with_the_same_tree() {
    let data = tempfile::tempdir().expect("temp dir");
    let cfg_dir = tempfile::tempdir().expect("temp dir");
    let cfg = write_cfg(cfg_dir.path(), data.path(), None);
    let mut server = start_ferrokeeper(data.path(), &cfg);
    let written = write_everything(server.addr());
    let before = dump_tree(server.addr(), DIGESTS);
    check_scenario(&before, &written);
    let last = srvr_zxid(server.addr());
    let status = server.terminate(Duration::from_secs(30));
    assert!(status.success(), "ferrokeeper exit on SIGTERM: {status:?}");
    drop(written._open);

    let zk_dir = tempfile::tempdir().expect("temp dir");
    let out = export(zk_dir.path(), &cfg);
    assert!(out.status.success(), "export failed\n{}", out.dump());
    let snapshots = zk_files::data_files(zk_dir.path(), "snapshot");
    let [(snapshot_zxid, snapshot)] = &snapshots[..] else {
        panic!("one snapshot expected: {snapshots:?}");
    };
    assert_eq!(
        zk_files::data_files(zk_dir.path(), "log"),
        Vec::new(),
        "no txn log expected"
    );
    assert_eq!(
        *snapshot_zxid, last,
        "the snapshot is named after ferrokeeper's last zxid"
    );

    // A dir that already holds ZooKeeper data is refused and left as it was.
    let exported = std::fs::read(snapshot).expect("read snapshot");
    let again = export(zk_dir.path(), &cfg);
    assert_failed(&again, "export into a dir holding a snapshot");
    assert_eq!(
        std::fs::read(snapshot).expect("read snapshot"),
        exported,
        "the refused export changed the snapshot"
    );
    let logs_only = tempfile::tempdir().expect("temp dir");
    let version_2 = zk_files::version_2(logs_only.path());
    std::fs::create_dir(&version_2).expect("version-2");
    std::fs::write(version_2.join("log.1"), b"not really a log").expect("write log.1");
    let refused = export(logs_only.path(), &cfg);
    assert_failed(&refused, "export into a dir holding a txn log");
    assert_eq!(
        zk_files::data_files(logs_only.path(), "snapshot"),
        Vec::new(),
        "the refused export wrote a snapshot"
    );

    let zk = RealZooKeeper::start(
        &[
            ("dataDir", as_str(zk_dir.path())),
            ("maxSessionTimeout", "60000"),
        ],
        &[
            ("zookeeper.extendedTypesEnabled", "true"),
            ("znode.container.checkIntervalMs", REAP_INTERVAL_MS),
        ],
    );
    let after = dump_tree(zk.addr(), DIGESTS);
    assert_same_tree("ZooKeeper on the exported snapshot", &before, &after);
    let zxid = new_write_zxid(zk.addr(), "/after-export");
    assert!(
        zxid > last,
        "ZooKeeper's new write got zxid {zxid:#x}, not after ferrokeeper's {last:#x}"
    );
    resume_and_close(
        zk.addr(),
        &written.long,
        &written.long_ephemerals,
        "ZooKeeper on the exported snapshot",
    );
    check_kinds(zk.addr(), "ZooKeeper on the exported snapshot");
}

// ---------------------------------------------------------------------------------------
// Start-up check

#[test]
fn startup_refuses_a_zookeeper_data_dir_that_was_not_imported() {
    let zk_logs = tempfile::tempdir().expect("temp dir");
    let mut zk = RealZooKeeper::start(&[("dataLogDir", as_str(zk_logs.path()))], &[]);
    let mut client = connect(zk.addr(), 30_000);
    create(
        &mut client,
        "/precious",
        Some(b"data"),
        &perms::open_acl_unsafe(),
        CreateMode::Persistent,
    );
    zk.wait_snapshots_written(Duration::from_secs(30));
    zk.kill9();
    let snapshots: Vec<PathBuf> = zk_files::data_files(zk.data_dir(), "snapshot")
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let logs: Vec<PathBuf> = zk_files::data_files(zk.data_log_dir(), "log")
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    assert!(
        !snapshots.is_empty() && !logs.is_empty(),
        "{snapshots:?} {logs:?}"
    );
    let cfg_dir = tempfile::tempdir().expect("temp dir");

    // dataDir holds ZooKeeper's snapshots (`ferrokeeper zoo.cfg`, as zkServer.sh runs it).
    let dir = cfg_dir.path().join("snapshots");
    std::fs::create_dir(&dir).expect("dir");
    let cfg = write_cfg(&dir, zk.data_dir(), None);
    assert_start_refused(&cfg, true, &snapshots, "dataDir with ZooKeeper snapshots");
    assert_eq!(ferrokeeper_files(zk.data_dir()), Vec::<PathBuf>::new());
    // Refusing created nothing that would let a second start serve an empty tree.
    assert_start_refused(&cfg, true, &snapshots, "the same dataDir again");

    // dataLogDir holds ZooKeeper's logs, dataDir is fresh (`--config`).
    let fresh = tempfile::tempdir().expect("temp dir");
    let dir = cfg_dir.path().join("logs");
    std::fs::create_dir(&dir).expect("dir");
    let cfg = write_cfg(&dir, fresh.path(), Some(zk.data_log_dir()));
    assert_start_refused(&cfg, false, &logs, "dataLogDir with ZooKeeper logs");
    assert_eq!(ferrokeeper_files(fresh.path()), Vec::<PathBuf>::new());
    assert_eq!(ferrokeeper_files(zk.data_log_dir()), Vec::<PathBuf>::new());

    // The same zoo.cfg over fresh dirs starts: the refusals were about ZooKeeper's files.
    let fresh_logs = tempfile::tempdir().expect("temp dir");
    let dir = cfg_dir.path().join("fresh");
    std::fs::create_dir(&dir).expect("dir");
    let cfg = write_cfg(&dir, fresh.path(), Some(fresh_logs.path()));
    let server = start_ferrokeeper(fresh.path(), &cfg);
    assert!(srvr_zxid(server.addr()) >= 0);
}
