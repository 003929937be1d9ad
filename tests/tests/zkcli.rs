//! ZooKeeper's own shell, `zkCli.sh` from Debian's `zookeeper` package, scripted
//! against a real `ferrokeeper` process. Each invocation reads its commands from stdin
//! (no JLine without a terminal) and runs them one by one; after every command the
//! script adds `ls /__step_N`, whose "Node does not exist: /__step_N" line marks where
//! that command's output ends. The expected outputs are what zkCli printed against
//! Apache ZooKeeper 3.8.0 for the same scripts (times, zxids and session ids elided).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ferrokeeper_tests::Ferrokeeper;
use ferrokeeper_tests::process::{on_path, require, run};

const ZKCLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";
const MARKER: &str = "Node does not exist: /__step_";

/// What one zkCli invocation printed, split per command.
struct Session {
    /// One entry per command: its output lines, normalised.
    outputs: Vec<(String, Vec<String>)>,
    /// Every `WatchedEvent ...` line, in order.
    events: Vec<String>,
    raw: String,
}

fn extended(server_args: &[&'static str]) -> Vec<&'static str> {
    let mut args = vec!["-Dzookeeper.extendedTypesEnabled=true"];
    args.extend_from_slice(server_args);
    args
}

/// Replaces what differs from run to run in zkCli's stat lines.
fn normalise(line: &str) -> String {
    for key in ["cZxid = ", "mZxid = ", "pZxid = "] {
        if let Some(v) = line.strip_prefix(key) {
            return if v == "0x0" {
                line.to_owned()
            } else {
                format!("{key}<zxid>")
            };
        }
    }
    for key in ["ctime = ", "mtime = "] {
        if line.starts_with(key) {
            return format!("{key}<time>");
        }
    }
    if let Some(v) = line.strip_prefix("ephemeralOwner = ")
        && v != "0x0"
    {
        return "ephemeralOwner = <session>".to_owned();
    }
    line.to_owned()
}

/// ZooKeeper lists a session's auth ids and ephemerals from hash sets: compare them
/// in sorted order.
fn unordered(cmd: &str, mut lines: Vec<String>) -> Vec<String> {
    if cmd.starts_with("whoami") {
        lines.sort();
    } else if cmd.starts_with("getEphemerals") {
        for line in &mut lines {
            if let Some(inner) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let mut items: Vec<&str> = inner.split(", ").filter(|s| !s.is_empty()).collect();
                items.sort_unstable();
                *line = format!("[{}]", items.join(", "));
            }
        }
    }
    lines
}

/// Runs `commands` in one zkCli session against `server`.
fn zkcli(server: &Ferrokeeper, commands: &[&str]) -> Session {
    require(Path::new(ZKCLI).is_file(), "zkCli.sh (Debian zookeeper)");
    require(on_path("java"), "java (Debian default-jre-headless)");
    // No marker after `close`: a closed session cannot run it. Its output, if any,
    // goes to the next command's.
    let marked: Vec<&str> = commands
        .iter()
        .copied()
        .filter(|cmd| *cmd != "close")
        .collect();
    let mut script = String::new();
    let mut step = 0;
    for cmd in commands {
        script.push_str(cmd);
        script.push('\n');
        if *cmd != "close" {
            step += 1;
            script.push_str(&format!("ls /__step_{step}\n"));
        }
    }
    script.push_str("quit\n");
    // stdout and stderr on one pipe, so error texts stay in command order.
    let out = run(
        Command::new("bash")
            .args(["-c", "exec \"$0\" \"$@\" 2>&1", ZKCLI, "-server"])
            .arg(server.connect_string()),
        Some(script.as_bytes()),
        "zkCli.sh",
        Duration::from_secs(120),
    );
    // Its exit code is the last command's, and the last marker always fails: 1.
    assert!(
        out.status.code().is_some(),
        "zkCli.sh was killed\n{}",
        out.dump()
    );
    let noise = [
        "SLF4J:",
        "Connecting to ",
        "Welcome to ZooKeeper!",
        "JLine support is disabled",
        "WATCHER::",
    ];
    let mut sections: Vec<Vec<String>> = vec![Vec::new()];
    let mut events = Vec::new();
    for line in out.stdout.lines() {
        let line = line.trim_end();
        if line.is_empty() || noise.iter().any(|n| line.starts_with(n)) {
            continue;
        }
        if line.starts_with("WatchedEvent ") {
            events.push(line.to_owned());
        } else if let Some(n) = line.strip_prefix(MARKER) {
            assert_eq!(
                n.parse::<usize>().ok(),
                Some(sections.len()),
                "step markers out of order\n{}",
                out.dump()
            );
            sections.push(Vec::new());
        } else if let Some(last) = sections.last_mut() {
            last.push(normalise(line));
        }
    }
    assert_eq!(
        sections.len(),
        marked.len() + 1,
        "zkCli did not run every command\n{}",
        out.dump()
    );
    let trailing = sections.pop().unwrap_or_default();
    assert!(
        trailing.is_empty(),
        "output after the last command: {trailing:?}\n{}",
        out.dump()
    );
    let outputs = marked
        .iter()
        .zip(sections)
        .map(|(cmd, lines)| ((*cmd).to_owned(), unordered(cmd, lines)))
        .collect();
    eprintln!("zkCli: {} commands in {:?}", commands.len(), out.elapsed);
    Session {
        outputs,
        events,
        raw: out.stdout,
    }
}

/// Runs `steps` (command, expected output lines) in one session and checks every
/// command's output; returns the session for further checks.
fn script(server: &Ferrokeeper, steps: &[(&str, &[&str])]) -> Session {
    let commands: Vec<&str> = steps.iter().map(|(cmd, _)| *cmd).collect();
    let session = zkcli(server, &commands);
    let mut failures = String::new();
    for ((cmd, want), (_, got)) in steps.iter().zip(&session.outputs) {
        let want = unordered(cmd, want.iter().map(|s| (*s).to_owned()).collect());
        if &want != got {
            failures.push_str(&format!(
                "`{cmd}`\n  expected (ZooKeeper 3.8): {want:?}\n  ferrokeeper:              {got:?}\n"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "zkCli output differs:\n{failures}\n--- raw output ---\n{}",
        session.raw
    );
    session
}

const SYNC_CONNECTED: &str = "WatchedEvent state:SyncConnected type:None path:null";
const CLOSED: &str = "WatchedEvent state:Closed type:None path:null";

fn stat(
    cversion: u32,
    data_version: u32,
    acl_version: u32,
    owner: &'static str,
    len: u32,
    children: u32,
) -> Vec<String> {
    vec![
        "cZxid = <zxid>".into(),
        "ctime = <time>".into(),
        "mZxid = <zxid>".into(),
        "mtime = <time>".into(),
        "pZxid = <zxid>".into(),
        format!("cversion = {cversion}"),
        format!("dataVersion = {data_version}"),
        format!("aclVersion = {acl_version}"),
        format!("ephemeralOwner = {owner}"),
        format!("dataLength = {len}"),
        format!("numChildren = {children}"),
    ]
}

fn with(head: &[&str], stat: Vec<String>) -> Vec<String> {
    head.iter().map(|s| (*s).to_owned()).chain(stat).collect()
}

fn leak(lines: Vec<String>) -> &'static [&'static str] {
    let v: Vec<&'static str> = lines
        .into_iter()
        .map(|s| &*Box::leak(s.into_boxed_str()))
        .collect();
    Box::leak(v.into_boxed_slice())
}

/// create (plain, -e, -s, -e -s, errors), get -s, set -v (BadVersion), stat, ls, ls -s,
/// ls -R, getAllChildrenNumber, getEphemerals, delete (NotEmpty, NoNode, BadVersion),
/// deleteall, sync, config, whoami.
#[test]
fn create_get_set_stat_ls_delete() {
    let server = Ferrokeeper::start(&extended(&[]));
    let a4 = |dv, len| stat(4, dv, 0, "0x0", len, 4);
    let steps: Vec<(&str, &[&str])> = vec![
        ("create /a hello", &["Created /a"]),
        ("create /a x", &["Node already exists: /a"]),
        ("create /a/b bee", &["Created /a/b"]),
        ("create -e /a/eph e", &["Created /a/eph"]),
        ("create -s /a/seq- s", &["Created /a/seq-0000000002"]),
        ("create -e -s /a/es- es", &["Created /a/es-0000000003"]),
        (
            "create /a/eph/x",
            &["Ephemerals cannot have children: /a/eph/x"],
        ),
        ("create /nope/x", &["Node does not exist: /nope/x"]),
        ("create bad", &["Path must start with / character"]),
        ("create /empty", &["Created /empty"]),
        ("get -s /a", leak(with(&["hello"], a4(0, 5)))),
        ("get /empty", &["null"]),
        ("get /nope", &["Node does not exist: /nope"]),
        ("set -v 0 /a world", &[]),
        ("set -v 0 /a again", &["version No is not valid : /a"]),
        ("set /nope x", &["Node does not exist: /nope"]),
        ("set -s /a third", leak(a4(2, 5))),
        ("stat /a", leak(a4(2, 5))),
        ("stat /a/eph", leak(stat(0, 0, 0, "<session>", 1, 0))),
        ("stat /nope", &["Node does not exist: /nope"]),
        ("ls /a", &["[b, eph, es-0000000003, seq-0000000002]"]),
        (
            "ls -s /a",
            leak(with(&["[b, eph, es-0000000003, seq-0000000002]"], a4(2, 5))),
        ),
        (
            "ls -R /a",
            &[
                "/a",
                "/a/b",
                "/a/eph",
                "/a/es-0000000003",
                "/a/seq-0000000002",
            ],
        ),
        ("ls /", &["[a, empty, zookeeper]"]),
        ("ls /nope", &["Node does not exist: /nope"]),
        ("getAllChildrenNumber /a", &["4"]),
        ("getAllChildrenNumber /", &["9"]),
        ("getEphemerals", &["[/a/eph, /a/es-0000000003]"]),
        ("getEphemerals /a/e", &["[/a/eph, /a/es-0000000003]"]),
        ("delete /a", &["Node not empty: /a"]),
        ("delete /nope", &["Node does not exist: /nope"]),
        ("delete -v 7 /a/b", &["version No is not valid : /a/b"]),
        ("delete /a/b", &[]),
        ("deleteall /a", &[]),
        ("deleteall /nope", &["Node does not exist: /nope"]),
        ("ls /", &["[empty, zookeeper]"]),
        ("sync /", &["Sync is OK"]),
        // standalone: /zookeeper/config is empty, so zkCli prints an empty line
        ("config", &[]),
        ("whoami", &["Auth scheme: User", "ip: 127.0.0.1"]),
    ];
    let session = script(&server, &steps);
    assert_eq!(session.events, [SYNC_CONNECTED, CLOSED]);
}

/// getAcl (-s), setAcl with -v (BadVersion), NoAuth texts, addauth digest, the "auth"
/// scheme, a digest ACL masked as "x" without ADMIN, InvalidACL; then a second
/// session without credentials, which gets NoAuth until it adds them.
#[test]
fn acls_and_digest_auth() {
    let server = Ferrokeeper::start(&extended(&[]));
    let first: Vec<(&str, &[&str])> = vec![
        ("create /open o", &["Created /open"]),
        ("getAcl /open", &["'world,'anyone", ": cdrwa"]),
        (
            "getAcl -s /open",
            leak(with(
                &["'world,'anyone", ": cdrwa"],
                stat(0, 0, 0, "0x0", 1, 0),
            )),
        ),
        (
            "setAcl -v 5 /open world:anyone:r",
            &["version No is not valid : /open"],
        ),
        ("setAcl -v 0 /open world:anyone:r", &[]),
        ("getAcl /open", &["'world,'anyone", ": r"]),
        ("set /open x", &["Insufficient permission : /open"]),
        (
            "setAcl /nope world:anyone:r",
            &["Node does not exist: /nope"],
        ),
        ("addauth digest bob:secret", &[]),
        (
            "whoami",
            &["Auth scheme: User", "digest: bob", "ip: 127.0.0.1"],
        ),
        (
            "create /secure s auth:bob:secret:cdrwa",
            &["Created /secure"],
        ),
        (
            "getAcl /secure",
            &["'digest,'bob:fyVmFCwVbTJYrznoSu1koqYEYF0=", ": cdrwa"],
        ),
        ("get /secure", &["s"]),
        (
            "create /dig d digest:alice:V55/p2T0OpjQ+low3NVAH4aLvm0=:cdrwa,world:anyone:r",
            &["Created /dig"],
        ),
        (
            "getAcl /dig",
            &["'digest,'alice:x", ": cdrwa", "'world,'anyone", ": r"],
        ),
        ("set /dig x", &["Insufficient permission : /dig"]),
        (
            "create /badacl x digest:nocolon:cdrwa",
            &[
                "KeeperErrorCode = InvalidACL for /badacl",
                "Acl is not valid : /badacl",
            ],
        ),
    ];
    script(&server, &first);
    let second: Vec<(&str, &[&str])> = vec![
        ("get /secure", &["Insufficient permission : /secure"]),
        ("getAcl /secure", &["Insufficient permission : /secure"]),
        ("set /secure x", &["Insufficient permission : /secure"]),
        ("ls /secure", &["Insufficient permission : /secure"]),
        (
            "getAcl /dig",
            &["'digest,'alice:x", ": cdrwa", "'world,'anyone", ": r"],
        ),
        ("get /dig", &["d"]),
        ("addauth digest alice:pw", &[]),
        ("set /dig by-alice", &[]),
        (
            "getAcl /dig",
            &[
                "'digest,'alice:V55/p2T0OpjQ+low3NVAH4aLvm0=",
                ": cdrwa",
                "'world,'anyone",
                ": r",
            ],
        ),
        ("addauth digest bob:secret", &[]),
        ("get /secure", &["s"]),
        (
            "whoami",
            &[
                "Auth scheme: User",
                "digest: bob",
                "ip: 127.0.0.1",
                "digest: alice",
            ],
        ),
    ];
    script(&server, &second);
}

/// create -e, -e -s, -c (container), -t (TTL, needs extendedTypesEnabled) and their
/// refusals; getEphemerals; then a second session sees the first one's ephemerals
/// gone and its container and TTL nodes still there.
#[test]
fn ephemeral_container_and_ttl_nodes() {
    let server = Ferrokeeper::start(&extended(&[]));
    let first: Vec<(&str, &[&str])> = vec![
        ("create -e /e1 one", &["Created /e1"]),
        ("create -e -s /es- two", &["Created /es-0000000001"]),
        ("create -c /cont", &["Created /cont"]),
        ("create /cont/child x", &["Created /cont/child"]),
        ("create -t 100000 /ttl t", &["Created /ttl"]),
        (
            "create -t 100000 -s /ttls- t",
            &["Created /ttls-0000000004"],
        ),
        (
            "create -t 100000 -e /bad x",
            &["TTLs cannot be used with Ephemeral znodes"],
        ),
        (
            "create -t 0 /ttl0 t",
            &["ttl must be positive and cannot be larger than: 1099511627775"],
        ),
        // a TTL node's stat shows no owner
        ("stat /ttl", leak(stat(0, 0, 0, "0x0", 1, 0))),
        ("getEphemerals", &["[/es-0000000001, /e1]"]),
        ("getEphemerals /e", &["[/es-0000000001, /e1]"]),
    ];
    script(&server, &first);
    let second: Vec<(&str, &[&str])> = vec![
        ("stat /e1", &["Node does not exist: /e1"]),
        ("ls /", &["[cont, ttl, ttls-0000000004, zookeeper]"]),
        ("getEphemerals", &["[]"]),
        ("get /ttl", &["t"]),
        ("get /cont/child", &["x"]),
    ];
    script(&server, &second);
}

/// Watches as zkCli sets them: get -w, stat -w on a missing node, ls -w, addWatch
/// (persistent recursive by default, -m PERSISTENT), removewatches; the events zkCli
/// printed, in order.
#[test]
fn watches_and_add_watch() {
    let server = Ferrokeeper::start(&extended(&[]));
    let steps: Vec<(&str, &[&str])> = vec![
        ("create /w one", &["Created /w"]),
        ("get -w /w", &["one"]),
        ("stat -w /nope", &["Node does not exist: /nope"]),
        ("ls -w /w", &["[]"]),
        ("set /w two", &[]),
        ("set /w three", &[]),
        ("create /nope n", &["Created /nope"]),
        ("create /w/c c", &["Created /w/c"]),
        ("addWatch /r", &[]),
        ("create /r r", &["Created /r"]),
        ("create /r/c c", &["Created /r/c"]),
        ("set /r/c cc", &[]),
        ("delete /r/c", &[]),
        ("addWatch -m PERSISTENT /p", &[]),
        ("create /p p", &["Created /p"]),
        ("create /p/c c", &["Created /p/c"]),
        ("set /p/c cc", &[]),
        ("set /p pp", &[]),
        (
            "addWatch -m BAD /p",
            &[
                "addWatch [-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE",
            ],
        ),
        ("removewatches /p", &[]),
        ("set /p ppp", &[]),
    ];
    let session = script(&server, &steps);
    let ev = |t: &str, p: &str| format!("WatchedEvent state:SyncConnected type:{t} path:{p}");
    assert_eq!(
        session.events,
        [
            SYNC_CONNECTED.to_owned(),
            ev("NodeDataChanged", "/w"),
            ev("NodeCreated", "/nope"),
            ev("NodeChildrenChanged", "/w"),
            ev("NodeCreated", "/r"),
            ev("NodeCreated", "/r/c"),
            ev("NodeDataChanged", "/r/c"),
            ev("NodeDeleted", "/r/c"),
            ev("NodeCreated", "/p"),
            ev("NodeChildrenChanged", "/p"),
            ev("NodeDataChanged", "/p"),
            ev("PersistentWatchRemoved", "/p"),
            CLOSED.to_owned(),
        ]
    );
}

/// `close` then `connect`, twenty times in one zkCli: each session owns an ephemeral
/// node it watches (stat -w). Closing deletes the node and ZooKeeper sends the
/// session's own NodeDeleted event, then the closeSession reply; zkCli prints the
/// event before "Closed" every time (20 of 20 against ZooKeeper 3.8.0).
#[test]
fn close_delivers_own_watch_events_and_reply() {
    let server = Ferrokeeper::start(&[]);
    const ROUNDS: usize = 20;
    let addr = server.connect_string();
    let mut commands = Vec::new();
    for i in 0..ROUNDS {
        commands.push(format!("create -e /c{i}"));
        commands.push(format!("stat -w /c{i}"));
        commands.push("close".to_owned());
        commands.push(format!("connect {addr}"));
    }
    let commands: Vec<&str> = commands.iter().map(String::as_str).collect();
    let session = zkcli(&server, &commands);
    for (cmd, out) in &session.outputs {
        if cmd.starts_with("create") {
            assert_eq!(out, &[format!("Created {}", &cmd[10..])], "{}", session.raw);
        }
    }
    let mut expected = vec![SYNC_CONNECTED.to_owned()];
    for i in 0..ROUNDS {
        expected.push(format!(
            "WatchedEvent state:SyncConnected type:NodeDeleted path:/c{i}"
        ));
        expected.push(CLOSED.to_owned());
        expected.push(SYNC_CONNECTED.to_owned());
    }
    expected.push(CLOSED.to_owned());
    let missing: Vec<&String> = expected
        .iter()
        .filter(|e| e.contains("NodeDeleted") && !session.events.contains(e))
        .collect();
    assert!(
        missing.is_empty(),
        "closeSession: {} of {ROUNDS} sessions never got the NodeDeleted event of their own \
         ephemeral node (ZooKeeper sends it before the close reply): {missing:?}",
        missing.len()
    );
    assert_eq!(session.events, expected);
}
