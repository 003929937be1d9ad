//! The scripted scenarios. [`shared`] is run against both servers and must give the same
//! normalised transcript; the `intended_*` scenarios exercise the README's "Intended
//! differences" and are checked with their own expectations (they are kept out of
//! [`shared`] so that nothing in it needs an allow-list).
//!
//! What [`shared`] deliberately avoids, each for a README "Intended differences" entry:
//! - `exists` on a node the session may not READ (exists needs READ, as in 3.8.4);
//! - a one-shot watch and a persistent watch on the same path and connection (watches of
//!   different kinds coexist, ZOOKEEPER-4466);
//! - checkWatches/removeWatches with type Data or Children on a path where the connection
//!   holds a persistent watch (ZOOKEEPER-4471), and checkWatches on a path where only
//!   another connection holds a watch (checkWatches looks only at the asking connection);
//! - watches held by sessions without READ on the node (events not filtered by READ ACL:
//!   3.8.0 and ferrokeeper agree today, 3.8.4 differs);
//! - the container reaper (both servers get `znode.container.checkIntervalMs` = 1 hour).

use bytes::Bytes;
use ferrokeeper_protocol::{
    AddWatchRequest, AuthPacket, CheckVersionRequest, CheckWatchesRequest, CreateRequest,
    CreateTtlRequest, DeleteRequest, ExistsRequest, GetAclRequest, GetAllChildrenNumberRequest,
    GetChildren2Request, GetChildrenRequest, GetDataRequest, GetEphemeralsRequest, GetSaslRequest,
    MultiOp, MultiRequest, ReconfigRequest, RemoveWatchesRequest, Request, SetAclRequest,
    SetDataRequest, SyncRequest,
    perms::{ADMIN, ALL, CREATE, DELETE, READ, WRITE},
    records::{Acl, Id},
};

use super::runner::Runner;

/// `base64(sha1("bob:secret"))`: the digest id of `digest bob:secret`.
pub const BOB_DIGEST: &str = "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=";
/// A TTL well inside the allowed range that outlives any run.
const HOUR: i64 = 3_600_000;
/// The largest TTL ZooKeeper accepts (`EphemeralType.TTL` max, 0xFF_FFFF_FFFF).
const MAX_TTL: i64 = 0xFF_FFFF_FFFF;

// ---- request builders -------------------------------------------------------------------

pub fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
    Acl {
        perms,
        id: Id {
            scheme: scheme.to_owned(),
            id: id.to_owned(),
        },
    }
}

pub fn open() -> Vec<Acl> {
    vec![acl(ALL, "world", "anyone")]
}

fn bytes(data: &str) -> Option<Bytes> {
    Some(Bytes::copy_from_slice(data.as_bytes()))
}

fn create_req(path: &str, data: Option<Bytes>, acl: Vec<Acl>, flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.to_owned(),
        data,
        acl,
        flags,
    }
}

pub fn create(path: &str, data: &str, flags: i32) -> Request {
    Request::Create(create_req(path, bytes(data), open(), flags))
}

pub fn create_acl(path: &str, data: &str, acl: Vec<Acl>, flags: i32) -> Request {
    Request::Create(create_req(path, bytes(data), acl, flags))
}

pub fn create2(path: &str, data: &str, flags: i32) -> Request {
    Request::Create2(create_req(path, bytes(data), open(), flags))
}

pub fn create2_acl(path: &str, data: &str, acl: Vec<Acl>, flags: i32) -> Request {
    Request::Create2(create_req(path, bytes(data), acl, flags))
}

pub fn container(path: &str, data: &str, flags: i32) -> Request {
    Request::CreateContainer(create_req(path, bytes(data), open(), flags))
}

fn ttl_req(path: &str, data: &str, flags: i32, ttl: i64) -> CreateTtlRequest {
    CreateTtlRequest {
        path: path.to_owned(),
        data: bytes(data),
        acl: open(),
        flags,
        ttl,
    }
}

pub fn create_ttl(path: &str, data: &str, flags: i32, ttl: i64) -> Request {
    Request::CreateTtl(ttl_req(path, data, flags, ttl))
}

fn del_req(path: &str, version: i32) -> DeleteRequest {
    DeleteRequest {
        path: path.to_owned(),
        version,
    }
}

pub fn delete(path: &str, version: i32) -> Request {
    Request::Delete(del_req(path, version))
}

pub fn exists(path: &str, watch: bool) -> Request {
    Request::Exists(ExistsRequest {
        path: path.to_owned(),
        watch,
    })
}

pub fn get(path: &str, watch: bool) -> Request {
    Request::GetData(GetDataRequest {
        path: path.to_owned(),
        watch,
    })
}

fn set_req(path: &str, data: Option<Bytes>, version: i32) -> SetDataRequest {
    SetDataRequest {
        path: path.to_owned(),
        data,
        version,
    }
}

pub fn set(path: &str, data: &str, version: i32) -> Request {
    Request::SetData(set_req(path, bytes(data), version))
}

pub fn get_acl(path: &str) -> Request {
    Request::GetAcl(GetAclRequest {
        path: path.to_owned(),
    })
}

pub fn set_acl(path: &str, acl: Vec<Acl>, version: i32) -> Request {
    Request::SetAcl(SetAclRequest {
        path: path.to_owned(),
        acl,
        version,
    })
}

pub fn children(path: &str, watch: bool) -> Request {
    Request::GetChildren(GetChildrenRequest {
        path: path.to_owned(),
        watch,
    })
}

pub fn children2(path: &str, watch: bool) -> Request {
    Request::GetChildren2(GetChildren2Request {
        path: path.to_owned(),
        watch,
    })
}

pub fn sync(path: &str) -> Request {
    Request::Sync(SyncRequest {
        path: path.to_owned(),
    })
}

pub fn multi(ops: Vec<MultiOp>) -> Request {
    Request::Multi(MultiRequest { ops })
}

pub fn multi_read(ops: Vec<MultiOp>) -> Request {
    Request::MultiRead(MultiRequest { ops })
}

pub fn m_create(path: &str, data: &str, flags: i32) -> MultiOp {
    MultiOp::Create(create_req(path, bytes(data), open(), flags))
}

pub fn m_create2(path: &str, data: &str, flags: i32) -> MultiOp {
    MultiOp::Create2(create_req(path, bytes(data), open(), flags))
}

pub fn m_container(path: &str) -> MultiOp {
    MultiOp::CreateContainer(create_req(path, bytes(""), open(), 4))
}

pub fn m_ttl(path: &str, flags: i32, ttl: i64) -> MultiOp {
    MultiOp::CreateTtl(ttl_req(path, "", flags, ttl))
}

pub fn m_delete(path: &str, version: i32) -> MultiOp {
    MultiOp::Delete(del_req(path, version))
}

pub fn m_set(path: &str, data: &str, version: i32) -> MultiOp {
    MultiOp::SetData(set_req(path, bytes(data), version))
}

