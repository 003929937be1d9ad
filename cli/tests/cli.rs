//! The `ferrokeeper-cli` binary against a real `ferrokeeper` and a real ZooKeeper 3.8
//! (Debian's): one suite of scenarios, each run against a fresh server of each kind
//! (the `against_ferrokeeper` and `against_zookeeper` modules at the end). One-shot
//! mode: stdout, stderr and exit code of each command. Interactive mode: a script on
//! piped stdin. The expected texts are zkCli 3.8's for the same commands.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use ferrokeeper_tests::Ferrokeeper;
use ferrokeeper_tests::process::{Finished, run};
use ferrokeeper_tests::zookeeper::RealZooKeeper;

const CLI: &str = env!("CARGO_BIN_EXE_ferrokeeper-cli");
const LIMIT: Duration = Duration::from_secs(60);

/// The server under test (killed on drop).
enum Server {
    #[allow(dead_code)]
    Ferrokeeper(Ferrokeeper),
    #[allow(dead_code)]
    ZooKeeper(RealZooKeeper),
}

impl Server {
    fn ferrokeeper() -> Server {
        Server::Ferrokeeper(Ferrokeeper::start(&[
            "-Dzookeeper.extendedTypesEnabled=true",
        ]))
    }

    fn zookeeper() -> Server {
        Server::ZooKeeper(RealZooKeeper::start(
            &[],
            &[("zookeeper.extendedTypesEnabled", "true")],
        ))
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Server::Ferrokeeper(s) => s.addr(),
            Server::ZooKeeper(s) => s.addr(),
        }
    }
}

/// Runs `ferrokeeper-cli --server <server> <args>` (one-shot).
fn cli(server: &str, args: &str) -> Finished {
    run(
        Command::new(CLI)
            .args(["--server", server])
            .args(args.split_whitespace()),
        None,
        &format!("ferrokeeper-cli {args}"),
        LIMIT,
    )
}

/// Asserts exit code 0, this stdout and an empty stderr.
#[track_caller]
fn ok(server: &str, args: &str, stdout: &[&str]) -> Finished {
    let out = cli(server, args);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        out.status.success() && out.stderr.is_empty() && lines == stdout,
        "`{args}`: expected success with {stdout:?}\n{}",
        out.dump()
    );
    out
}

/// Asserts exit code `code`, nothing on stdout and this stderr.
#[track_caller]
fn fails(server: &str, args: &str, code: i32, stderr: &[&str]) {
    let out = cli(server, args);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        out.status.code() == Some(code) && out.stdout.is_empty() && lines == stderr,
        "`{args}`: expected exit {code} with {stderr:?} on stderr\n{}",
        out.dump()
    );
}

/// Checks zkCli's Stat lines (times and zxids by shape) and returns them by name.
#[track_caller]
fn stat_lines(lines: &[&str]) -> std::collections::HashMap<String, String> {
    let names = [
        "cZxid",
        "ctime",
        "mZxid",
        "mtime",
        "pZxid",
        "cversion",
        "dataVersion",
        "aclVersion",
        "ephemeralOwner",
        "dataLength",
        "numChildren",
    ];
    assert_eq!(lines.len(), names.len(), "{lines:?}");
    let mut out = std::collections::HashMap::new();
    for (line, name) in lines.iter().zip(names) {
        let value = line
            .strip_prefix(&format!("{name} = "))
            .unwrap_or_else(|| panic!("{line:?} is not {name}"));
        if name.ends_with("Zxid") || name == "ephemeralOwner" {
            assert!(value.starts_with("0x"), "{line}");
            assert!(u64::from_str_radix(&value[2..], 16).is_ok(), "{line}");
        }
        if name.ends_with("time") {
            // Java's Date.toString(): "Tue Nov 24 22:29:37 UTC 2026".
            let parts: Vec<&str> = value.split(' ').collect();
            assert_eq!(parts.len(), 6, "{line}");
            assert_eq!(parts[4], "UTC", "{line}");
            assert_eq!(parts[3].len(), 8, "{line}");
        }
        out.insert(name.to_owned(), value.to_owned());
    }
    out
}

fn stat_of(out: &Finished, skip: usize) -> std::collections::HashMap<String, String> {
    let lines: Vec<&str> = out.stdout.lines().skip(skip).collect();
    stat_lines(&lines)
}

