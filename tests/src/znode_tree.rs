//! A whole ZooKeeper tree as a client sees it, for comparing two servers (or one server
//! before and after a restart, an import or an export) znode by znode.
//!
//! [`dump_tree`] walks every znode from `/` over one raw-protocol session (so null data
//! stays distinguishable from empty data) and records its data, its Stat exactly as the
//! server returns it, and its ACL. [`assert_same_tree`] compares two dumps and fails
//! with every difference, field by field.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

use bytes::Bytes;
use ferrokeeper_protocol::{
    Acl, AuthPacket, GetAclRequest, GetChildren2Request, GetDataRequest, ReplyFrame, Request,
    Response, Stat,
};

use crate::raw::RawClient;

/// One znode: data (`None` = stored as null), Stat and ACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Znode {
    pub data: Option<Bytes>,
    pub stat: Stat,
    pub acl: Vec<Acl>,
}

/// Every znode by absolute path.
pub type Tree = BTreeMap<String, Znode>;

/// Sends `request` and returns its reply (the last frame: a dump arms no watches, so no
/// notification comes first).
fn reply(client: &mut RawClient, request: Request, what: &str) -> ReplyFrame {
    let mut frames = client
        .call(request)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    frames.pop().unwrap_or_else(|| panic!("{what}: no reply"))
}

/// Adds `user:password` as a digest identity to the session (ZooKeeper answers a
/// refused one by closing the connection).
pub fn add_digest(client: &mut RawClient, user_password: &str) {
    let frame = reply(
        client,
        Request::Auth(AuthPacket {
            r#type: 0,
            scheme: "digest".into(),
            auth: Bytes::copy_from_slice(user_password.as_bytes()),
        }),
        "addAuth",
    );
    assert_eq!(
        frame.header.err, 0,
        "addAuth digest {user_password} refused"
    );
}

