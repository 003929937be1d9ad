//! `ferrokeeper-cli`: a zkCli-like shell for ZooKeeper 3.8 and ferrokeeper.
//!
//! ```text
//! ferrokeeper-cli --server 127.0.0.1:2181            # interactive shell
//! ferrokeeper-cli --server 127.0.0.1:2181/app ls /   # one command (chroot /app), then exit
//! ferrokeeper-cli -server 127.0.0.1:2181 get -s /a    # zkCli's spelling works too
//! ```
//!
//! One-shot mode prints the result on stdout and exits 0; on failure it prints zkCli's
//! error text on stderr (e.g. `Node does not exist: /a`) and exits 1 (2 for a usage
//! error). The interactive shell has line editing and history (rustyline) when stdin is
//! a terminal and reads plain lines otherwise; it prints watch and session events as
//! zkCli does (`WATCHER::` then `WatchedEvent state:... type:... path:...`).

mod format;
mod shell;

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ferrokeeper_client::Client;

use shell::{CliError, Flow, Shell};

#[derive(Debug, Parser)]
#[command(
    name = "ferrokeeper-cli",
    version,
    about = "A zkCli-like shell for ZooKeeper and ferrokeeper",
    after_help = "zkCli's single-dash options (-server, -timeout, -r) are accepted too."
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
    /// A command to run (then exit) instead of the interactive shell, e.g. `get -s /a`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
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
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let timeout = Duration::from_millis(args.timeout);
    let builder = Client::builder()
        .session_timeout(timeout)
        .connection_timeout(timeout.min(Duration::from_secs(10)))
        .read_only(args.read_only);
    if args.command.is_empty() {
        let shell = Shell::new(&args.server, builder, true, timeout);
        interactive(&runtime, shell)
    } else {
        let shell = Shell::new(&args.server, builder, false, timeout);
        runtime.block_on(one_shot(shell, &args.command))
    }
}

async fn one_shot(mut shell: Shell, words: &[String]) -> ExitCode {
    let command = match shell::parse(words) {
        Ok(command) => command,
        Err(e) => {
            if matches!(e, CliError::NotFound(_)) {
                eprintln!("{}", shell::help());
            }
            eprintln!("{e}");
            return ExitCode::from(e.exit_code());
        }
    };
    let server = shell.server.clone();
    if let Err(e) = shell.connect(&server).await {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    let result = shell.run(command).await;
    shell.close().await;
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
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
    println!("Connecting to {server}");
    println!("Welcome to ferrokeeper-cli!");
    if let Err(e) = runtime.block_on(shell.connect(&server)) {
        eprintln!("{e}");
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
                    println!("{i} - {line}");
                }
            }
            Err(e @ CliError::NotFound(_)) => {
                println!("{}", shell::help());
                eprintln!("{e}");
            }
            Err(e) => eprintln!("{e}"),
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
