//! Writing to stdout and stderr without panicking when the reader has gone.
//!
//! Rust ignores SIGPIPE, so `println!` panics when stdout is a pipe whose reader exited
//! (`ferrokeeper-cli ls -R / | head -1`). A Unix tool is killed by SIGPIPE there and
//! prints nothing; restoring that signal needs `unsafe`, so [`outln!`] does the same by
//! hand: on EPIPE the program ends at once, silently, with the shell's code for a
//! SIGPIPE death (128 + 13). Any other write error (a full disk) is reported on stderr
//! and ends the program with 1: output that was lost must not look like success.

use std::fmt;
use std::io::{self, Write};

/// The exit code a shell shows for a process killed by SIGPIPE.
pub const BROKEN_PIPE_EXIT: i32 = 128 + 13;

/// Like `println!`, but see the module's note on closed pipes.
macro_rules! outln {
    () => {
        $crate::output::stdout_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::stdout_line(format_args!($($arg)*))
    };
}

/// Like `eprintln!`, but a closed stderr ends the program as a closed stdout does.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::stderr_line(format_args!($($arg)*))
    };
}

pub(crate) use {errln, outln};

pub fn stdout_line(args: fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    let written = out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    if let Err(e) = written {
        failed("stdout", &e);
    }
}

pub fn stderr_line(args: fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    let written = err
        .write_fmt(args)
        .and_then(|()| err.write_all(b"\n"))
        .and_then(|()| err.flush());
    if let Err(e) = written {
        failed("stderr", &e);
    }
}

fn failed(stream: &str, e: &io::Error) -> ! {
    if e.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(BROKEN_PIPE_EXIT);
    }
    // Best effort: stderr may be the stream that failed.
    let _ = writeln!(io::stderr(), "cannot write to {stream}: {e}");
    std::process::exit(1);
}
