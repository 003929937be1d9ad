//! Running third-party clients (the C program, zkCli.sh, kazoo scripts): an external
//! program with a deadline, in its own process group so that everything it forks is
//! killed with it, even if the test panics; and failing (never skipping) when a client
//! is not installed.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The workspace's `tests/clients` directory.
pub fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// Fails the test with the install hint when `ok` is false.
pub fn require(ok: bool, what: &str) {
    assert!(
        ok,
        "{what} is not installed: run `bash tests/run.sh` (it installs the Debian packages \
         zookeeper zookeeper-bin libzookeeper-mt-dev and the PyPI package kazoo)"
    );
}

/// Fails the test unless python3 can import `modules` (PyPI `packages`, which
/// `tests/run.sh` installs).
pub fn require_python(modules: &str, packages: &str) {
    require(on_path("python3"), "python3");
    let import = format!("import {modules}");
    let probe = run(
        Command::new("python3").args(["-c", &import]),
        None,
        &format!("python3 -c '{import}'"),
        Duration::from_secs(30),
    );
    require(
        probe.status.success(),
        &format!("{packages} (python3 -m pip install {packages})"),
    );
}

/// Whether `program` is found on PATH (or is an existing path).
pub fn on_path(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// A spawned process group (leader = the child), killed with SIGKILL on drop.
pub struct Group {
    child: Child,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

/// What a finished program printed.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Finished {
    /// Both streams, for failure messages.
    pub fn dump(&self) -> String {
        format!(
            "exit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

impl Group {
    /// Spawns `cmd` with piped stdout/stderr and stdin from `stdin` (or null).
    pub fn spawn(cmd: &mut Command, stdin: Option<&[u8]>) -> Group {
        cmd.process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            let input = input.to_vec();
            // A writer thread, so a program that stops reading cannot block the test.
            std::thread::spawn(move || {
                use std::io::Write;
                let _ = pipe.write_all(&input);
            });
        }
        Group {
            child,
            stdout,
            stderr,
        }
    }

    /// Only called while the leader is alive and unreaped, so the group id (its pid,
    /// by `process_group(0)`) cannot have been reused. This reaches everything it
    /// forked: zkCli.sh's JVM, the C program's session-holding child.
    fn kill_group(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
    }

    /// Waits for the program to exit within `limit`; panics (after killing the group)
    /// with what it printed so far if it does not.
    pub fn finish(mut self, what: &str, limit: Duration) -> Finished {
        let start = Instant::now();
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if start.elapsed() < limit => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Ok(None) | Err(_) => break None,
            }
        };
        let elapsed = start.elapsed();
        if status.is_none() {
            // The leader still runs (not reaped), so its pid names the group safely.
            self.kill_group();
            let _ = self.child.wait();
        }
        let out = self
            .stdout
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let err = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let stdout = String::from_utf8_lossy(&out).into_owned();
        let stderr = String::from_utf8_lossy(&err).into_owned();
        match status {
            Some(status) => Finished {
                status,
                stdout,
                stderr,
                elapsed,
            },
            None => panic!(
                "{what} did not finish within {limit:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
            ),
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill_group();
            let _ = self.child.wait();
        }
    }
}

/// Runs `cmd` to completion within `limit`.
pub fn run(cmd: &mut Command, stdin: Option<&[u8]>, what: &str, limit: Duration) -> Finished {
    Group::spawn(cmd, stdin).finish(what, limit)
}

/// Compares two transcripts line by line and panics with both, marking the first
/// difference.
pub fn assert_lines(what: &str, expected: &[String], actual: &[String], context: &str) {
    if expected == actual {
        return;
    }
    let first = expected
        .iter()
        .zip(actual)
        .position(|(e, a)| e != a)
        .unwrap_or(expected.len().min(actual.len()));
    let mut msg = format!(
        "{what}: transcript differs from ZooKeeper's at line {}\n",
        first + 1
    );
    for i in 0..expected.len().max(actual.len()) {
        let e = expected.get(i).map(String::as_str).unwrap_or("<none>");
        let a = actual.get(i).map(String::as_str).unwrap_or("<none>");
        if e == a {
            msg.push_str(&format!("    {a}\n"));
        } else {
            msg.push_str(&format!("  - {e}\n  + {a}\n"));
        }
    }
    panic!("{msg}\n{context}");
}

/// The ZooKeeper C client's main header (Debian `libzookeeper-mt-dev`).
pub const ZOOKEEPER_C_HEADER: &str = "/usr/include/zookeeper/zookeeper.h";

/// Compiles `tests/clients/c/<name>.c` against the multi-threaded ZooKeeper C client
/// (`cc -DTHREADED ... -lzookeeper_mt`, as Mesos builds it) into `dir/<name>`; fails with the
/// install hint when the compiler, the headers or the library are missing.
pub fn compile_c_client(name: &str, dir: &Path) -> PathBuf {
    let compiler = std::env::var("CC")
        .ok()
        .filter(|cc| on_path(cc))
        .or_else(|| {
            ["cc", "gcc"]
                .into_iter()
                .find(|c| on_path(c))
                .map(Into::into)
        });
    require(compiler.is_some(), "a C compiler (cc or gcc)");
    require(
        Path::new(ZOOKEEPER_C_HEADER).is_file(),
        &format!(
            "the ZooKeeper C client headers ({ZOOKEEPER_C_HEADER}, Debian libzookeeper-mt-dev)"
        ),
    );
    let compiler = compiler.unwrap_or_default();
    let bin = dir.join(name);
    let src = clients_dir().join(format!("c/{name}.c"));
    let out = run(
        Command::new(&compiler)
            .args([
                "-DTHREADED",
                "-Wall",
                "-O1",
                "-I/usr/include/zookeeper",
                "-o",
            ])
            .arg(&bin)
            .arg(&src)
            .args(["-lzookeeper_mt", "-lpthread"]),
        None,
        &format!("compiling {name}.c"),
        Duration::from_secs(60),
    );
    if !out.status.success() {
        require(
            !out.stderr.contains("zookeeper_mt"),
            "libzookeeper_mt (Debian libzookeeper-mt-dev)",
        );
        panic!("{compiler} {} failed\n{}", src.display(), out.dump());
    }
    bin
}

/// Waits for `child` to exit, killing it (and failing the test) after `limit`; returns
/// its exit code and what it wrote to its piped stderr.
pub fn exit_and_stderr(
    child: &mut std::process::Child,
    limit: Duration,
    what: &str,
) -> (Option<i32>, String) {
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {limit:?}");
        }
        // std has no wait with a deadline: poll the child's exit.
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use std::io::Read;
        let _ = pipe.read_to_string(&mut stderr);
    }
    (status.code(), stderr)
}