pub fn m_check(path: &str, version: i32) -> MultiOp {
    MultiOp::Check(CheckVersionRequest {
        path: path.to_owned(),
        version,
    })
}

pub fn m_get(path: &str) -> MultiOp {
    MultiOp::GetData(GetDataRequest {
        path: path.to_owned(),
        watch: false,
    })
}

pub fn m_children(path: &str) -> MultiOp {
    MultiOp::GetChildren(GetChildrenRequest {
        path: path.to_owned(),
        watch: false,
    })
}

pub fn ephemerals(prefix: &str) -> Request {
    Request::GetEphemerals(GetEphemeralsRequest {
        prefix_path: prefix.to_owned(),
    })
}

pub fn all_children(path: &str) -> Request {
    Request::GetAllChildrenNumber(GetAllChildrenNumberRequest {
        path: path.to_owned(),
    })
}

/// mode 0 = persistent, 1 = persistent recursive.
pub fn add_watch(path: &str, mode: i32) -> Request {
    Request::AddWatch(AddWatchRequest {
        path: path.to_owned(),
        mode,
    })
}

/// type 1 = Children, 2 = Data, 3 = Any.
pub fn check_watches(path: &str, r#type: i32) -> Request {
    Request::CheckWatches(CheckWatchesRequest {
        path: path.to_owned(),
        r#type,
    })
}

/// type 1 = Children, 2 = Data, 3 = Any.
pub fn remove_watches(path: &str, r#type: i32) -> Request {
    Request::RemoveWatches(RemoveWatchesRequest {
        path: path.to_owned(),
        r#type,
    })
}

pub fn auth(scheme: &str, data: &str) -> Request {
    Request::Auth(AuthPacket {
        r#type: 0,
        scheme: scheme.to_owned(),
        auth: Bytes::copy_from_slice(data.as_bytes()),
    })
}

pub fn reconfig() -> Request {
    Request::Reconfig(ReconfigRequest {
        joining_servers: Some("server.2=127.0.0.1:2888:3888;2181".to_owned()),
        leaving_servers: None,
        new_members: None,
        cur_config_id: -1,
    })
}

const PERSISTENT: i32 = 0;
const EPHEMERAL: i32 = 1;
const SEQUENTIAL: i32 = 2;
const EPHEMERAL_SEQUENTIAL: i32 = 3;
const CONTAINER: i32 = 4;
const TTL: i32 = 5;
const TTL_SEQUENTIAL: i32 = 6;

const CHILDREN: i32 = 1;
const DATA: i32 = 2;
const ANY: i32 = 3;

// ---- the shared scenario ----------------------------------------------------------------

/// Every opcode a 3.8 client can send, with stats, sequential names, watch event order,
/// multi failure shapes, ACL denials and error paths, over several sessions.
pub fn shared(r: &mut Runner) {
    let a = r.connect();
    let b = r.connect();
    let c = r.connect();

    basics_and_create_modes(r, a);
    sequential_names(r, a);
    versions_and_errors(r, a);
    bad_paths_flags_and_acls(r, a);
    ttl_and_container_errors(r, a);
    special_nodes(r, a);
    multi_ops(r, a, b);
    one_shot_watches(r, a, b);
    persistent_watches(r, a, c);
    set_watches_after_reconnect(r, a, b, c);
    acls_and_auth(r, a);
    ephemerals_and_session_close(r, a, b);
    odd_requests(r, a);

    // Closing: every remaining session says goodbye.
    r.op(a, all_children("/"));
    r.op(a, ephemerals("/"));
    r.op_then_closed(b, Request::CloseSession);
    r.op(a, ephemerals("/"));
    r.op_then_closed(a, Request::CloseSession);
}

fn basics_and_create_modes(r: &mut Runner, a: usize) {
    r.op(a, Request::Ping);
    r.op(a, Request::WhoAmI);
    r.op(a, get("/", false));
    r.op(a, children2("/", false));
    r.op(a, exists("/zookeeper", false));
    r.op(a, get("/zookeeper", false));
    r.op(a, children("/zookeeper", false));
    r.op(a, get_acl("/"));
    r.op(a, all_children("/"));
    r.op(a, all_children("/zookeeper"));

    // Every create opcode and mode.
    r.op(a, create("/d", "data", PERSISTENT));
    r.op(a, create2("/d/p", "", PERSISTENT));
    r.op(
        a,
        Request::Create(create_req("/d/null", None, open(), PERSISTENT)),
    );
    r.op(
        a,
        Request::Create2(create_req("/d/null2", None, open(), PERSISTENT)),
    );
    r.op(a, create("/d/seq-", "s", SEQUENTIAL));
    r.op(a, create2("/d/seq-", "s", SEQUENTIAL));
    r.op(a, create("/d/eph", "e", EPHEMERAL));
    r.op(a, create2("/d/eseq-", "es", EPHEMERAL_SEQUENTIAL));
    r.op(a, create("/d/eseq-", "es", EPHEMERAL_SEQUENTIAL));
    r.op(a, container("/d/cont", "c", CONTAINER));
    r.op(a, create_ttl("/d/ttl", "t", TTL, HOUR));
    r.op(a, create_ttl("/d/ttlseq-", "t", TTL_SEQUENTIAL, HOUR));
    r.op(a, create_ttl("/d/ttlmax", "t", TTL, MAX_TTL));
    r.op(a, create_ttl("/d/ttl1", "t", TTL, 1));
    // ZooKeeper quirk: plain create with the container flag.
    r.op(a, create("/d/c-by-create", "", CONTAINER));
    r.op(a, create2("/d/c-by-create2", "", CONTAINER));

    for path in [
        "/d",
        "/d/p",
        "/d/null",
        "/d/null2",
        "/d/seq-0000000004",
        "/d/eph",
        "/d/eseq-0000000007",
        "/d/cont",
        "/d/ttl",
        "/d/ttlseq-0000000010",
        "/d/c-by-create",
    ] {
        r.op(a, get(path, false));
    }
    r.op(a, exists("/d/eph", false));
    r.op(a, exists("/d/nope", false));
    r.op(a, children("/d", false));
    r.op(a, children2("/d", false));
    r.op(a, get("/", false));
    r.op(a, all_children("/"));
    r.op(a, all_children("/d"));
    r.op(a, all_children("/d/p"));
    r.op(a, all_children("/nope"));
    r.op(a, ephemerals("/"));
    r.op(a, ephemerals("/d/e"));
    r.op(a, ephemerals("/d/eph"));
    r.op(a, ephemerals("/nope"));
    r.op(a, ephemerals(""));
    r.op(a, sync("/d"));
    r.op(a, sync("/nope"));
    r.op(a, sync("/"));
}

