//! kazoo (PyPI) against a 3-server ferrokeeper ensemble: the server its session uses is
//! killed; kazoo moves to another server with the same session, keeps its ephemeral, and
//! its DataWatch sees a change made after the move. The same script runs against a real
//! ZooKeeper 3.8 ensemble.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ferrokeeper_tests::cluster::{ClusterOptions, FerrokeeperEnsemble};
use ferrokeeper_tests::ensemble::Ensemble;
use ferrokeeper_tests::process::{clients_dir, on_path, require};
use ferrokeeper_tests::zk_ensemble::RealZooKeeperEnsemble;

#[test]
fn kazoo_keeps_its_session_and_watch_when_its_ferrokeeper_server_dies() {
    run_scenario(&mut FerrokeeperEnsemble::start(ClusterOptions::new(3)));
}

#[test]
fn kazoo_keeps_its_session_and_watch_when_its_zookeeper_server_dies() {
    run_scenario(&mut RealZooKeeperEnsemble::start(3, 500, &[]));
}

fn run_scenario(ensemble: &mut dyn Ensemble) {
    require(on_path("python3"), "python3");
    let kazoo = Command::new("python3")
        .args(["-c", "import kazoo"])
        .status()
        .is_ok_and(|s| s.success());
    require(kazoo, "kazoo (pip install kazoo)");
    let mut child = Command::new("python3")
        .arg(clients_dir().join("kazoo_ensemble.py"))
        .arg(ensemble.connect_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn python3");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next = |what: &str| {
        rx.recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("kazoo script: no `{what}` line within 60 s"))
    };
    let using = next("using");
    let port: u16 = using
        .strip_prefix("using ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected line {using:?}"));
    let member = (0..3)
        .find(|m| ensemble.client_addr(*m).port() == port)
        .expect("kazoo uses a member");
    ensemble.kill9(member);
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "go").expect("write to the script");
    let mut lines = Vec::new();
    loop {
        let line = next("done");
        let finished = line == "done";
        lines.push(line);
        if finished {
            break;
        }
    }
    let status = child.wait().expect("wait");
    assert!(
        status.success(),
        "kazoo script failed on {}: {lines:?}",
        ensemble.name()
    );
    assert_eq!(
        lines,
        [
            "reconnected",
            "same session",
            "ephemeral kept",
            "data watch saw b'changed'",
            "done"
        ]
    );
}
