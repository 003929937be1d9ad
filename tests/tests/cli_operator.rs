//! `ferrokeeper-cli` as an operator's tool: a closed stdout, an unresolvable host, the
//! quota commands (side by side with zkCli.sh on a real ZooKeeper 3.8, then against
//! ferrokeeper), `config`, `reconfig`'s refusal, `admin` (ZooKeeper's AdminServer) and
//! `4lw`.
//!
//! Needs the binaries `ferrokeeper` and `ferrokeeper-cli` built (`cargo build -p
//! ferrokeeper-server --bin ferrokeeper && cargo build -p ferrokeeper-cli`), Debian's
//! `zookeeper` package (server jar and zkCli.sh) and `libservlet-api-java` (AdminServer).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use ferrokeeper_client::Client;
use ferrokeeper_tests::Ferrokeeper;
use ferrokeeper_tests::cli_binary;
use ferrokeeper_tests::process::{Finished, require, run};
use ferrokeeper_tests::zookeeper::{RealZooKeeper, SERVLET_API_JAR};

const ZKCLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";
const MARKER: &str = "Node does not exist: /__step_";
const CLI_LIMIT: Duration = Duration::from_secs(60);
/// A shell's exit code for a process killed by SIGPIPE (128 + 13).
const SIGPIPE_EXIT: i32 = 141;

/// One-shot `ferrokeeper-cli --server <server> <args...>`.
fn cli(server: &str, args: &[&str]) -> Finished {
    run(
        Command::new(cli_binary())
            .args(["--server", server])
            .args(args),
        None,
        &format!("ferrokeeper-cli {}", args.join(" ")),
        CLI_LIMIT,
    )
}

/// Runs `ferrokeeper-cli <args>` with a stdout whose reader is already gone, so its
/// first write fails with EPIPE; returns the exit code and stderr.
fn with_closed_stdout(args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut child = Command::new(cli_binary())
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ferrokeeper-cli");
    ferrokeeper_tests::process::exit_and_stderr(
        &mut child,
        CLI_LIMIT,
        &format!("ferrokeeper-cli {args:?}"),
    )
}

#[test]
fn closed_stdout_ends_quietly() {
    let server = Ferrokeeper::start(&[]);
    let addr = server.connect_string();
    // Nothing listens on port 1: `help` must not need a server.
    for args in [
        vec!["--server", "127.0.0.1:1", "help"],
        vec!["--server", addr.as_str(), "ls", "-R", "/"],
        vec!["--server", addr.as_str(), "get", "-s", "/zookeeper"],
    ] {
        let (code, stderr) = with_closed_stdout(&args);
        assert_eq!(
            (code, stderr.as_str()),
            (Some(SIGPIPE_EXIT), ""),
            "ferrokeeper-cli {args:?} on a closed pipe"
        );
    }
    // The same through a real pipeline: `head` takes one line and exits.
    let out = run(
        Command::new("bash").args([
            "-c",
            "set -o pipefail; for i in $(seq 50); do \"$0\" --server 127.0.0.1:1 help; done | head -1",
            &cli_binary().display().to_string(),
        ]),
        None,
        "ferrokeeper-cli help | head -1",
        CLI_LIMIT,
    );
    assert_eq!(
        out.stdout,
        "ferrokeeper-cli -server host:port[/chroot] -timeout ms [-r] cmd args\n",
        "{}",
        out.dump()
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.dump());
}