fn sequential_names(r: &mut Runner, a: usize) {
    r.op(a, create("/s", "", PERSISTENT));
    r.op(a, create("/s/n-", "", SEQUENTIAL));
    r.op(a, create("/s/x", "", PERSISTENT));
    r.op(a, delete("/s/x", -1));
    r.op(a, create("/s/n-", "", SEQUENTIAL));
    r.op(a, delete("/s/n-0000000000", 5));
    r.op(a, delete("/s/n-0000000000", 0));
    r.op(a, create2("/s/", "", SEQUENTIAL));
    r.op(a, create2("/s/", "", EPHEMERAL_SEQUENTIAL));
    r.op(a, create_ttl("/s/t-", "", TTL_SEQUENTIAL, HOUR));
    // A failed sequential create still counts? (NodeExists cannot happen; NoNode parent.)
    r.op(a, create("/s/missing/n-", "", SEQUENTIAL));
    r.op(a, create("/s/n-", "", SEQUENTIAL));
    r.op(a, children2("/s", false));
    r.op(a, get("/s", false));
    // Deleting the sequential children does not reset the counter.
    r.op(a, delete("/s/n-0000000002", -1));
    r.op(a, delete("/s/0000000003", -1));
    r.op(a, delete("/s/0000000004", -1));
    r.op(a, create("/s/n-", "", SEQUENTIAL));
    r.op(a, children2("/s", false));
}

fn versions_and_errors(r: &mut Runner, a: usize) {
    r.op(a, set("/d", "v1", 0));
    r.op(a, set("/d", "v2", 0));
    r.op(a, set("/d", "v2", 1));
    r.op(a, set("/d", "v3", -1));
    r.op(a, Request::SetData(set_req("/d", None, -1)));
    r.op(a, get("/d", false));
    r.op(a, set("/d", "", 4));
    r.op(a, exists("/d", false));
    r.op(a, set("/d", "x", -2));
    r.op(a, set("/d", "x", 100));
    r.op(a, set("/nope", "x", -1));
    r.op(a, delete("/d", -1));
    r.op(a, delete("/nope", -1));
    r.op(a, delete("/d/p", 3));
    r.op(a, delete("/d/p", -2));
    r.op(a, create("/del", "", PERSISTENT));
    r.op(a, set("/del", "x", -1));
    r.op(a, delete("/del", 0));
    r.op(a, delete("/del", 1));
    r.op(a, exists("/del", false));
    r.op(a, delete("/", -1));
    r.op(a, set("/", "root", -1));
    r.op(a, get("/", false));
    r.op(a, set("/", "", -1));
}

fn bad_paths_flags_and_acls(r: &mut Runner, a: usize) {
    r.op(a, create("/d", "", PERSISTENT));
    r.op(a, create("/", "", PERSISTENT));
    r.op(a, create("/nope/x", "", PERSISTENT));
    r.op(a, create("/d/eph/child", "", PERSISTENT));
    r.op(a, create("/d/eph/child-", "", EPHEMERAL_SEQUENTIAL));
    r.op(a, create2("/d/eph/child", "", EPHEMERAL));
    for flags in [7, -1, 100, 8] {
        r.op(a, create("/flags", "", flags));
    }
    for path in [
        "",
        "d",
        "/d/",
        "/d//x",
        "/d/./x",
        "/d/../x",
        "/d/.",
        "/d/x\u{0}y",
        "/d/x\u{1}y",
        "/d/\u{fffe}",
        "//",
        "/nope/",
        "/nope//",
    ] {
        r.op(a, create(path, "", PERSISTENT));
    }
    r.op(a, create("/d/", "", SEQUENTIAL));
    r.op(a, create("/nope/", "", SEQUENTIAL));
    r.op(a, create("d", "", SEQUENTIAL));
    // Bad ACLs.
    r.op(a, create2_acl("/acl-bad", "", vec![], PERSISTENT));
    r.op(
        a,
        create2_acl("/acl-bad", "", vec![acl(ALL, "auth", "")], PERSISTENT),
    );
    r.op(
        a,
        create2_acl("/acl-bad", "", vec![acl(ALL, "nosuch", "x")], PERSISTENT),
    );
    r.op(
        a,
        create2_acl(
            "/acl-bad",
            "",
            vec![acl(ALL, "ip", "not-an-ip")],
            PERSISTENT,
        ),
    );
    r.op(
        a,
        create2_acl("/acl-bad", "", vec![acl(ALL, "digest", "bob")], PERSISTENT),
    );
    r.op(
        a,
        create2_acl(
            "/acl-bad",
            "",
            vec![acl(ALL, "world", "someone")],
            PERSISTENT,
        ),
    );
    r.op(
        a,
        create2_acl(
            "/acl-bad",
            "",
            vec![acl(ALL, "world", "anyone"), acl(ALL, "nosuch", "x")],
            PERSISTENT,
        ),
    );
    // Bad ACL and missing parent: which is reported first.
    r.op(a, create2_acl("/nope/x", "", vec![], PERSISTENT));
    // Odd but valid permission masks.
    r.op(
        a,
        create_acl("/mask0", "", vec![acl(0, "world", "anyone")], PERSISTENT),
    );
    r.op(
        a,
        create_acl("/mask63", "", vec![acl(63, "world", "anyone")], PERSISTENT),
    );
    r.op(
        a,
        create_acl("/maskneg", "", vec![acl(-1, "world", "anyone")], PERSISTENT),
    );
    r.op(
        a,
        create_acl(
            "/maskdup",
            "",
            vec![acl(READ, "world", "anyone"), acl(READ, "world", "anyone")],
            PERSISTENT,
        ),
    );
    for path in ["/mask0", "/mask63", "/maskneg", "/maskdup"] {
        r.op(a, get_acl(path));
    }
    r.op(a, get("/mask0", false));
    r.op(a, get("/mask63", false));
    r.op(a, get("/maskneg", false));
}

fn ttl_and_container_errors(r: &mut Runner, a: usize) {
    for ttl in [0, -1, MAX_TTL + 1, i64::MAX, i64::MIN] {
        r.op(a, create_ttl("/ttl-bad", "", TTL, ttl));
    }
    for flags in [
        PERSISTENT,
        EPHEMERAL,
        SEQUENTIAL,
        EPHEMERAL_SEQUENTIAL,
        CONTAINER,
        7,
    ] {
        r.op(a, create_ttl("/ttl-flag", "", flags, HOUR));
    }
    // TTL modes through the plain create opcodes.
    r.op(a, create("/ttl-by-create", "", TTL));
    r.op(a, create2("/ttl-by-create2", "", TTL_SEQUENTIAL));
    r.op(a, create_ttl("/nope/ttl", "", TTL, HOUR));
    r.op(a, create_ttl("/d/eph/ttl", "", TTL, HOUR));
    r.op(a, create_ttl("/d/ttl", "", TTL, HOUR));
    // createContainer with other flags.
    for flags in [PERSISTENT, EPHEMERAL, SEQUENTIAL, TTL, 9] {
        r.op(a, container("/cont-flag", "", flags));
    }
    r.op(a, container("/nope/cont", "", CONTAINER));
    r.op(a, container("/d/cont", "", CONTAINER));
    r.op(a, container("/d/eph/cont", "", CONTAINER));
    // Children of a container and of a TTL node.
    r.op(a, create("/d/cont/child", "", PERSISTENT));
    r.op(a, create("/d/ttl/child", "", EPHEMERAL));
    r.op(a, get("/d/cont", false));
    r.op(a, delete("/d/cont/child", -1));
    r.op(a, get("/d/cont", false));
    r.op(a, children2("/d/ttl", false));
}