/// The common commands in one-shot mode, with zkCli's texts and exit codes.
fn one_shot(server: &Server) {
    let s = &server.addr().to_string();
    ok(s, "create /a hello", &["Created /a"]);
    fails(s, "create /a x", 1, &["Node already exists: /a"]);
    fails(s, "create /nope/x", 1, &["Node does not exist: /nope/x"]);
    fails(s, "create bad", 1, &["Path must start with / character"]);
    ok(s, "create -s /a/seq- s", &["Created /a/seq-0000000000"]);
    // The session of a one-shot command ends with it: so does its ephemeral node.
    ok(s, "create -e /a/eph e", &["Created /a/eph"]);
    ok(s, "create -c /cont", &["Created /cont"]);
    ok(s, "create -t 100000 /ttl t", &["Created /ttl"]);
    fails(
        s,
        "create -t 100 -e /bad",
        1,
        &["TTLs cannot be used with Ephemeral znodes"],
    );
    fails(
        s,
        "create -c -s /bad",
        1,
        &["-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential."],
    );
    fails(
        s,
        "create /bad x digest:nocolon:cdrwa",
        1,
        &[
            "KeeperErrorCode = InvalidACL for /bad",
            "Acl is not valid : /bad",
        ],
    );

    ok(s, "get /a", &["hello"]);
    let out = ok_prefix(s, "get -s /a", &["hello"]);
    let stat = stat_of(&out, 1);
    assert_eq!(stat["dataVersion"], "0");
    assert_eq!(stat["dataLength"], "5");
    assert_eq!(
        stat["numChildren"], "1",
        "the ephemeral went with its session"
    );
    assert_eq!(stat["ephemeralOwner"], "0x0");
    fails(s, "get /nope", 1, &["Node does not exist: /nope"]);

    ok(s, "set -v 0 /a world", &[]);
    fails(s, "set -v 0 /a again", 1, &["version No is not valid : /a"]);
    fails(s, "set /nope x", 1, &["Node does not exist: /nope"]);
    let out = ok_prefix(s, "set -s /a third", &[]);
    let stat = stat_of(&out, 0);
    assert_eq!(
        (stat["dataVersion"].as_str(), stat["dataLength"].as_str()),
        ("2", "5")
    );
    let out = ok_prefix(s, "stat /a", &[]);
    assert_eq!(stat_of(&out, 0)["dataVersion"], "2");
    fails(s, "stat /nope", 1, &["Node does not exist: /nope"]);

    ok(s, "ls /a", &["[seq-0000000000]"]);
    ok(s, "ls /", &["[a, cont, ttl, zookeeper]"]);
    let out = ok_prefix(s, "ls -s /a", &["[seq-0000000000]"]);
    assert_eq!(stat_of(&out, 1)["numChildren"], "1");
    ok(
        s,
        "ls -R /",
        &[
            "/",
            "/a",
            "/cont",
            "/ttl",
            "/zookeeper",
            "/a/seq-0000000000",
            "/zookeeper/config",
            "/zookeeper/quota",
        ],
    );
    fails(s, "ls /nope", 1, &["Node does not exist: /nope"]);
    ok(s, "getAllChildrenNumber /a", &["1"]);
    ok(s, "getAllChildrenNumber /", &["7"]);
    ok(s, "getEphemerals", &["[]"]);

    ok(s, "getAcl /a", &["'world,'anyone", ": cdrwa"]);
    fails(
        s,
        "setAcl -v 5 /a world:anyone:r",
        1,
        &["version No is not valid : /a"],
    );
    let out = ok_prefix(s, "setAcl -s -v 0 /a world:anyone:cdra", &[]);
    assert_eq!(stat_of(&out, 0)["aclVersion"], "1");
    let out = ok_prefix(s, "getAcl -s /a", &["'world,'anyone", ": cdra"]);
    assert_eq!(stat_of(&out, 2)["aclVersion"], "1");
    fails(s, "set /a x", 1, &["Insufficient permission : /a"]);
    ok(s, "setAcl -R /a world:anyone:cdrwa", &[]);
    ok(
        s,
        "getAcl /a/seq-0000000000",
        &["'world,'anyone", ": cdrwa"],
    );

    fails(s, "delete /a", 1, &["Node not empty: /a"]);
    fails(
        s,
        "delete -v 7 /a/seq-0000000000",
        1,
        &["version No is not valid : /a/seq-0000000000"],
    );
    ok(s, "delete /a/seq-0000000000", &[]);
    fails(
        s,
        "create /a/b/",
        1,
        &["Path must not end with / character"],
    );
    ok(s, "create /a/b", &["Created /a/b"]);
    ok(s, "create /a/b/c", &["Created /a/b/c"]);
    ok(s, "deleteall /a", &[]);
    fails(s, "deleteall /a", 1, &["Node does not exist: /a"]);
    ok(s, "sync /", &["Sync is OK"]);
    ok(s, "whoami", &["Auth scheme: User", "ip: 127.0.0.1"]);
    // Standalone: /zookeeper/config is empty.
    ok(s, "config", &[""]);

    // The chroot of the connect string.
    ok(s, "create /ch", &["Created /ch"]);
    let chrooted = format!("{s}/ch");
    ok(&chrooted, "create /inner x", &["Created /inner"]);
    ok(&chrooted, "ls /", &["[inner]"]);
    ok(&chrooted, "get /inner", &["x"]);
    ok(s, "ls /ch", &["[inner]"]);

    // Usage and connection errors.
    fails(s, "get", 2, &["get [-s] [-w] path"]);
    let out = cli(s, "frobnicate /");
    assert_eq!(out.status.code(), Some(2), "{}", out.dump());
    assert!(
        out.stderr
            .ends_with("Command not found: Command not found frobnicate\n"),
        "{}",
        out.dump()
    );
    let out = run(
        Command::new(CLI).args(["-server", "127.0.0.1:1", "-timeout", "2000", "ls", "/"]),
        None,
        "unreachable server",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.dump());
    assert!(
        out.stderr.starts_with("Unable to connect to 127.0.0.1:1"),
        "{}",
        out.dump()
    );
}