#[test]
fn unresolvable_host_is_named_at_once() {
    // A session timeout far above what a DNS failure takes: the CLI must not retry.
    let out = cli(
        "nosuchhost.invalid:2181",
        &["--timeout", "60000", "ls", "/"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.dump());
    assert!(
        out.stderr
            .contains("cannot resolve host \"nosuchhost.invalid\""),
        "{}",
        out.dump()
    );
    assert!(
        out.elapsed < Duration::from_secs(15),
        "took {:?}\n{}",
        out.elapsed,
        out.dump()
    );
    // One bad host among good ones: a warning, and the command runs.
    let server = Ferrokeeper::start(&[]);
    let mixed = format!("nosuchhost.invalid:2181,{}", server.connect_string());
    let out = cli(&mixed, &["ls", "/"]);
    assert!(out.status.success(), "{}", out.dump());
    assert_eq!(out.stdout, "[zookeeper]\n", "{}", out.dump());
    assert!(
        out.stderr
            .contains("cannot resolve host \"nosuchhost.invalid\"; trying the others"),
        "{}",
        out.dump()
    );
}

/// Runs `commands` on stdin in one session of `program` (zkCli.sh, or ferrokeeper-cli
/// in interactive mode), stdout and stderr on one pipe; after each command the script
/// adds `ls /__step_N`, whose "Node does not exist" line ends that command's output.
/// Returns each command's output lines without the programs' banners and events.
fn session(
    program: &str,
    args: &[&str],
    env: &[(&str, String)],
    commands: &[String],
) -> Vec<Vec<String>> {
    let mut script = String::new();
    for (i, cmd) in commands.iter().enumerate() {
        script.push_str(&format!("{cmd}\nls /__step_{}\n", i + 1));
    }
    script.push_str("quit\n");
    let mut command = Command::new("bash");
    command
        .args(["-c", "exec \"$0\" \"$@\" 2>&1", program])
        .args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    let out = run(
        &mut command,
        Some(script.as_bytes()),
        program,
        Duration::from_secs(120),
    );
    let noise = [
        "SLF4J:",
        "Connecting to ",
        "Welcome to ",
        "JLine support is disabled",
        "WATCHER::",
        "WatchedEvent ",
    ];
    let mut sections: Vec<Vec<String>> = vec![Vec::new()];
    for line in out.stdout.lines().map(str::trim_end) {
        if line.is_empty() || noise.iter().any(|n| line.starts_with(n)) {
            continue;
        }
        if let Some(n) = line.strip_prefix(MARKER) {
            assert_eq!(
                n.parse::<usize>().ok(),
                Some(sections.len()),
                "{program}: step markers out of order\n{}",
                out.dump()
            );
            sections.push(Vec::new());
        } else if let Some(last) = sections.last_mut() {
            last.push(line.to_owned());
        }
    }
    assert_eq!(
        sections.len(),
        commands.len() + 1,
        "{program} did not run every command\n{}",
        out.dump()
    );
    // What came before the first command (start-up) and after the last marker.
    sections.pop();
    sections
}

fn zkcli_session(server: &str, commands: &[String]) -> Vec<Vec<String>> {
    require(Path::new(ZKCLI).is_file(), "zkCli.sh (Debian zookeeper)");
    session(
        ZKCLI,
        &["-waitforconnection", "-server", server],
        &[],
        commands,
    )
}

fn cli_session(server: &str, commands: &[String]) -> Vec<Vec<String>> {
    let bin = cli_binary().display().to_string();
    session(&bin, &["--server", server], &[], commands)
}

/// The quota commands of the side-by-side run, on the subtree `prefix`.
fn quota_script(prefix: &str) -> Vec<String> {
    [
        "setquota -n 10 P/a",
        "setquota -B 100 P/a",
        "setquota -N 1 P/a",
        "setquota -b 3 P/c",
        "setquota -n 2 P/e",
        "setquota -n 5 P/a/b",
        "setquota -n 5 P",
        "setquota -n 5 P/nosuch",
        "setquota -n 0 P/c",
        "setquota -b ten P/c",
        "setquota -n 5 /zookeeper/quota/x",
        "listquota P/a",
        "listquota P/nosuch",
        "delquota -n P/a",
        "delquota P/c",
        "delquota P/d",
        "listquota P/c",
        "listquota P/a",
    ]
    .iter()
    .map(|cmd| cmd.replace('P', prefix))
    .collect()
}

/// Every znode below `top` with its data, by path relative to `top`.
async fn tree(client: &Client, top: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut queue = vec![top.to_owned()];
    while let Some(node) = queue.pop() {
        let (data, _) = client.get_data(&node).await.expect("get_data");
        out.insert(
            node[top.len()..].to_owned(),
            String::from_utf8_lossy(&data).into_owned(),
        );
        for child in client.get_children(&node).await.expect("get_children") {
            queue.push(format!("{node}/{child}"));
        }
    }
    out
}

/// The nodes the quota script works on, below `prefix`.
async fn quota_fixture(client: &Client, prefix: &str) {
    use ferrokeeper_client::{CreateMode, open_acl_unsafe};
    for (path, data) in [
        ("", ""),
        ("/a", "hello"),
        ("/a/b", "x"),
        ("/c", ""),
        ("/d", ""),
        ("/e", "e"),
        ("/e/f", ""),
        ("/e/f/g", ""),
    ] {
        client
            .create(
                &format!("{prefix}{path}"),
                data.as_bytes(),
                &open_acl_unsafe(),
                CreateMode::Persistent,
            )
            .await
            .expect("create fixture");
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn quotas_match_zkcli_on_zookeeper() {
    let zk = RealZooKeeper::start(&[], &[]);
    let rt = runtime();
    let client = rt
        .block_on(Client::builder().connect(&zk.connect_string()))
        .expect("connect");
    rt.block_on(quota_fixture(&client, "/zk"));
    rt.block_on(quota_fixture(&client, "/fk"));

    let zk_out = zkcli_session(&zk.connect_string(), &quota_script("/zk"));
    let fk_out = cli_session(&zk.connect_string(), &quota_script("/fk"));
    // Same texts once the subtree names are the same.
    let neutral = |sections: Vec<Vec<String>>, prefix: &str| -> Vec<Vec<String>> {
        sections
            .into_iter()
            .map(|lines| lines.iter().map(|l| l.replace(prefix, "/P")).collect())
            .collect()
    };
    let zk_out = neutral(zk_out, "/zk");
    let fk_out = neutral(fk_out, "/fk");
    let mut failures = String::new();
    for ((cmd, want), got) in quota_script("/P").iter().zip(&zk_out).zip(&fk_out) {
        if want != got {
            failures.push_str(&format!(
                "`{cmd}`\n  zkCli.sh:        {want:?}\n  ferrokeeper-cli: {got:?}\n"
            ));
        }
    }
    assert!(failures.is_empty(), "outputs differ:\n{failures}");
    // The script's outputs are not all empty: the refusals and listings are there.
    assert!(
        zk_out
            .iter()
            .flatten()
            .any(|l| l
                == "Output quota for /P/a count=-1,bytes=-1=;byteHardLimit=100;countHardLimit=1"),
        "{zk_out:?}"
    );
    assert!(
        zk_out
            .iter()
            .flatten()
            .any(|l| l == "/P/a/b has a parent /P/a which has a quota"),
        "{zk_out:?}"
    );

    // The znodes each wrote: same paths, same data (ZooKeeper keeps the stats).
    let zk_tree = rt.block_on(tree(&client, "/zookeeper/quota/zk"));
    let fk_tree = rt.block_on(tree(&client, "/zookeeper/quota/fk"));
    assert_eq!(zk_tree, fk_tree);
    assert_eq!(
        zk_tree.get("/a/zookeeper_limits").map(String::as_str),
        Some("count=-1,bytes=-1=;byteHardLimit=100;countHardLimit=1")
    );
    assert_eq!(
        zk_tree.get("/a/zookeeper_stats").map(String::as_str),
        Some("count=2,bytes=6")
    );
    assert!(!zk_tree.keys().any(|k| k.starts_with("/c")), "{zk_tree:?}");

    // One-shot mode fails where nothing was done (zkCli exits 0 there).
    for (args, message) in [
        (
            vec!["setquota", "-n", "0", "/fk/c"],
            "the num quota must be greater than zero",
        ),
        (vec!["delquota", "/fk/d"], "Quota does not exist for /fk/d"),
        (
            vec!["listquota", "/fk/d"],
            "quota for /fk/d does not exist.",
        ),
        (
            vec!["setquota", "-n", "1", "-b", "1", "/fk/d"],
            "setquota -n|-b|-N|-B val path",
        ),
    ] {
        let out = cli(&zk.connect_string(), &args);
        assert!(
            !out.status.success() && out.stderr.contains(message),
            "{args:?}\n{}",
            out.dump()
        );
    }

    // Through a chroot a quota names the server path: /zookeeper/quota is outside it.
    let chrooted = format!("{}/fk", zk.connect_string());
    let out = cli(&chrooted, &["setquota", "-n", "3", "/d"]);
    assert!(out.status.success(), "{}", out.dump());
    let out = cli(&chrooted, &["listquota", "/d"]);
    assert!(out.status.success(), "{}", out.dump());
    assert!(
        out.stdout.starts_with(
            "Output quota for /fk/d count=3,bytes=-1=;byteHardLimit=-1;countHardLimit=-1\n"
        ),
        "{}",
        out.dump()
    );
    let out = cli(&chrooted, &["setquota", "-n", "3", "/e/f/g"]);
    assert!(
        !out.status.success()
            && out
                .stderr
                .contains("/fk/e/f/g has a parent /fk/e which has a quota"),
        "{}",
        out.dump()
    );
    rt.block_on(client.close()).expect("close");
}

#[test]
fn quotas_on_ferrokeeper_match_zookeeper() {
    // The same script through ferrokeeper-cli against each server: every output (the
    // usage listquota prints, the warnings of limits below the usage) and every quota
    // znode, usage included, must be the same.
    let zk = RealZooKeeper::start(&[], &[]);
    let fk = Ferrokeeper::start(&[]);
    let rt = runtime();
    let mut trees = Vec::new();
    let mut outputs = Vec::new();
    for server in [zk.connect_string(), fk.connect_string()] {
        let client = rt
            .block_on(Client::builder().connect(&server))
            .expect("connect");
        rt.block_on(quota_fixture(&client, "/fk"));
        outputs.push(cli_session(&server, &quota_script("/fk")));
        trees.push(rt.block_on(tree(&client, "/zookeeper/quota/fk")));
        rt.block_on(client.close()).expect("close");
    }
    assert_eq!(
        trees[0], trees[1],
        "quota znodes: ZooKeeper, then ferrokeeper"
    );
    assert_eq!(
        trees[0].get("/a/zookeeper_stats").map(String::as_str),
        Some("count=2,bytes=6"),
        "{:?}",
        trees[0]
    );
    for ((cmd, on_zk), on_fk) in quota_script("/fk").iter().zip(&outputs[0]).zip(&outputs[1]) {
        assert_eq!(on_zk, on_fk, "`{cmd}`: ZooKeeper, then ferrokeeper");
    }
    assert!(
        outputs[1]
            .iter()
            .flatten()
            .any(|l| l.starts_with("Output stat for /fk/a count=2,bytes=6")),
        "{:?}",
        outputs[1]
    );
}

#[test]
fn config_and_reconfig_match_zkcli() {
    let zk = RealZooKeeper::start(&[], &[]);
    let commands: Vec<String> = ["config", "config -c", "config -s", "config -w -c"]
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    let want = zkcli_session(&zk.connect_string(), &commands);
    let got = cli_session(&zk.connect_string(), &commands);
    assert_eq!(want, got, "config: zkCli.sh, then ferrokeeper-cli");
    assert!(
        want[2].iter().any(|l| l.starts_with("dataVersion = ")),
        "{want:?}"
    );

    // reconfig on a server with reconfig disabled, and zkCli's argument checks.
    let commands: Vec<String> = [
        "reconfig -add server.5=127.0.0.1:2888:3888;2181",
        "reconfig -s",
        "reconfig -add server.5=h:1:2;3 -members server.1=h:1:2;3",
        "reconfig -v zz -remove 1",
    ]
    .iter()
    .map(|c| (*c).to_owned())
    .collect();
    let want = zkcli_session(&zk.connect_string(), &commands);
    let got = cli_session(&zk.connect_string(), &commands);
    assert_eq!(want, got, "reconfig: zkCli.sh, then ferrokeeper-cli");
    assert!(
        want.iter().flatten().any(|l| l.contains("mixing")),
        "{want:?}"
    );
}

#[test]
fn admin_and_four_letter_words_on_zookeeper() {
    require(
        Path::new(SERVLET_API_JAR).is_file(),
        "servlet-api.jar (Debian libservlet-api-java)",
    );
    let (zk, admin_port) =
        RealZooKeeper::start_with_admin(&[("4lw.commands.whitelist", "ruok,srvr")], &[]);
    let server = zk.connect_string();
    let url = format!("http://127.0.0.1:{admin_port}/commands");

    let out = cli(&server, &["admin", "--url", &url, "ruok"]);
    assert!(out.status.success(), "{}", out.dump());
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    assert_eq!(json, serde_json::json!({"command": "ruok", "error": null}));
    // Pretty: one field a line.
    assert!(out.stdout.lines().count() >= 4, "{}", out.dump());

    let out = cli(&server, &["admin", "--url", &url, "srvr"]);
    assert!(out.status.success(), "{}", out.dump());
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    assert_eq!(json["server_stats"]["server_state"], "standalone", "{json}");

    // A parameter goes into the query string.
    let out = cli(&server, &["admin", "--url", &url, "dump", "ignored=a b"]);
    assert!(out.status.success(), "{}", out.dump());

    let out = cli(&server, &["admin", "--url", &url, "nosuch"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.dump());
    assert_eq!(
        out.stderr,
        "Error: Unknown command: nosuch\n",
        "{}",
        out.dump()
    );

    // Nothing listens there.
    let closed = format!(
        "http://127.0.0.1:{}/commands",
        ferrokeeper_tests::zookeeper::free_port()
    );
    let out = cli(&server, &["admin", "--url", &closed, "ruok"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.dump());
    assert!(
        out.stderr.contains("cannot reach the admin server"),
        "{}",
        out.dump()
    );

    let out = cli(&server, &["4lw", "ruok"]);
    assert!(out.status.success(), "{}", out.dump());
    assert_eq!(out.stdout, "imok\n", "{}", out.dump());
    let out = cli(&server, &["4lw", "srvr"]);
    assert!(
        out.status.success() && out.stdout.contains("Mode: standalone"),
        "{}",
        out.dump()
    );
    let out = cli(&server, &["4lw", "stat"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.dump());
    assert!(
        out.stderr
            .contains("stat is not executed because it is not in the whitelist."),
        "{}",
        out.dump()
    );
    let out = cli(&server, &["4lw", "toolong"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.dump());
    assert!(
        out.stderr.contains("not a four-letter word"),
        "{}",
        out.dump()
    );
}

#[test]
fn four_letter_words_on_ferrokeeper() {
    let server = Ferrokeeper::start(&["-Dzookeeper.4lw.commands.whitelist=ruok,srvr"]);
    let out = cli(&server.connect_string(), &["4lw", "ruok"]);
    assert!(out.status.success(), "{}", out.dump());
    assert_eq!(out.stdout, "imok\n", "{}", out.dump());
    let out = cli(&server.connect_string(), &["4lw", "srvr"]);
    assert!(
        out.status.success() && out.stdout.contains("Zxid: "),
        "{}",
        out.dump()
    );
    // srvr's answer ends with a newline: printed once, not doubled.
    assert!(!out.stdout.ends_with("\n\n"), "{}", out.dump());
    let out = cli(&server.connect_string(), &["4lw", "stat"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.dump());
    assert_eq!(
        out.stderr,
        "stat is not executed because it is not in the whitelist.\n",
        "{}",
        out.dump()
    );
}