fn special_nodes(r: &mut Runner, a: usize) {
    r.op(a, delete("/zookeeper", -1));
    r.op(a, delete("/zookeeper/config", -1));
    r.op(a, delete("/zookeeper/quota", -1));
    r.op(a, get("/zookeeper/config", false));
    r.op(a, get_acl("/zookeeper/config"));
    r.op(a, get("/zookeeper/quota", false));
    r.op(a, get_acl("/zookeeper/quota"));
    r.op(a, get_acl("/zookeeper"));
    r.op(a, set("/zookeeper/config", "x", -1));
    r.op(a, set("/zookeeper", "x", -1));
    r.op(a, get("/zookeeper", false));
    r.op(a, set("/zookeeper/quota", "q", -1));
    r.op(a, set_acl("/zookeeper/config", open(), -1));
    r.op(a, create("/zookeeper/x", "", PERSISTENT));
    r.op(a, create("/zookeeper/config/x", "", PERSISTENT));
    r.op(a, children2("/zookeeper", false));
    r.op(a, all_children("/zookeeper"));
    r.op(a, reconfig());
    r.op(
        a,
        Request::Reconfig(ReconfigRequest {
            joining_servers: None,
            leaving_servers: None,
            new_members: None,
            cur_config_id: -1,
        }),
    );
    r.op(a, get("/zookeeper/config", false));
}

fn multi_ops(r: &mut Runner, a: usize, b: usize) {
    // b watches so that the multi's events (and their absence on failure) are recorded.
    r.op(b, exists("/m", true));
    r.op(
        a,
        multi(vec![
            m_create("/m", "m", PERSISTENT),
            m_create2("/m/a", "a", PERSISTENT),
            m_container("/m/c"),
            m_ttl("/m/t", TTL, HOUR),
            m_create("/m/s-", "", SEQUENTIAL),
            m_create2("/m/e", "", EPHEMERAL),
            m_set("/m", "m2", -1),
            m_check("/m", 1),
            m_check("/m/a", 0),
            m_delete("/m/a", 0),
        ]),
    );
    r.op(a, children2("/m", false));
    r.op(a, get("/m", false));
    r.op(b, get("/m", true));
    r.op(b, children("/m", true));
    // Failure in the middle, first and last position.
    r.op(
        a,
        multi(vec![
            m_create("/m/x", "", PERSISTENT),
            m_check("/m", 99),
            m_set("/m", "never", -1),
        ]),
    );
    r.op(
        a,
        multi(vec![
            m_delete("/nope", -1),
            m_create("/m/y", "", PERSISTENT),
        ]),
    );
    r.op(
        a,
        multi(vec![
            m_create("/m/z", "", PERSISTENT),
            m_set("/m", "z", -1),
            m_set("/m/nope", "", -1),
        ]),
    );
    // Every failure kind inside a multi.
    r.op(
        a,
        multi(vec![
            m_create("/m/d", "", PERSISTENT),
            m_create("/m/d", "", PERSISTENT),
        ]),
    );
    r.op(a, multi(vec![m_check("/nope", -1)]));
    r.op(a, multi(vec![m_check("/m", 5)]));
    r.op(a, multi(vec![m_delete("/m", -1)]));
    r.op(a, multi(vec![m_delete("/m/c", 3)]));
    r.op(a, multi(vec![m_create("/m/bad", "", 7)]));
    r.op(a, multi(vec![m_create("m/rel", "", PERSISTENT)]));
    r.op(a, multi(vec![m_create("/m/e/child", "", PERSISTENT)]));
    r.op(
        a,
        multi(vec![
            m_create("/m/eph2", "", EPHEMERAL),
            m_create("/m/eph2/c", "", PERSISTENT),
        ]),
    );
    r.op(a, multi(vec![m_ttl("/m/badttl", TTL, 0)]));
    r.op(a, multi(vec![m_ttl("/m/badttl", PERSISTENT, HOUR)]));
    r.op(
        a,
        multi(vec![MultiOp::Create(create_req(
            "/m/acl",
            None,
            vec![],
            PERSISTENT,
        ))]),
    );
    r.op(a, multi(vec![m_create("/zookeeper/m", "", PERSISTENT)]));
    r.op(a, multi(vec![m_delete("/zookeeper/config", -1)]));
    // A failed multi triggers nothing and leaves nothing behind.
    r.op(a, exists("/m/x", false));
    r.op(a, exists("/m/z", false));
    r.op(a, get("/m", false));
    // Ops that depend on earlier ops of the same multi.
    r.op(
        a,
        multi(vec![
            m_create("/m/chain", "1", PERSISTENT),
            m_set("/m/chain", "2", 0),
            m_check("/m/chain", 1),
            m_create("/m/chain/kid", "", PERSISTENT),
            m_delete("/m/chain/kid", 0),
            m_delete("/m/chain", 1),
            m_create("/m/chain", "3", PERSISTENT),
        ]),
    );
    r.op(a, get("/m/chain", false));
    r.op(a, children2("/m", false));
    // Empty multi and empty multiRead.
    r.op(a, multi(vec![]));
    r.op(a, multi_read(vec![]));
    // multiRead: each op on its own.
    r.op(
        a,
        multi_read(vec![
            m_get("/m"),
            m_children("/m"),
            m_get("/nope"),
            m_children("/nope"),
            m_get("/m/chain"),
            m_get("/d/null"),
        ]),
    );
}