/// As [`ok`], for output that goes on with Stat lines: checks only the first lines.
#[track_caller]
fn ok_prefix(server: &str, args: &str, first: &[&str]) -> Finished {
    let out = cli(server, args);
    let lines: Vec<&str> = out.stdout.lines().take(first.len()).collect();
    assert!(
        out.status.success() && out.stderr.is_empty() && lines == first,
        "`{args}`: expected success starting with {first:?}\n{}",
        out.dump()
    );
    out
}

/// Interactive mode on piped stdin: results, watch events (zkCli's `WATCHER::` lines),
/// errors on stderr, `close`, and the exit code of the last command.
fn interactive(server: &Server) {
    let s = &server.addr().to_string();
    let script = "create /i a\n\
                  get -w /i\n\
                  set /i \"b c\"\n\
                  get /i\n\
                  ls -w /i\n\
                  create /i/kid\n\
                  addauth digest u:p\n\
                  whoami\n\
                  getAcl /nope\n\
                  create -e /i/eph\n\
                  getEphemerals /i\n\
                  close\n\
                  get /i\n\
                  quit\n";
    let out = run(
        Command::new(CLI).args(["--server", s]),
        Some(script.as_bytes()),
        "interactive ferrokeeper-cli",
        LIMIT,
    );
    assert!(out.status.success(), "{}", out.dump());
    let lines: Vec<&str> = out.stdout.lines().filter(|l| !l.is_empty()).collect();
    let mut results: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| *l != "WATCHER::" && !l.starts_with("WatchedEvent"))
        .collect();
    // ZooKeeper lists a session's ids from a hash set: compare them sorted.
    if let Some(at) = results.iter().position(|l| *l == "Auth scheme: User") {
        let end = (at + 3).min(results.len());
        results[at + 1..end].sort_unstable();
    }
    assert_eq!(
        results,
        [
            &format!("Connecting to {s}")[..],
            "Welcome to ferrokeeper-cli!",
            "Created /i",
            "a",
            "b c",
            "[]",
            "Created /i/kid",
            "Auth scheme: User",
            "digest: u",
            "ip: 127.0.0.1",
            "Created /i/eph",
            "[/i/eph]",
        ],
        "{}",
        out.dump()
    );
    let events: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("WatchedEvent"))
        .collect();
    assert_eq!(
        events,
        [
            "WatchedEvent state:SyncConnected type:None path:null",
            "WatchedEvent state:SyncConnected type:NodeDataChanged path:/i",
            "WatchedEvent state:SyncConnected type:NodeChildrenChanged path:/i",
            "WatchedEvent state:Closed type:None path:null",
        ],
        "{}",
        out.dump()
    );
    assert_eq!(
        lines.iter().filter(|l| **l == "WATCHER::").count(),
        events.len(),
        "{}",
        out.dump()
    );
    assert_eq!(
        out.stderr.lines().collect::<Vec<_>>(),
        ["Node does not exist: /nope", "Not connected"],
        "{}",
        out.dump()
    );

    // The exit code is the last command's.
    let out = run(
        Command::new(CLI).args(["--server", s]),
        Some(b"get /nope\n"),
        "interactive ferrokeeper-cli",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.dump());
    assert_eq!(out.stderr, "Node does not exist: /nope\n", "{}", out.dump());
}

const ZKCLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";

/// Runs Debian's `zkCli.sh -server <server> <args>` (one-shot) with UTC dates.
fn zkcli(server: &str, args: &str, stdin: Option<&[u8]>) -> Finished {
    ferrokeeper_tests::process::require(
        std::path::Path::new(ZKCLI).is_file(),
        "zkCli.sh (Debian zookeeper)",
    );
    run(
        Command::new(ZKCLI)
            .env("TZ", "UTC")
            .args(["-server", server])
            .args(args.split_whitespace()),
        stdin,
        &format!("zkCli.sh {args}"),
        LIMIT,
    )
}

