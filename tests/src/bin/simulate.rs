//! Runs the deterministic simulation (`ferrokeeper_tests::simulation`): one seed with
//! its report (`--seed`), or a campaign of many (`--seeds`), which prints every failing
//! seed with the command that replays it.

use clap::Parser;

#[derive(Parser)]
#[command(about = "Deterministic simulation of a ferrokeeper ensemble under faults")]
struct Args {
    /// Run this one seed and print its report.
    #[arg(long, conflicts_with = "seeds")]
    seed: Option<u64>,
    /// Run this many seeds, from `--from` on.
    #[arg(long)]
    seeds: Option<u64>,
    #[arg(long, default_value_t = 0)]
    from: u64,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    // `RUST_LOG=info` (or finer) shows the members' own log lines while a seed replays.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    if let Some(seed) = args.seed {
        return match ferrokeeper_tests::simulation::run(seed) {
            Ok(report) => {
                println!("{report:#?}");
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let count = args.seeds.unwrap_or(100);
    let started = std::time::Instant::now();
    let mut failed = 0u64;
    let (mut acknowledged, mut faults, mut ops) = (0u64, 0usize, 0usize);
    // Seeds whose final synced reads had to be tried again (a leader change right
    // after healing).
    let mut retried = Vec::new();
    for seed in args.from..args.from + count {
        match ferrokeeper_tests::simulation::run(seed) {
            Ok(report) => {
                acknowledged += report.acknowledged;
                faults += report.faults.len();
                ops += report.register_ops;
                if report.final_read_retries > 0 {
                    retried.push(seed);
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("{e}");
            }
        }
        // A long campaign stopped early still says how far it got.
        let done = seed - args.from + 1;
        if done % 50 == 0 && done < count {
            eprintln!(
                "{done} seeds from {} in {:.0} s: {failed} failed; final reads tried again \
                 in {retried:?}",
                args.from,
                started.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "{count} seeds from {} in {:.1} s: {failed} failed; {faults} faults, {acknowledged} \
         acknowledged writes, {ops} register operations checked; final reads tried again \
         in {} seeds {retried:?}",
        args.from,
        started.elapsed().as_secs_f64(),
        retried.len()
    );
    if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