fn one_shot_watches(r: &mut Runner, a: usize, b: usize) {
    r.op(b, exists("/w", false));
    r.op(b, exists("/w", true));
    r.op(b, check_watches("/w", DATA));
    r.op(b, check_watches("/w", CHILDREN));
    r.op(b, check_watches("/w", ANY));
    r.op(a, create("/w", "", PERSISTENT));
    r.op(b, check_watches("/w", DATA));
    r.op(b, get("/w", true));
    r.op(b, children("/w", true));
    r.op(b, exists("/w/a", true));
    r.op(a, create("/w/a", "", PERSISTENT));
    r.op(a, set("/w", "1", -1));
    r.op(a, set("/w", "2", -1));
    r.op(b, get("/w/a", true));
    r.op(b, children2("/w/a", true));
    r.op(b, children("/w", true));
    r.op(a, delete("/w/a", -1));
    // Several events from one multi, in op order.
    r.op(b, get("/w", true));
    r.op(b, children("/w", true));
    r.op(b, exists("/w/b", true));
    r.op(
        a,
        multi(vec![
            m_create("/w/b", "", PERSISTENT),
            m_set("/w", "3", -1),
            m_set("/w/b", "b", -1),
            m_delete("/w/b", -1),
        ]),
    );
    // The writer's own watch fires before its reply.
    r.op(a, get("/w", true));
    r.op(a, set("/w", "4", -1));
    // Several kinds of one-shot watch on one path give one event per trigger.
    r.op(b, get("/w", true));
    r.op(b, exists("/w", true));
    r.op(b, children("/w", true));
    r.op(a, delete("/w", -1));
    r.op(b, exists("/w", false));
    // checkWatches / removeWatches on one-shot watches.
    r.op(a, create("/w", "", PERSISTENT));
    r.op(b, get("/w", true));
    r.op(b, check_watches("/w", DATA));
    r.op(b, check_watches("/w", CHILDREN));
    r.op(b, check_watches("/w", ANY));
    r.op(b, remove_watches("/w", CHILDREN));
    r.op(b, remove_watches("/w", DATA));
    r.op(b, remove_watches("/w", DATA));
    r.op(b, check_watches("/w", DATA));
    r.op(b, children("/w", true));
    r.op(b, exists("/w/q", true));
    r.op(b, check_watches("/w", CHILDREN));
    r.op(b, remove_watches("/w", ANY));
    r.op(b, remove_watches("/w", ANY));
    r.op(b, remove_watches("/w/q", DATA));
    r.op(b, check_watches("/w/q", DATA));
    r.op(b, check_watches("/nowatch", ANY));
    r.op(b, remove_watches("/nowatch", ANY));
    r.op(b, check_watches("/w", 7));
    r.op(b, remove_watches("/w", 0));
    r.op(a, set("/w", "5", -1));
    r.op(a, create("/w/c", "", PERSISTENT));
    r.op(a, delete("/w/c", -1));
    // Watch on a node that does not exist via getData/getChildren: NoNode, no watch.
    r.op(b, get("/w/none", true));
    r.op(b, children("/w/none", true));
    r.op(b, check_watches("/w/none", ANY));
    r.op(a, create("/w/none", "", PERSISTENT));
}

fn persistent_watches(r: &mut Runner, a: usize, c: usize) {
    r.op(c, add_watch("/pw", 0));
    r.op(c, add_watch("/rw", 1));
    r.op(c, check_watches("/pw", ANY));
    r.op(c, check_watches("/rw", ANY));
    r.op(a, create("/pw", "", PERSISTENT));
    r.op(a, create("/pw/a", "", PERSISTENT));
    r.op(a, set("/pw", "1", -1));
    r.op(a, set("/pw/a", "1", -1));
    r.op(a, create("/pw/a/b", "", PERSISTENT));
    r.op(a, delete("/pw/a/b", -1));
    r.op(a, delete("/pw/a", -1));
    r.op(a, set("/pw", "2", -1));
    r.op(a, create("/rw", "", PERSISTENT));
    r.op(a, create("/rw/a", "", PERSISTENT));
    r.op(a, create("/rw/a/b", "", PERSISTENT));
    r.op(a, set("/rw/a/b", "x", -1));
    r.op(a, set("/rw", "x", -1));
    r.op(a, delete("/rw/a/b", -1));
    r.op(
        a,
        multi(vec![
            m_create("/rw/m", "", PERSISTENT),
            m_create("/rw/m/n", "", PERSISTENT),
            m_set("/rw/a", "y", -1),
        ]),
    );
    // A one-shot watch below a recursive one (another path): one event per trigger.
    r.op(c, get("/rw/a", true));
    r.op(a, set("/rw/a", "z", -1));
    r.op(a, set("/rw/a", "zz", -1));
    // A persistent watch on a missing node, then a recursive one on /.
    r.op(c, add_watch("/pw-missing", 0));
    r.op(a, create("/pw-missing", "", PERSISTENT));
    r.op(a, delete("/pw-missing", -1));
    r.op(a, create("/pw-missing", "again", PERSISTENT));
    // Persistent watches survive their node's deletion.
    r.op(a, delete("/pw", -1));
    r.op(a, create("/pw", "", PERSISTENT));
    // addWatch is idempotent; removeWatches(Any) removes persistent ones.
    r.op(c, add_watch("/pw", 0));
    r.op(c, remove_watches("/pw", ANY));
    r.op(c, remove_watches("/pw", ANY));
    r.op(c, check_watches("/pw", ANY));
    r.op(a, set("/pw", "3", -1));
    r.op(c, remove_watches("/rw", ANY));
    r.op(a, set("/rw/a", "after", -1));
    r.op(c, remove_watches("/pw-missing", ANY));
    r.op(a, add_watch("/nope/deep", 1));
    r.op(a, add_watch("/", 1));
    r.op(c, create("/c-made", "", PERSISTENT));
    r.op(c, set("/c-made", "1", -1));
    r.op(c, delete("/c-made", -1));
    r.op(a, remove_watches("/", ANY));
    r.op(a, remove_watches("/nope/deep", ANY));
}

fn set_watches_after_reconnect(r: &mut Runner, a: usize, b: usize, c: usize) {
    for path in ["/sw", "/sw/c1", "/sw2", "/sw3", "/sw4"] {
        r.op(a, create(path, "", PERSISTENT));
    }
    // What b had armed before the drop (the client re-sends these paths).
    r.op(b, get("/sw", true));
    r.op(b, children("/sw", true));
    r.op(b, get("/sw2", true));
    r.op(b, get("/sw3", true));
    r.op(b, children("/sw3", true));
    r.op(b, exists("/sw-new", true));
    r.op(b, exists("/sw-none", true));
    r.op(b, children("/sw4", true));
    r.disconnect(b);
    r.op(a, set("/sw", "changed", -1));
    r.op(a, create("/sw/c2", "", PERSISTENT));
    r.op(a, delete("/sw2", -1));
    r.op(a, create("/sw-new", "", PERSISTENT));
    r.op(a, delete("/sw4", -1));
    r.reconnect(b);
    r.set_watches(
        b,
        &["/sw", "/sw2", "/sw3", "/sw-gone"],
        &["/sw-new", "/sw-none"],
        &["/sw", "/sw3", "/sw4"],
        None,
    );
    r.op(b, check_watches("/sw3", DATA));
    r.op(b, check_watches("/sw-none", DATA));
    r.op(a, set("/sw3", "x", -1));
    r.op(a, create("/sw3/c", "", PERSISTENT));
    r.op(a, create("/sw-none", "", PERSISTENT));
    r.op(a, set("/sw", "again", -1));

    // setWatches2 with persistent watches, on c.
    r.op(a, create("/sp", "", PERSISTENT));
    r.op(a, create("/sr", "", PERSISTENT));
    r.op(a, create("/sd", "", PERSISTENT));
    r.op(c, add_watch("/sp", 0));
    r.op(c, add_watch("/sr", 1));
    r.op(c, get("/sd", true));
    r.disconnect(c);
    r.op(a, set("/sp", "1", -1));
    r.op(a, create("/sr/a", "", PERSISTENT));
    r.op(a, set("/sd", "1", -1));
    r.reconnect(c);
    r.set_watches(c, &["/sd"], &[], &[], Some((&["/sp"], &["/sr"])));
    r.op(c, check_watches("/sp", ANY));
    r.op(c, check_watches("/sr", ANY));
    r.op(a, set("/sp", "2", -1));
    r.op(a, create("/sr/b", "", PERSISTENT));
    r.op(a, set("/sr/a", "2", -1));
    r.op(a, delete("/sr/b", -1));
    r.op(a, create("/sp/kid", "", PERSISTENT));
    r.op(c, remove_watches("/sp", ANY));
    r.op(c, remove_watches("/sr", ANY));
    // A second reconnect of the same session (the runner drops the old connection).
    r.op(c, Request::WhoAmI);
    r.reconnect(c);
    r.op(c, Request::WhoAmI);
    // Resuming with a wrong password is refused; the session itself is untouched.
    // ZooKeeper closes the session's current connection before it checks the password.
    r.reconnect_bad_password(c);
    r.reconnect(c);
    r.op(c, exists("/sp", false));
}