fn child_path(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// Every znode of the server at `addr`, read over a fresh session that first adds each
/// `user:password` of `digests` (so nodes readable only by those identities are read,
/// and their ACLs are returned unmasked where the identity has ADMIN). The session is
/// closed again. Panics naming the path if any read fails (e.g. NoAuth: a scenario must
/// keep every node readable by the dumping session).
pub fn dump_tree(addr: SocketAddr, digests: &[&str]) -> Tree {
    let (mut client, _) =
        RawClient::connect(addr, 30_000, None).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    for digest in digests {
        add_digest(&mut client, digest);
    }
    let mut tree = Tree::new();
    let mut pending = vec!["/".to_owned()];
    while let Some(path) = pending.pop() {
        let data = reply(
            &mut client,
            Request::GetData(GetDataRequest {
                path: path.clone(),
                watch: false,
            }),
            "getData",
        );
        let acl = reply(
            &mut client,
            Request::GetAcl(GetAclRequest { path: path.clone() }),
            "getACL",
        );
        let children = reply(
            &mut client,
            Request::GetChildren2(GetChildren2Request {
                path: path.clone(),
                watch: false,
            }),
            "getChildren2",
        );
        let (Response::GetData(data), Response::GetAcl(acl), Response::GetChildren2(children)) =
            (data.response, acl.response, children.response)
        else {
            panic!("reading {path} on {addr} failed (every znode must be readable by the dump)");
        };
        assert_eq!(
            data.stat, acl.stat,
            "{path}: getData and getACL returned different Stats (changed during the dump?)"
        );
        for name in &children.children {
            pending.push(child_path(&path, name));
        }
        tree.insert(
            path,
            Znode {
                data: data.data,
                stat: data.stat,
                acl: acl.acl,
            },
        );
    }
    // Closing is best effort: the session expires anyway.
    let _ = client.call(Request::CloseSession);
    tree
}

/// The Stat fields that differ between `a` and `b`, as "name: a != b".
pub fn stat_differences(a: &Stat, b: &Stat) -> Vec<String> {
    let fields: [(&str, i64, i64); 11] = [
        ("czxid", a.czxid, b.czxid),
        ("mzxid", a.mzxid, b.mzxid),
        ("ctime", a.ctime, b.ctime),
        ("mtime", a.mtime, b.mtime),
        ("version", a.version.into(), b.version.into()),
        ("cversion", a.cversion.into(), b.cversion.into()),
        ("aversion", a.aversion.into(), b.aversion.into()),
        ("ephemeralOwner", a.ephemeral_owner, b.ephemeral_owner),
        ("dataLength", a.data_length.into(), b.data_length.into()),
        ("numChildren", a.num_children.into(), b.num_children.into()),
        ("pzxid", a.pzxid, b.pzxid),
    ];
    fields
        .iter()
        .filter(|(_, x, y)| x != y)
        .map(|(name, x, y)| format!("{name}: {x:#x} != {y:#x}"))
        .collect()
}

fn show_data(data: &Option<Bytes>) -> String {
    match data {
        None => "null".to_owned(),
        Some(bytes) => format!("{:?}", String::from_utf8_lossy(bytes)),
    }
}

fn show_acl(acl: &[Acl]) -> String {
    acl.iter()
        .map(|a| format!("{}:{}:{:#x}", a.id.scheme, a.id.id, a.perms))
        .collect::<Vec<_>>()
        .join(",")
}

/// Every difference between two dumps, one line each (empty when identical).
pub fn tree_differences(expected: &Tree, actual: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for (path, want) in expected {
        let Some(got) = actual.get(path) else {
            out.push(format!("{path}: missing"));
            continue;
        };
        if want.data != got.data {
            out.push(format!(
                "{path}: data {} != {}",
                show_data(&want.data),
                show_data(&got.data)
            ));
        }
        for field in stat_differences(&want.stat, &got.stat) {
            out.push(format!("{path}: {field}"));
        }
        if want.acl != got.acl {
            out.push(format!(
                "{path}: acl [{}] != [{}]",
                show_acl(&want.acl),
                show_acl(&got.acl)
            ));
        }
    }
    for path in actual.keys().filter(|p| !expected.contains_key(*p)) {
        out.push(format!("{path}: unexpected (not in the expected tree)"));
    }
    out
}

/// Fails with every difference (expected value first) unless the dumps are identical.
pub fn assert_same_tree(what: &str, expected: &Tree, actual: &Tree) {
    let differences = tree_differences(expected, actual);
    if differences.is_empty() {
        return;
    }
    let mut msg = format!(
        "{what}: {} difference(s) over {} expected znodes (expected value first):\n",
        differences.len(),
        expected.len()
    );
    for line in differences.iter().take(60) {
        let _ = writeln!(msg, "  {line}");
    }
    if differences.len() > 60 {
        let _ = writeln!(msg, "  ... and {} more", differences.len() - 60);
    }
    panic!("{msg}");
}

/// The largest zxid any Stat of the tree names (czxid, mzxid or pzxid).
pub fn max_zxid(tree: &Tree) -> i64 {
    tree.values()
        .flat_map(|n| [n.stat.czxid, n.stat.mzxid, n.stat.pzxid])
        .max()
        .unwrap_or(0)
}

/// The server's last processed zxid, from the `Zxid: 0x…` line of `srvr` (ZooKeeper
/// and ferrokeeper alike).
pub fn srvr_zxid(addr: SocketAddr) -> i64 {
    let answer = crate::four_letter(addr, "srvr");
    let hex = answer
        .lines()
        .find_map(|line| line.strip_prefix("Zxid: 0x"))
        .unwrap_or_else(|| panic!("no Zxid line in srvr answer from {addr}:\n{answer}"));
    i64::from_str_radix(hex.trim(), 16)
        .unwrap_or_else(|e| panic!("srvr Zxid {hex:?} from {addr}: {e}"))
}
