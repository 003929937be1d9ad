//! SIGTERM: stop accepting, answer the writes already submitted, close cleanly.

use std::io::{Read, Write};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferrokeeper_protocol::{CreateRequest, OpCode, Request, RequestFrame, perms, write_frame};
use ferrokeeper_tests::Ferrokeeper;
use ferrokeeper_tests::raw::RawClient;

#[test]
fn sigterm_answers_submitted_writes_then_closes_and_exits_zero() {
    let mut server = Ferrokeeper::start(&[]);
    let (mut client, _) = RawClient::connect(server.addr(), 30_000, None).expect("connect");
    // Pipeline a burst of creates in one write.
    let mut burst = BytesMut::new();
    for i in 0..200 {
        let request = Request::Create(CreateRequest {
            path: format!("/n{i}"),
            data: Some(Bytes::from_static(b"x")),
            acl: perms::open_acl_unsafe(),
            flags: 0,
        });
        write_frame(&RequestFrame::new(i + 1, request), &mut burst);
    }
    client.stream().write_all(&burst).expect("send burst");
    let first = client.read_frame(OpCode::Create).expect("first reply");
    assert_eq!((first.header.xid, first.header.err), (1, 0));

    let status = server.terminate(Duration::from_secs(30));
    assert!(status.success(), "exit status {status:?}");

    // Whatever was answered came in order and succeeded; then a clean EOF.
    let mut expected_xid = 2;
    loop {
        match client.read_frame(OpCode::Create) {
            Ok(frame) => {
                assert_eq!(frame.header.xid, expected_xid, "replies in order");
                assert_eq!(frame.header.err, 0);
                expected_xid += 1;
            }
            Err(e) => {
                assert_eq!(
                    e.kind(),
                    std::io::ErrorKind::UnexpectedEof,
                    "clean close expected, got {e}"
                );
                break;
            }
        }
    }
    let mut rest = Vec::new();
    assert_eq!(client.stream().read_to_end(&mut rest).expect("eof"), 0);
}

/// kazoo's test_request_queuing_*: SIGTERM the only server while a client holds an idle
/// session; the client must see its connection closed at once (kazoo then reports
/// SUSPENDED, its test allows 5 s), the process must exit 0 (kazoo's harness warns
/// otherwise), and a server restarted on the same data dir must take the session back.
#[test]
fn sigterm_closes_idle_sessions_at_once_exits_zero_and_sessions_resume() {
    let data = tempfile::tempdir().expect("temp dir");
    let mut server = Ferrokeeper::start_in(data.path(), &[]);
    let addr = server.addr();
    let (mut client, _) = RawClient::connect(addr, 30_000, None).expect("connect");
    let (mut other, _) = RawClient::connect(addr, 30_000, None).expect("connect");
    // One session with a write behind it, one without.
    assert_eq!(
        ferrokeeper_tests::raw::create(&mut other, "/before", 0).ok(),
        Some(0)
    );
    let session = (client.session_id, client.passwd.clone());

    let started = std::time::Instant::now();
    // Watch for the close from another thread while the process is stopped.
    let watcher = std::thread::spawn(move || {
        let closed = client.closed_by_server(Duration::from_secs(20));
        (closed, started.elapsed())
    });
    let status = server.terminate(Duration::from_secs(20));
    let exited_after = started.elapsed();
    let (closed, closed_after) = watcher.join().expect("watcher");
    eprintln!(
        "SIGTERM: connection closed after {closed_after:?}, process exited after {exited_after:?} with {status:?}"
    );
    assert!(status.success(), "exit status {status:?} after SIGTERM");
    assert!(closed, "the server did not close the idle connection");
    assert!(
        closed_after < Duration::from_secs(5),
        "the idle connection was closed only after {closed_after:?}"
    );
    assert!(
        exited_after < Duration::from_secs(5),
        "the process took {exited_after:?} to exit"
    );
    assert!(other.closed_by_server(Duration::from_secs(5)));

    // The session survives the restart (its timeout starts afresh).
    let mut server = Ferrokeeper::start_in(data.path(), &[]);
    let (mut resumed, reply) =
        RawClient::connect(server.addr(), 30_000, Some(session.clone())).expect("reconnect");
    assert_eq!(reply.session_id, session.0, "session not resumed");
    assert!(ferrokeeper_tests::raw::exists(&mut resumed, "/before").is_some());
    assert_eq!(
        ferrokeeper_tests::raw::create(&mut resumed, "/after", 0).ok(),
        Some(0)
    );
    let status = server.terminate(Duration::from_secs(20));
    assert!(status.success(), "exit status {status:?} after SIGTERM");
}

/// SIGTERM while the server is still starting (here: once its Raft log is open, before
/// it listens, when the timing allows) stops it cleanly once it is up, exit status 0,
/// instead of killing it (status 143), which kazoo's harness reports when it stops a
/// server right after starting it.
#[test]
fn sigterm_during_start_up_stops_cleanly() {
    use std::io::BufRead;
    let data = tempfile::tempdir().expect("temp dir");
    let mut child = ferrokeeper_tests::ferrokeeper_command()
        .args(["--client-port-address", "127.0.0.1", "--client-port", "0"])
        .arg("--data-dir")
        .arg(data.path())
        .spawn()
        .expect("spawn ferrokeeper");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("raft log opened") {
                let _ = tx.send(());
            }
            lines.push(line);
        }
        lines
    });
    let opened = rx.recv_timeout(Duration::from_secs(30));
    let pid = child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let log = reader.join().expect("log reader").join("\n");
    assert!(opened.is_ok(), "the server never opened its log:\n{log}");
    assert!(killed.is_ok_and(|s| s.success()), "kill -TERM failed");
    let status = status.unwrap_or_else(|| panic!("no exit within 20 s of SIGTERM:\n{log}"));
    assert!(status.success(), "exit status {status:?}:\n{log}");
    // Either start-up was cut short, or it had finished and the server stopped as usual.
    assert!(
        log.contains("stop requested while starting") || log.contains("shutting down"),
        "no clean stop:\n{log}"
    );
}
