//! The log an operator reads: `--log-format json` gives one JSON object per stderr line
//! (the harness still finds the "listening on" message inside it), and ZooKeeper's
//! `zookeeper.root.logger` sets the level or, naming an appender we cannot honour,
//! stops start-up naming the setting.

use std::time::Duration;

use ferrokeeper_tests::{Ferrokeeper, ferrokeeper_command};

#[test]
fn json_log_lines_parse_with_level_and_message() {
    let server = Ferrokeeper::start(&["--log-format", "json"]);
    // The harness hands over the address before it keeps the line.
    assert!(
        server
            .log()
            .wait_for_more("ferrokeeper listening on ", 0, Duration::from_secs(10))
    );
    let text = server.log().tail(10_000);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "no log lines");
    for line in &lines {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(value["level"].is_string(), "no level: {line}");
        assert!(value["message"].is_string(), "no message: {line}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("ferrokeeper listening on ")),
        "{text}"
    );
}

/// Runs the binary until it exits (bounded); returns (exit code, stderr).
fn run_to_exit(args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = ferrokeeper_command()
        .args(["--client-port-address", "127.0.0.1", "--client-port", "0"])
        .arg("--data-dir")
        .arg(dir.path())
        .args(args)
        .spawn()
        .expect("spawn");
    ferrokeeper_tests::process::exit_and_stderr(&mut child, Duration::from_secs(30), "ferrokeeper")
}

#[test]
fn root_logger_appenders_we_cannot_honour_stop_start_up() {
    let (code, stderr) = run_to_exit(&["-Dzookeeper.root.logger=INFO,SYSLOG"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("zookeeper.root.logger") && stderr.contains("SYSLOG"),
        "{stderr}"
    );
    let (code, stderr) = run_to_exit(&["-Dzookeeper.root.logger=LOUD,CONSOLE"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("zookeeper.root.logger"), "{stderr}");
}

#[test]
fn root_logger_rollingfile_logs_to_stderr_with_a_warning() {
    let server = Ferrokeeper::start(&["-Dzookeeper.root.logger=INFO,ROLLINGFILE"]);
    let text = server.log().tail(10_000);
    assert!(
        text.lines()
            .any(|l| l.contains("WARN") && l.contains("ROLLINGFILE") && l.contains("stderr")),
        "{text}"
    );
}

/// The JSON log lines whose message is `message`.
fn events(server: &Ferrokeeper, message: &str) -> Vec<serde_json::Value> {
    server
        .log()
        .tail(10_000)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message"] == message)
        .collect()
}

#[test]
fn snapshots_and_session_expiry_are_logged_with_their_facts() {
    use ferrokeeper_protocol::{CreateRequest, Request, perms};
    use ferrokeeper_tests::raw::RawClient;

    let server = Ferrokeeper::start(&[
        "--log-format",
        "json",
        "--tick-time",
        "200",
        "-Dzookeeper.snapCount=10",
    ]);
    let (mut client, response) = RawClient::connect(server.addr(), 1_000, None).expect("connect");
    for i in 0..30 {
        let frames = client
            .call(Request::Create(CreateRequest {
                path: format!("/n{i}"),
                data: None,
                acl: perms::open_acl_unsafe(),
                flags: 0,
            }))
            .expect("create");
        assert_eq!(frames.last().map(|f| f.header.err), Some(0));
    }
    assert!(
        server
            .log()
            .wait_for_more("snapshot taken", 0, Duration::from_secs(30)),
        "no snapshot line:\n{}",
        server.log().tail(50)
    );
    let snapshot = &events(&server, "snapshot taken")[0];
    assert!(
        snapshot["bytes"].as_u64().is_some_and(|b| b > 0),
        "{snapshot}"
    );
    assert!(snapshot["duration_ms"].is_u64(), "{snapshot}");
    assert!(snapshot["index"].is_u64(), "{snapshot}");

    // The session goes silent and expires: its id in ZooKeeper's hex form.
    let session = format!("0x{:x}", response.session_id);
    drop(client);
    assert!(
        server
            .log()
            .wait_for_more("session expired", 0, Duration::from_secs(30)),
        "no expiry line:\n{}",
        server.log().tail(50)
    );
    let expired = &events(&server, "session expired")[0];
    assert_eq!(expired["session"], session.as_str(), "{expired}");
    assert_eq!(expired["level"], "INFO");
}
