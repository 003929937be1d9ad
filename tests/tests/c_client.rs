//! The ZooKeeper C client from Debian (`libzookeeper-mt-dev`, the library Mesos links)
//! against a real `ferrokeeper` process. `tests/clients/c/zkc.c` is compiled at test
//! time, runs one named scenario and prints a transcript; the transcript must equal
//! the one Apache ZooKeeper 3.8.0 produced (`tests/clients/c/expected/<scenario>.txt`,
//! recorded with `tests/clients/c/record_expected.sh`).

use std::process::Command;
use std::time::Duration;

use ferrokeeper_tests::Ferrokeeper;
use ferrokeeper_tests::process::{Finished, assert_lines, clients_dir, compile_c_client, run};

/// Runs one scenario against `server` and returns its transcript.
fn scenario(name: &str, server: &Ferrokeeper) -> (Vec<String>, Finished) {
    let dir = tempfile::tempdir().expect("temp dir");
    let bin = compile_c_client("zkc", dir.path());
    let out = run(
        Command::new(&bin).args([name, &server.connect_string()]),
        None,
        &format!("zkc {name}"),
        Duration::from_secs(90),
    );
    let lines = out.stdout.lines().map(str::to_owned).collect();
    (lines, out)
}

fn expected(name: &str) -> Vec<String> {
    let path = clients_dir().join(format!("c/expected/{name}.txt"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_owned)
        .collect()
}

fn check(name: &str, server: &Ferrokeeper) -> Vec<String> {
    let (lines, out) = scenario(name, server);
    assert_lines(
        &format!("C client scenario {name}"),
        &expected(name),
        &lines,
        &out.dump(),
    );
    assert!(out.status.success(), "zkc {name} failed\n{}", out.dump());
    eprintln!("zkc {name}: {} lines in {:?}", lines.len(), out.elapsed);
    lines
}

/// Connect (watcher SyncConnected, zoo_state, negotiated timeout); create in every
/// plain mode with its errors (NodeExists, NoChildrenForEphemerals, NoNode parent, bad
/// path), null data; get/exists/getChildren2 stats; a getData watch fired by the other
/// handle's set, set with a version and BadVersion; an exists watch on a missing node
/// -> NodeCreated; a getChildren watch -> NodeChildrenChanged; exists + child watches
/// -> NodeDeleted and NodeChildrenChanged; delete NotEmpty/NoNode/BadVersion; the async
/// API (acreate, aget, aget_children2, sync, adelete); and zookeeper_close removing the
/// handle's ephemerals at once, firing the other handle's watches.
#[test]
fn basic_operations_and_watches() {
    let server = Ferrokeeper::start(&[]);
    let lines = check("basic", &server);
    assert!(lines.contains(&"event a type=3 state=3 path=/a".to_owned()));
    assert!(lines.contains(&"event b type=2 state=3 path=/a/eph".to_owned()));
}

/// zoo_multi: success with per-op results (created paths, sequential name, set stat),
/// failure in the middle / first / last op with per-op codes 0, the error, -2
/// (RuntimeInconsistency) and nothing applied, NotEmpty inside a multi, empty multi.
#[test]
fn multi_success_and_failure() {
    let server = Ferrokeeper::start(&[]);
    let lines = check("multi", &server);
    assert!(lines.contains(&"a multi nonode-in-middle -> -101 [0 -101 -2]".to_owned()));
}

/// zoo_add_auth digest; the "auth" ACL refused without credentials (InvalidACL), then
/// turned into digest:bob:<hash>; NoAuth for another handle on get/set/create-child,
/// also with the wrong password; an explicit digest ACL with world READ; getACL
/// masking digests as "x" without ADMIN; setACL with BadVersion and NoAuth; an invalid
/// digest id; an unknown scheme -> AuthFailed (-115) and ZOO_AUTH_FAILED_STATE.
#[test]
fn digest_auth_and_acls() {
    let server = Ferrokeeper::start(&[]);
    let lines = check("auth", &server);
    assert!(lines.contains(&"b get /secret -> error -102".to_owned()));
    assert!(lines.contains(&"c state -> -113".to_owned()));
}

/// A child process owns a 1000 ms session (tickTime 500 -> minimum timeout 1000 ms)
/// and an ephemeral node, then is killed with SIGKILL: its TCP connection closes, but
/// the node must stay until the session times out, then go, firing the watcher's
/// NodeDeleted between 500 ms and 5 s after the kill.
#[test]
fn session_expiry_after_client_killed() {
    let server = Ferrokeeper::start(&["--tick-time", "500"]);
    let lines = check("expiry-kill", &server);
    assert!(lines.contains(
        &"child connect -> watcher state=3 zoo_state=3 session=set timeout=1000".to_owned()
    ));
    assert!(lines.contains(&"w expiry delay -> in-bounds".to_owned()));
}

/// As above, but the child is frozen with SIGSTOP, so its connection stays open and
/// silent: the server must expire the session on its own clock. After SIGCONT the C
/// client learns that its session expired (ZOO_EXPIRED_SESSION_STATE, -112).
#[test]
fn session_expiry_of_frozen_client() {
    let server = Ferrokeeper::start(&["--tick-time", "500"]);
    let lines = check("expiry-stop", &server);
    assert!(lines.contains(&"w expiry delay -> in-bounds".to_owned()));
    assert!(lines.contains(&"child state -> -112".to_owned()));
}
