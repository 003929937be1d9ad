//! `ferrokeeper-cli`: a zkCli-like shell for ZooKeeper 3.8 and ferrokeeper.
//!
//! ```text
//! ferrokeeper-cli --server 127.0.0.1:2181            # interactive shell
//! ferrokeeper-cli --server 127.0.0.1:2181/app ls /   # one command (chroot /app), then exit
//! ferrokeeper-cli -server 127.0.0.1:2181 get -s /a    # zkCli's spelling works too
//! ferrokeeper-cli --server zk1:2281 --secure --tls-ca ca.pem \
//!     --tls-cert client.pem --tls-key client.key ls /     # TLS with a client certificate
//! ferrokeeper-cli --server zk1:2181 --sasl-user bob \
//!     --sasl-password-file bob.pw whoami                  # SASL DIGEST-MD5
//! ferrokeeper-cli --server zk1:2181 setquota -n 1000 /app # zkCli's quota commands
//! ferrokeeper-cli --server zk1:2181 admin mntr            # AdminServer JSON (zk1:8080)
//! ferrokeeper-cli --server zk1:2181 4lw ruok              # a four-letter word
//! ```
//!
//! `help`, `version`, `admin` and `4lw` need
//! no session, so one-shot mode does not connect for them. Output to a pipe whose
//! reader has gone (`| head`) ends the program quietly, as SIGPIPE ends a Unix tool.
//!
//! One-shot mode prints the result on stdout and exits 0; on failure it prints zkCli's
//! error text on stderr (e.g. `Node does not exist: /a`) and exits 1 (2 for a usage
//! error). The interactive shell has line editing and history (rustyline) when stdin is
//! a terminal and reads plain lines otherwise; it prints watch and session events as
//! zkCli does (`WATCHER::` then `WatchedEvent state:... type:... path:...`).

mod admin;
mod format;
mod output;
mod quota;
mod reconfig;
mod shell;

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ferrokeeper_client::tls::TlsConfig;
use ferrokeeper_client::{Client, ClientBuilder};

use output::{errln, outln};
use shell::{CliError, Flow, Shell};

#[derive(Debug, Parser)]
#[command(
    name = "ferrokeeper-cli",
    version,
    about = "A zkCli-like shell for ZooKeeper and ferrokeeper",
    after_help = "zkCli's single-dash options (-server, -timeout, -r) are accepted too.

Security, as ZooKeeper's Java client settings:
  --secure                       zookeeper.client.secure=true (connect to secureClientPort)
  --tls-ca FILE                  zookeeper.ssl.trustStore.location (PEM)
  --tls-cert FILE --tls-key FILE zookeeper.ssl.keyStore.location (PEM chain and key)
  --tls-server-name NAME         the name the certificates must carry
  --tls-no-hostname-verification zookeeper.ssl.hostnameVerification=false
  --sasl-user USER               the JAAS Client section's username (DIGEST-MD5)
  --sasl-password-file FILE      its password (or $FERROKEEPER_SASL_PASSWORD)