fn acls_and_auth(r: &mut Runner, a: usize) {
    r.op(a, auth("digest", "bob:secret"));
    r.op(a, Request::WhoAmI);
    r.op(a, auth("digest", "bob:secret"));
    r.op(a, Request::WhoAmI);
    r.op(a, create("/acl", "", PERSISTENT));
    r.op(
        a,
        create2_acl("/acl/bob", "b", vec![acl(ALL, "auth", "")], PERSISTENT),
    );
    r.op(a, get_acl("/acl/bob"));
    r.op(
        a,
        create2_acl(
            "/acl/bob2",
            "b",
            vec![
                acl(READ | WRITE, "auth", "ignored"),
                acl(READ, "world", "anyone"),
            ],
            PERSISTENT,
        ),
    );
    r.op(a, get_acl("/acl/bob2"));
    let bob = || acl(ALL, "digest", BOB_DIGEST);
    // One node per permission: the world gets only that permission, bob gets all.
    let nodes: [(&str, i32); 7] = [
        ("/acl/none", 0),
        ("/acl/r", READ),
        ("/acl/w", WRITE),
        ("/acl/c", CREATE),
        ("/acl/d", DELETE),
        ("/acl/a", ADMIN),
        ("/acl/all-but-read", ALL & !READ),
    ];
    for (path, perm) in nodes {
        let list = if perm == 0 {
            vec![bob()]
        } else {
            vec![acl(perm, "world", "anyone"), bob()]
        };
        r.op(a, create_acl(path, "secret", list, PERSISTENT));
        r.op(a, create(&format!("{path}/x"), "", PERSISTENT));
    }
    r.op(
        a,
        create_acl(
            "/acl/ip",
            "ip",
            vec![acl(ALL, "ip", "127.0.0.1")],
            PERSISTENT,
        ),
    );
    r.op(
        a,
        create_acl(
            "/acl/ipnet",
            "ip",
            vec![acl(READ, "ip", "127.0.0.0/8")],
            PERSISTENT,
        ),
    );
    r.op(
        a,
        create_acl(
            "/acl/ipother",
            "ip",
            vec![acl(ALL, "ip", "10.1.2.3")],
            PERSISTENT,
        ),
    );
    r.op(
        a,
        create_acl("/acl/ipv6", "ip", vec![acl(ALL, "ip", "::1")], PERSISTENT),
    );

    // d: an anonymous session tries every op on every node.
    let d = r.connect();
    r.op(d, Request::WhoAmI);
    for (path, perm) in nodes {
        let list = if perm == 0 {
            vec![bob()]
        } else {
            vec![acl(perm, "world", "anyone"), bob()]
        };
        r.op(d, get(path, false));
        r.op(d, children(path, false));
        r.op(d, children2(path, false));
        r.op(d, all_children(path));
        r.op(d, get_acl(path));
        r.op(d, set(path, "x", -1));
        r.op(d, create(&format!("{path}/new"), "", PERSISTENT));
        r.op(d, create2(&format!("{path}/new2"), "", EPHEMERAL));
        r.op(d, container(&format!("{path}/cont"), "", CONTAINER));
        r.op(d, create_ttl(&format!("{path}/ttl"), "", TTL, HOUR));
        r.op(d, delete(&format!("{path}/x"), -1));
        r.op(d, multi(vec![m_check(path, -1)]));
        r.op(
            d,
            multi(vec![m_create(&format!("{path}/m"), "", PERSISTENT)]),
        );
        r.op(d, multi(vec![m_set(path, "m", -1)]));
        r.op(d, multi_read(vec![m_get(path), m_children(path)]));
        r.op(d, sync(path));
        r.op(d, set_acl(path, list, -1));
        // What d managed to change, as the owner sees it.
        r.op(a, children2(path, false));
    }
    r.op(d, get("/acl/bob", false));
    r.op(d, get_acl("/acl/bob"));
    r.op(d, get_acl("/acl/bob2"));
    r.op(d, get("/acl/ip", false));
    r.op(d, get("/acl/ipnet", false));
    r.op(d, set("/acl/ipnet", "x", -1));
    r.op(d, get("/acl/ipother", false));
    r.op(d, get("/acl/ipv6", false));
    r.op(d, ephemerals("/acl"));
    r.op(d, Request::WhoAmI);
    // Wrong password: the auth itself succeeds, the id just does not match.
    r.op(d, auth("digest", "bob:wrong"));
    r.op(d, Request::WhoAmI);
    r.op(d, get("/acl/bob", false));
    r.op(d, get("/acl/none", false));
    // A second identity on the same connection.
    r.op(d, auth("digest", "bob:secret"));
    r.op(d, Request::WhoAmI);
    r.op(d, get("/acl/bob", false));
    r.op(d, get("/acl/none", false));
    r.op(d, set_acl("/acl/none", vec![acl(ALL, "auth", "")], -1));
    r.op(d, get_acl("/acl/none"));

    // setACL versions (aversion) and validation, as the owner.
    r.op(a, get_acl("/acl/r"));
    r.op(
        a,
        set_acl("/acl/r", vec![acl(READ, "world", "anyone"), bob()], 5),
    );
    r.op(
        a,
        set_acl(
            "/acl/r",
            vec![acl(READ | WRITE, "world", "anyone"), bob()],
            0,
        ),
    );
    r.op(
        a,
        set_acl("/acl/r", vec![acl(READ, "world", "anyone"), bob()], 0),
    );
    r.op(
        a,
        set_acl("/acl/r", vec![acl(READ, "world", "anyone"), bob()], 1),
    );
    r.op(
        a,
        set_acl("/acl/r", vec![acl(READ, "world", "anyone"), bob()], -1),
    );
    r.op(a, get_acl("/acl/r"));
    r.op(a, exists("/acl/r", false));
    r.op(a, set_acl("/acl/r", vec![], -1));
    r.op(a, set_acl("/acl/r", vec![acl(ALL, "nosuch", "x")], -1));
    r.op(a, set_acl("/acl/r", vec![acl(ALL, "ip", "999.1.1.1")], -1));
    r.op(a, set_acl("/acl/nope", open(), -1));
    r.op(a, set_acl("/acl/nope", vec![], -1));
    r.op(a, set_acl("/acl/r", open(), -2));
    r.op(a, get_acl("/acl/nope"));
    r.op(a, get("/acl/r", false));

    // A digest without a colon (on a session of its own: a server may refuse it).
    let h = r.connect();
    r.op(h, auth("digest", "alice"));
    r.op(h, Request::WhoAmI);
    r.reconnect(h);
    r.op_then_closed(h, Request::CloseSession);

    // Authentication failures close the connection.
    let e = r.connect();
    r.op(e, auth("ip", "127.0.0.1"));
    r.op(e, Request::WhoAmI);
    let f = r.connect();
    r.op_then_closed(f, auth("nosuch", "x"));
    let g = r.connect();
    r.op_then_closed(g, auth("super", "whatever"));
    // Resume f (its session still exists) and close it properly; the same for the others.
    r.reconnect(f);
    r.op(f, Request::WhoAmI);
    r.op_then_closed(f, Request::CloseSession);
    r.reconnect(g);
    r.op_then_closed(g, Request::CloseSession);
    r.op_then_closed(e, Request::CloseSession);
    r.op_then_closed(d, Request::CloseSession);
}

