use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "ferrokeeper {}: the server is not yet implemented (only the protocol crate exists so far).",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::from(2)
}
