//! kazoo (PyPI) against a real `ferrokeeper` process, through
//! `tests/clients/kazoo_scenarios.py`. The script asserts every step itself and prints
//! one line per step; each test runs one scenario on a fresh server and compares the
//! lines with what the script printed against Apache ZooKeeper 3.8.0.

use std::process::Command;
use std::time::Duration;

use ferrokeeper_tests::Ferrokeeper;
use ferrokeeper_tests::process::{assert_lines, clients_dir, require_python, run};

/// The whole transcript against ZooKeeper 3.8.0, one `== scenario` section each.
const EXPECTED: &str = r#"== crud
ensure_path /app/a/b -> /app/a/b
ensure_path again -> True
create /app/n -> /app/n
create /app/n again -> NodeExistsError
create /missing/x -> NoNodeError
get /app/n -> b'v1' version=0 dataLength=2
set /app/n v0 -> version=1
set /app/n v0 again -> BadVersionError
create sequence -> /app/s-0000000002
create ephemeral -> /app/e owner=self
create under ephemeral -> NoChildrenForEphemeralsError
create makepath -> /app/deep/er/node
get_children /app -> ['a', 'deep', 'e', 'n', 's-0000000002']
get_children include_data -> numChildren=5
exists /nope -> None
delete /app -> NotEmptyError
delete /app/n v5 -> BadVersionError
delete /nope -> NoNodeError
delete /app recursive -> exists=None
sync / -> /
== watches
ChildrenWatch initial -> []
ChildrenWatch after create a -> ['a']
ChildrenWatch after create b -> ['a', 'b']
ChildrenWatch after delete a -> ['b']
DataWatch initial -> (None, None, None)
DataWatch after create -> (b'1', 0, 'CREATED')
DataWatch after set -> (b'2', 1, 'CHANGED')
DataWatch after delete -> (None, None, 'DELETED')
exists watch -> CREATED /w/x
get watch -> CHANGED /w/x
get_children watch -> CHILD /w
== transactions
transaction ok -> ['/t/a', '/t/s-0000000001', 'stat(version=1)', True, True]
after ok -> ['s-0000000001'] b'tt'
transaction fail -> ['RolledBackError', 'NoNodeError', 'RuntimeInconsistency']
after fail -> /t/b exists=False /t/c exists=False
transaction check fail -> ['BadVersionError', 'RuntimeInconsistency']
== lock
one acquire -> True
two acquire non-blocking -> False
two acquire timeout 0.3 -> LockTimeout
contenders -> ['one', 'two']
two holds before release -> False
two acquire after release -> True
contenders -> ['two']
contenders after release -> []
one acquire m -> True
two acquire m after one stopped -> True
== election
first leader -> c1
contenders -> ['c1', 'c2']
leader queue empty while c1 leads -> True
next leader -> c2
contenders at end -> []
== ephemeral_cleanup
exists /eph -> owner=owner
children /ephs -> ['n-0000000000']
after owner stop -> DELETED /eph
exists /eph -> None
children /ephs -> []
== server_version
server_version -> (3, 8)
ruok -> imok
"#;

fn expected(scenario: &str) -> Vec<String> {
    let header = format!("== {scenario}");
    let mut lines: Vec<String> = EXPECTED
        .lines()
        .skip_while(|l| *l != header)
        .enumerate()
        .take_while(|(i, l)| *i == 0 || !l.starts_with("== "))
        .map(|(_, l)| l.to_owned())
        .collect();
    assert!(!lines.is_empty(), "no expected lines for {scenario}");
    lines.push("== done".to_owned());
    lines
}

/// Runs one scenario of kazoo_scenarios.py against a fresh server started with `args`.
fn scenario(name: &str, args: &[&str]) {
    require_python("kazoo", "kazoo");

    let server = Ferrokeeper::start(args);
    let out = run(
        Command::new("python3")
            .arg(clients_dir().join("kazoo_scenarios.py"))
            .arg(server.connect_string())
            .arg(name),
        None,
        &format!("kazoo scenario {name}"),
        Duration::from_secs(120),
    );
    let lines: Vec<String> = out.stdout.lines().map(str::to_owned).collect();
    assert_lines(
        &format!("kazoo scenario {name}"),
        &expected(name),
        &lines,
        &out.dump(),
    );
    assert!(
        out.status.success(),
        "kazoo scenario {name} failed\n{}",
        out.dump()
    );
    eprintln!("kazoo {name}: {} lines in {:?}", lines.len(), out.elapsed);
}

/// ensure_path, create (makepath, sequence, ephemeral), get, set with versions,
/// get_children (include_data), exists, delete (recursive) and their errors
/// (NodeExists, NoNode, BadVersion, NotEmpty, NoChildrenForEphemerals), sync.
#[test]
fn crud() {
    scenario("crud", &[]);
}

/// ChildrenWatch and DataWatch callbacks driven by another client's changes, and
/// plain one-shot watch callbacks on exists/get/get_children.
#[test]
fn watches() {
    scenario("watches", &[]);
}

/// Transactions: success (results: paths, stat, check and delete booleans) and
/// failures (RolledBackError / the failing op's error / RuntimeInconsistency), with
/// nothing applied.
#[test]
fn transactions() {
    scenario("transactions", &[]);
}

/// The Lock recipe with two clients: non-blocking and timed acquire fail while the
/// other holds it, contenders, the waiter gets it on release and when the holder's
/// session ends.
#[test]
fn lock_recipe() {
    scenario("lock", &[]);
}

/// The Election recipe with two clients: the first leads, the second takes over when
/// the first leader's function returns.
#[test]
fn election_recipe() {
    scenario("election", &[]);
}

/// client.stop() deletes the client's ephemeral (and ephemeral sequential) nodes at
/// once, firing another client's watch.
#[test]
fn ephemeral_cleanup_on_stop() {
    scenario("ephemeral_cleanup", &[]);
}

/// client.server_version() parses the `envi` four-letter word (and `ruok` through
/// client.command), so both must be whitelisted.
#[test]
fn server_version() {
    scenario("server_version", &["--4lw-whitelist", "envi,ruok"]);
}