fn ephemerals_and_session_close(r: &mut Runner, a: usize, b: usize) {
    let c = r.connect();
    r.op(c, create("/e", "", PERSISTENT));
    r.op(c, create("/e/1", "", EPHEMERAL));
    r.op(c, create2("/e/2-", "", EPHEMERAL_SEQUENTIAL));
    r.op(c, create("/e2", "", EPHEMERAL));
    r.op(c, ephemerals("/"));
    r.op(c, ephemerals("/e"));
    r.op(c, ephemerals("/e/"));
    r.op(c, ephemerals("/e/1"));
    r.op(c, ephemerals("/e2"));
    r.op(a, ephemerals("/e"));
    r.op(a, exists("/e/1", false));
    r.op(a, all_children("/e"));
    r.op(c, delete("/e/2-0000000001", -1));
    r.op(c, delete("/e2", -1));
    r.op(b, exists("/e/1", true));
    r.op(b, children("/e", true));
    r.op(b, children("/e/1", true));
    r.op_then_closed(c, Request::CloseSession);
    r.op(a, exists("/e/1", false));
    r.op(a, children2("/e", false));
    r.op(a, ephemerals("/"));
    // A closed session cannot be resumed.
    r.reconnect(c);
}

/// Requests a normal client does not send, or sends only in odd situations; each on a
/// session of its own because the server may close the connection.
fn odd_requests(r: &mut Runner, a: usize) {
    let s = r.connect();
    // Reads with paths a client would refuse to send.
    for path in ["", "d", "/d/", "//", "/d/./p", "/d/x\u{0}y"] {
        r.op(s, get(path, false));
        r.op(s, exists(path, false));
        r.op(s, children(path, false));
    }
    r.op(s, get_acl("d"));
    r.op(s, all_children(""));
    r.op(s, sync(""));
    r.op(s, sync("d"));
    r.op(s, ephemerals("d"));
    r.op(s, set("d", "", -1));
    r.op(s, delete("d", -1));
    r.op(s, delete("/d/", -1));
    r.op(s, set_acl("d", open(), -1));
    r.op(s, add_watch("d", 0));
    r.op(s, check_watches("d", ANY));
    r.op(s, remove_watches("d", ANY));
    // (A standalone check, op 13 outside a multi, is left out: ZooKeeper 3.8.0 consumes a
    // zxid for it and never replies.)
    r.op(s, get("/d", false));
    r.op_then_closed(s, Request::CloseSession);

    let s = r.connect();
    r.op(s, add_watch("/d", 2));
    r.op(s, add_watch("/d", -1));
    r.op(s, Request::Ping);
    r.op_then_closed(s, Request::CloseSession);

    // A read inside multi and a write inside multiRead.
    let s = r.connect();
    r.op(s, multi(vec![m_get("/d")]));
    r.op(
        s,
        multi(vec![m_create("/mixed", "", PERSISTENT), m_get("/d")]),
    );
    r.op(s, multi_read(vec![m_create("/mixed", "", PERSISTENT)]));
    r.op(s, multi_read(vec![m_get("/d"), m_set("/d", "", -1)]));
    r.op(a, exists("/mixed", false));
    r.op(s, Request::Ping);
    r.op_then_closed(s, Request::CloseSession);

    // SASL without a SASL provider.
    let s = r.connect();
    r.op(
        s,
        Request::Sasl(GetSaslRequest {
            token: Some(Bytes::from_static(b"\x00token")),
        }),
    );
    r.op(s, Request::Ping);
    r.op_then_closed(s, Request::CloseSession);

    // An unknown opcode: Unimplemented, then the server closes the connection.
    let s = r.connect();
    r.raw_then_closed(s, 77, 999, &[]);
    r.reconnect(s);
    r.op_then_closed(s, Request::CloseSession);
    // deleteContainer (20) is the server's own; opcode 10 is unused.
    let s = r.connect();
    r.raw_then_closed(s, 78, 10, &[]);
    r.reconnect(s);
    r.op_then_closed(s, Request::CloseSession);
}

// ---- scenarios for the README's intended differences ------------------------------------

/// exists on a node without READ (README: "exists needs READ ... as in 3.8.4").
/// Step 3 is the exists; ZooKeeper 3.8.0 answers with the Stat, ferrokeeper with NoAuth.
pub fn intended_exists_needs_read(r: &mut Runner) {
    let a = r.connect(); // step 0
    let b = r.connect(); // step 1
    r.op(
        a,
        create_acl("/x", "", vec![acl(WRITE, "world", "anyone")], PERSISTENT),
    ); // step 2
    r.op(b, exists("/x", false)); // step 3
    r.op(b, exists("/nope", false)); // step 4
    r.op_then_closed(b, Request::CloseSession);
    r.op_then_closed(a, Request::CloseSession);
}

/// A persistent watch and a one-shot data watch on the same path and connection
/// (README: "Watches of different kinds coexist", ZOOKEEPER-4466). Step 5 is the second
/// setData: ZooKeeper 3.8.0 has turned the persistent watch into a one-shot one and sends
/// nothing; ferrokeeper still delivers NodeDataChanged to session#1.
pub fn intended_watch_kinds_coexist(r: &mut Runner) {
    let a = r.connect(); // 0
    let b = r.connect(); // 1
    r.op(b, create("/k", "", PERSISTENT)); // 2
    r.op(a, add_watch("/k", 0)); // 3
    r.op(a, get("/k", true)); // 4 -- then:
    r.op(b, set("/k", "1", -1)); // 5: both servers: one event
    r.op(b, set("/k", "2", -1)); // 6: ZooKeeper 3.8.0: none; ferrokeeper: one
    r.op_then_closed(b, Request::CloseSession);
    r.op_then_closed(a, Request::CloseSession);
}