Java key stores (JKS, PKCS#12) are not read: convert them to PEM with openssl.

Operator commands (no session needed):
  admin [--url http://host:8080/commands] command [key=value ...]
                                 an AdminServer command; its JSON, pretty (exit 1 on \"error\")
  4lw word                       a four-letter word to the first server's client port
Quotas as zkCli: setquota -n|-b|-N|-B val path, listquota path, delquota [-n|-b|-N|-B] path.
Run `ferrokeeper-cli help` for every command."
)]
struct Args {
    /// Connect string: host:port[,host:port...][/chroot].
    #[arg(long, default_value = "localhost:2181")]
    server: String,
    /// Session timeout in milliseconds (the connection timeout is the smaller of it and 10 s).
    #[arg(long, default_value_t = 30_000)]
    timeout: u64,
    /// Allow connecting to a read-only server.
    #[arg(short = 'r', long)]
    read_only: bool,
    /// Connect with TLS, to the servers' secureClientPort (zookeeper.client.secure=true).
    /// Needs --tls-ca.
    #[arg(long, requires = "tls_ca")]
    secure: bool,
    /// PEM file of the CA certificates the servers' certificates must chain to
    /// (zookeeper.ssl.trustStore.location). Needs --secure.
    #[arg(long, value_name = "FILE", requires = "secure")]
    tls_ca: Option<PathBuf>,
    /// PEM file of the client's certificate (then any intermediates) to present
    /// (zookeeper.ssl.keyStore.location): the session gets the x509 id of its subject.
    /// Needs --tls-key.
    #[arg(long, value_name = "FILE", requires_all = ["secure", "tls_key"])]
    tls_cert: Option<PathBuf>,
    /// PEM file of the client certificate's private key (unencrypted). Needs --tls-cert.
    #[arg(long, value_name = "FILE", requires_all = ["secure", "tls_cert"])]
    tls_key: Option<PathBuf>,
    /// The name the servers' certificates must carry, instead of each host of --server.
    #[arg(long, value_name = "NAME", requires = "secure")]
    tls_server_name: Option<String>,
    /// Accept a server certificate that does not name the host (still checked against
    /// --tls-ca): zookeeper.ssl.hostnameVerification=false.
    #[arg(long, requires = "secure")]
    tls_no_hostname_verification: bool,
    /// Authenticate with SASL DIGEST-MD5 as USER (the session gets the id sasl:USER).
    /// The password comes from --sasl-password-file, else from the environment
    /// variable FERROKEEPER_SASL_PASSWORD; never from the command line.
    #[arg(long, value_name = "USER")]
    sasl_user: Option<String>,
    /// File whose first line is the SASL password. Needs --sasl-user.
    #[arg(long, value_name = "FILE", requires = "sasl_user")]
    sasl_password_file: Option<PathBuf>,
    /// A command to run (then exit) instead of the interactive shell, e.g. `get -s /a`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// The options (besides --server and --timeout) whose value is the next argument.
const VALUE_OPTIONS: &[&str] = &[
    "--tls-ca",
    "--tls-cert",
    "--tls-key",
    "--tls-server-name",
    "--sasl-user",
    "--sasl-password-file",
];

/// Where the SASL password comes from when no file is given.
const SASL_PASSWORD_ENV: &str = "FERROKEEPER_SASL_PASSWORD";

/// The first line of a password file (without its line ending).
fn read_password(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the SASL password file {}: {e}", path.display()))?;
    let line = text.split('\n').next().unwrap_or_default();
    Ok(line.strip_suffix('\r').unwrap_or(line).to_owned())
}

/// The TLS and SASL settings of `args`, on `builder`. Errors are for stderr, with the
/// exit code.
fn secure(args: &Args, mut builder: ClientBuilder) -> Result<ClientBuilder, (String, u8)> {
    if args.secure {
        let mut tls =
            TlsConfig::builder().hostname_verification(!args.tls_no_hostname_verification);
        if let Some(ca) = &args.tls_ca {
            tls = tls.ca_file(ca);
        }
        if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
            tls = tls.client_cert_files(cert, key);
        }
        if let Some(name) = &args.tls_server_name {
            tls = tls.server_name(name);
        }
        let tls = tls.build().map_err(|e| (e.to_string(), 1))?;
        builder = builder.tls(tls);
    }
    if let Some(user) = &args.sasl_user {
        let password = match &args.sasl_password_file {
            Some(path) => read_password(path).map_err(|e| (e, 1))?,
            None => std::env::var(SASL_PASSWORD_ENV).map_err(|_| {
                (
                    format!("--sasl-user needs --sasl-password-file or {SASL_PASSWORD_ENV}"),
                    2,
                )
            })?,
        };
        builder = builder.sasl_digest_md5(user, &password);
    }
    Ok(builder)
}

/// zkCli's spellings of the options before the command.
fn zkcli_args(args: impl Iterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut options = true;
    let mut expect_value = false;
    for (i, arg) in args.enumerate() {
        if i == 0 || !options {
            out.push(arg);
            continue;
        }
        if expect_value {
            expect_value = false;
            out.push(arg);
            continue;
        }
        match arg.as_str() {
            "-server" | "--server" => {
                out.push("--server".into());
                expect_value = true;
            }
            "-timeout" | "--timeout" => {
                out.push("--timeout".into());
                expect_value = true;
            }
            a if VALUE_OPTIONS.contains(&a) => {
                out.push(arg);
                expect_value = true;
            }
            a if a.starts_with('-') => out.push(arg),
            _ => {
                options = false;
                out.push(arg);
            }
        }
    }
    out
}

fn main() -> ExitCode {
    let args = Args::parse_from(zkcli_args(std::env::args()));
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            errln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let timeout = Duration::from_millis(args.timeout);
    let builder = Client::builder()
        .session_timeout(timeout)
        .connection_timeout(timeout.min(Duration::from_secs(10)))
        .read_only(args.read_only);
    let builder = match secure(&args, builder) {
        Ok(builder) => builder,
        Err((why, code)) => {
            errln!("{why}");
            return ExitCode::from(code);
        }
    };
    let code = if args.command.is_empty() {
        let mut shell = Shell::new(&args.server, builder, true, timeout);
        shell.secure = args.secure;
        interactive(&runtime, shell)
    } else {
        let mut shell = Shell::new(&args.server, builder, false, timeout);
        shell.secure = args.secure;
        runtime.block_on(one_shot(shell, &args.command))
    };
    // A DNS look-up given up on may still block a thread of the runtime: do not wait
    // for it.
    runtime.shutdown_background();
    code
}

async fn one_shot(mut shell: Shell, words: &[String]) -> ExitCode {
    let command = match shell::parse(words) {
        Ok(command) => command,
        Err(e) => {
            if matches!(e, CliError::NotFound(_)) {
                errln!("{}", shell::help());
            }
            errln!("{e}");
            return ExitCode::from(e.exit_code());
        }
    };
    if command.needs_session() {
        let server = shell.server.clone();
        if let Err(e) = shell.connect(&server).await {
            errln!("{e}");
            return ExitCode::FAILURE;
        }
    }
    let result = shell.run(command).await;
    shell.close().await;
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            errln!("{e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Where interactive lines come from.
enum Input {
    Editor(Box<rustyline::DefaultEditor>),
    Plain(std::io::StdinLock<'static>),
}

impl Input {
    fn read(&mut self, prompt: &str) -> Option<String> {
        match self {
            Input::Editor(editor) => match editor.readline(prompt) {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        let _ = editor.add_history_entry(line.as_str());
                    }
                    Some(line)
                }
                // Ctrl-C clears the line, as in a shell.
                Err(rustyline::error::ReadlineError::Interrupted) => Some(String::new()),
                Err(_) => None,
            },
            Input::Plain(stdin) => {
                let mut line = String::new();
                match stdin.read_line(&mut line) {
                    Ok(0) | Err(_) => None,
                    Ok(_) => Some(line),
                }
            }
        }
    }

    fn history(&self) -> Vec<String> {
        match self {
            Input::Editor(editor) => editor.history().iter().cloned().collect(),
            Input::Plain(_) => Vec::new(),
        }
    }
}

fn history_file() -> Option<std::path::PathBuf> {
    std::env::var_os("HOME")
        .map(|home| std::path::Path::new(&home).join(".ferrokeeper_cli_history"))
}

fn interactive(runtime: &tokio::runtime::Runtime, mut shell: Shell) -> ExitCode {
    let terminal = std::io::stdin().is_terminal();
    let mut input = match (terminal, rustyline::DefaultEditor::new()) {
        (true, Ok(mut editor)) => {
            if let Some(file) = history_file() {
                let _ = editor.load_history(&file);
            }
            Input::Editor(Box::new(editor))
        }
        _ => Input::Plain(std::io::stdin().lock()),
    };
    let server = shell.server.clone();
    outln!("Connecting to {server}");
    outln!("Welcome to ferrokeeper-cli!");
    if let Err(e) = runtime.block_on(shell.connect(&server)) {
        errln!("{e}");
    }
    let mut failed = false;
    let mut number = 0;
    loop {
        let prompt = if terminal {
            format!("[zk: {}({}) {number}] ", shell.server, shell.state_name())
        } else {
            String::new()
        };
        let Some(line) = input.read(&prompt) else {
            break;
        };
        let words = shell::tokenize(&line);
        if words.is_empty() {
            continue;
        }
        number += 1;
        let result = match shell::parse(&words) {
            Ok(command) => runtime.block_on(shell.run(command)),
            Err(e) => Err(e),
        };
        failed = result.is_err();
        match result {
            Ok(Flow::Continue) => {}
            Ok(Flow::Quit) => break,
            Ok(Flow::History) => {
                let history = input.history();
                let skip = history.len().saturating_sub(11);
                for (i, line) in history.iter().enumerate().skip(skip) {
                    outln!("{i} - {line}");
                }
            }
            Err(e @ CliError::NotFound(_)) => {
                outln!("{}", shell::help());
                errln!("{e}");
            }
            Err(e) => errln!("{e}"),
        }
    }
    if let (Input::Editor(editor), Some(file)) = (&mut input, history_file()) {
        let _ = editor.save_history(&file);
    }
    runtime.block_on(shell.close());
    // As zkCli: the exit code tells whether the last command succeeded.
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        zkcli_args(line.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn security_options_take_values() {
        let parsed = args(
            "cli -server h:1 --secure --tls-ca ca.pem --tls-cert c.pem --tls-key c.key \
             --tls-server-name zk --sasl-user bob --sasl-password-file pw get /a",
        );
        let parsed = Args::try_parse_from(parsed).expect("parses");
        assert!(parsed.secure);
        assert_eq!(parsed.tls_ca, Some(PathBuf::from("ca.pem")));
        assert_eq!(parsed.tls_cert, Some(PathBuf::from("c.pem")));
        assert_eq!(parsed.tls_key, Some(PathBuf::from("c.key")));
        assert_eq!(parsed.tls_server_name.as_deref(), Some("zk"));
        assert_eq!(parsed.sasl_user.as_deref(), Some("bob"));
        assert_eq!(parsed.sasl_password_file, Some(PathBuf::from("pw")));
        assert_eq!(parsed.command, ["get", "/a"]);
    }

    #[test]
    fn incomplete_security_options_are_refused() {
        for line in [
            "cli --secure ls /",
            "cli --tls-ca ca.pem ls /",
            "cli --secure --tls-ca ca.pem --tls-cert c.pem ls /",
            "cli --sasl-password-file pw ls /",
        ] {
            assert!(Args::try_parse_from(args(line)).is_err(), "{line}");
        }
    }

    #[test]
    fn password_file_first_line() {
        let dir = std::env::temp_dir().join(format!("fk-cli-pw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("pw");
        for (text, expected) in [("s3cret\n", "s3cret"), ("a b\r\nnext", "a b"), ("x", "x")] {
            std::fs::write(&file, text).expect("write");
            assert_eq!(read_password(&file).as_deref(), Ok(expected));
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert!(read_password(&dir.join("missing")).is_err());
    }
}