/// What zkCli prints besides a command's own output.
fn without_noise(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| {
            !(l.is_empty()
                || l.starts_with("SLF4J:")
                || l.starts_with("Connecting to ")
                || l.starts_with("WATCHER::")
                || l.starts_with("WatchedEvent ")
                || l.starts_with("Welcome to ZooKeeper!")
                || l.starts_with("JLine support"))
        })
        .map(str::to_owned)
        .collect()
}

/// The same reads, side by side with zkCli on a tree zkCli made: identical stdout,
/// stderr and exit status (zkCli's connection chatter aside).
fn same_as_zkcli(server: &Server) {
    let s = &server.addr().to_string();
    let script = "create /a hello\n\
                  create /a/b bee\n\
                  create /a/empty\n\
                  create -s /a/seq- s\n\
                  create /sec s digest:bob:fyVmFCwVbTJYrznoSu1koqYEYF0=:cdrwa,world:anyone:r\n\
                  set /a again\n\
                  quit\n";
    let made = zkcli(s, "", Some(script.as_bytes()));
    // zkCli 3.8 prints "Created ..." on stderr.
    assert!(made.stderr.contains("Created /sec"), "{}", made.dump());
    for args in [
        "ls /",
        "ls -s /",
        "ls -R /",
        "ls /nope",
        "get -s /a",
        "get /a/empty",
        "get /nope",
        "stat /a/seq-0000000002",
        "stat /nope",
        "getAcl -s /a",
        "getAcl /sec",
        "getAllChildrenNumber /",
        "getEphemerals /",
        "set /sec x",
        "create /a x",
        "delete /a",
        "delete -v 9 /a/b",
        "sync /",
        "config",
    ] {
        let ours = cli(s, args);
        let theirs = zkcli(s, args, None);
        assert_eq!(
            without_noise(&ours.stdout),
            without_noise(&theirs.stdout),
            "stdout of `{args}`\n--- ferrokeeper-cli ---\n{}\n--- zkCli ---\n{}",
            ours.dump(),
            theirs.dump()
        );
        assert_eq!(
            without_noise(&ours.stderr),
            without_noise(&theirs.stderr),
            "stderr of `{args}`\n--- ferrokeeper-cli ---\n{}\n--- zkCli ---\n{}",
            ours.dump(),
            theirs.dump()
        );
        assert_eq!(
            ours.status.success(),
            theirs.status.success(),
            "exit status of `{args}`\n--- ferrokeeper-cli ---\n{}\n--- zkCli ---\n{}",
            ours.dump(),
            theirs.dump()
        );
    }
}

macro_rules! against_both {
    ($($scenario:ident),* $(,)?) => {
        mod against_ferrokeeper {
            $(
                #[test]
                fn $scenario() {
                    let server = super::Server::ferrokeeper();
                    super::$scenario(&server);
                }
            )*
        }

        mod against_zookeeper {
            $(
                #[test]
                fn $scenario() {
                    let server = super::Server::zookeeper();
                    super::$scenario(&server);
                }
            )*
        }
    };
}

against_both!(one_shot, interactive, same_as_zkcli);

/// A server that accepts and closes connections while it starts (as ZooKeeper does
/// before its database is loaded) is retried within `-timeout`, as zkCli does; a host
/// that does not resolve is said so.
#[test]
fn connecting_retries_a_starting_server_and_names_unresolvable_hosts() {
    let server = Server::ferrokeeper();
    let proxy = ferrokeeper_tests::proxy::FaultProxy::start(server.addr());
    proxy.reset(); // accepts and closes at once
    let addr = proxy.addr().to_string();
    let mut cmd = Command::new(CLI);
    cmd.args(["-server", &addr, "-timeout", "30000", "ls", "/"]);
    let group = ferrokeeper_tests::process::Group::spawn(&mut cmd, None);
    // The CLI tries, is closed on, tries again: then the server is ready.
    let deadline = std::time::Instant::now() + LIMIT;
    while proxy.accepted() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the CLI did not retry"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    proxy.heal();
    let out = group.finish("ferrokeeper-cli ls / through a starting server", LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", out.dump());
    assert_eq!(out.stdout, "[zookeeper]\n", "{}", out.dump());

    let out = run(
        Command::new(CLI).args(["-server", "no-such-host.invalid:2181", "ls", "/"]),
        None,
        "unresolvable host",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.dump());
    assert!(
        out.stderr
            .contains("cannot resolve host \"no-such-host.invalid\""),
        "{}",
        out.dump()
    );
}