/// removeWatches/checkWatches with type Data on a persistent watch (README: "reach only
/// one-shot watches", ZOOKEEPER-4471). Steps 3 (checkWatches Data) and 4 (removeWatches
/// Data): ZooKeeper 3.8.0 answers 0, ferrokeeper −121 NoWatcher.
pub fn intended_remove_watches_type(r: &mut Runner) {
    let a = r.connect(); // 0
    r.op(a, create("/rm", "", PERSISTENT)); // 1
    r.op(a, add_watch("/rm", 0)); // 2
    r.op(a, check_watches("/rm", DATA)); // 3
    r.op(a, remove_watches("/rm", DATA)); // 4
    r.op(a, remove_watches("/rm", ANY)); // 5
    r.op_then_closed(a, Request::CloseSession);
}

/// checkWatches where only another connection holds the watch (README: "checkWatches
/// looks only at the asking connection's watches"). Step 3: ZooKeeper 3.8.0 answers 0,
/// ferrokeeper −121 NoWatcher.
pub fn intended_check_watches_per_connection(r: &mut Runner) {
    let a = r.connect(); // 0
    let b = r.connect(); // 1
    r.op(b, get("/zookeeper", true)); // 2
    r.op(a, check_watches("/zookeeper", DATA)); // 3
    r.op(a, remove_watches("/zookeeper", DATA)); // 4: both -121
    r.op_then_closed(b, Request::CloseSession);
    r.op_then_closed(a, Request::CloseSession);
}

// ---- quotas (run with zookeeper.enforceQuota=true on both servers) ----------------------

/// Creates the quota nodes of `path` as zkCli's `setquota` does (parents, limits, then
/// stats), so the server counts the subtree when the stats node appears.
fn set_quota(r: &mut Runner, s: usize, path: &str, limits: &str) {
    let mut at = String::from("/zookeeper/quota");
    for part in path.split('/').filter(|p| !p.is_empty()) {
        at = format!("{at}/{part}");
        r.op(s, create(&at, "", PERSISTENT));
    }
    r.op(
        s,
        create(&format!("{at}/zookeeper_limits"), limits, PERSISTENT),
    );
    r.op(
        s,
        create(
            &format!("{at}/zookeeper_stats"),
            "count=0,bytes=0",
            PERSISTENT,
        ),
    );
}

/// Quota usage and hard limits: the usage a stats node shows after each kind of write
/// (create, setData, delete, an ephemeral leaving with its session, a failed multi,
/// the deepest of two quotas), and the writes a hard limit refuses (QuotaExceeded) or a
/// soft one lets through. No multi that goes over a limit only through its own earlier
/// ops: ZooKeeper checks each op against the tree before the multi (README: "Intended
/// differences").
pub fn quotas(r: &mut Runner) {
    let a = r.connect();
    let b = r.connect();
    r.op(a, create("/q", "", PERSISTENT));
    r.op(a, create("/q/a", "hello", PERSISTENT));
    r.op(a, create("/q/a/b", "x", PERSISTENT));
    r.op(a, create("/q/ab", "not under /q/a", PERSISTENT));
    set_quota(
        r,
        a,
        "/q/a",
        "count=-1,bytes=-1=;byteHardLimit=25;countHardLimit=4",
    );
    let stats = "/zookeeper/quota/q/a/zookeeper_stats";
    r.op(a, get(stats, false));
    r.op(a, create("/q/a/c", "12345", PERSISTENT));
    r.op(a, get(stats, false));
    r.op(a, set("/q/a/b", "a longer one", -1));
    r.op(a, get(stats, false));
    // Bytes: 5 + 12 + 9 = 26 > 25 is refused; shrinking is always allowed.
    r.op(a, set("/q/a/c", "123456789", -1));
    r.op(a, set("/q/a/b", "", -1));
    r.op(a, get(stats, false));
    r.op(a, create("/q/a/e", "", EPHEMERAL));
    r.op(a, get(stats, false));
    // Count: 4 nodes, the limit.
    r.op(b, create("/q/a/d", "", PERSISTENT));
    r.op(b, multi(vec![m_create("/q/a/d", "", PERSISTENT)]));
    r.op(
        b,
        multi(vec![
            m_set("/q/a", "", -1),
            m_create("/q/a/d", "", PERSISTENT),
        ]),
    );
    r.op(b, set("/q/a/c", "123456789012345678901234567890", 99));
    r.op(a, get(stats, false));
    r.op_then_closed(a, Request::CloseSession);
    r.op(b, get(stats, false));
    r.op(b, create("/q/a/d", "", PERSISTENT));
    r.op(b, get(stats, false));
    // A failed multi leaves usage alone.
    r.op(
        b,
        multi(vec![
            m_delete("/q/a/d", -1),
            m_create("/nosuch/x", "", PERSISTENT),
        ]),
    );
    r.op(b, get(stats, false));
    // A deeper quota takes its subtree's changes; a soft limit lets writes through.
    set_quota(r, b, "/q/a/b", "count=1,bytes=-1");
    r.op(b, get("/zookeeper/quota/q/a/b/zookeeper_stats", false));
    r.op(b, delete("/q/a/d", -1));
    r.op(b, create("/q/a/b/x", "", PERSISTENT));
    r.op(b, create("/q/a/b/y", "", PERSISTENT));
    r.op(b, get("/zookeeper/quota/q/a/b/zookeeper_stats", false));
    r.op(b, get(stats, false));
    // Deleting the limits node ends the quota; the stats node stays as it was.
    r.op(b, delete("/zookeeper/quota/q/a/zookeeper_limits", -1));
    r.op(b, create("/q/a/d", "", PERSISTENT));
    r.op(b, create("/q/a/f", "", PERSISTENT));
    r.op(b, get(stats, false));
    r.op_then_closed(b, Request::CloseSession);
}

/// A multi that goes over a hard count limit only through its own first op
/// (README: "Intended differences"). Step 5 is the multi: ZooKeeper 3.8 checks each op
/// against the tree before the multi and lets it through; ferrokeeper refuses it.
pub fn intended_quota_within_multi(r: &mut Runner) {
    let a = r.connect(); // 0
    r.op(a, create("/m", "", PERSISTENT)); // 1
    set_quota(r, a, "/m", "count=-1,bytes=-1=;countHardLimit=2"); // 2..=4
    r.op(
        a,
        multi(vec![
            m_create("/m/x", "", PERSISTENT),
            m_create("/m/y", "", PERSISTENT),
        ]),
    ); // 5
    r.op(a, get("/zookeeper/quota/m/zookeeper_stats", false)); // 6
    r.op_then_closed(a, Request::CloseSession);
}
