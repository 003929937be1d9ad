//! Progress of a long import or export: a bar with rates and an ETA on a terminal, a
//! log line every few seconds otherwise (a pipeline or a CI log has no use for a bar).

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

const LOG_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    label: &'static str,
    unit: &'static str,
    bar: Option<ProgressBar>,
    started: Instant,
    last_log: Instant,
    total_bytes: u64,
}

impl Progress {
    /// A stage over `total_bytes` of input that produces `unit`s (znodes, txns).
    pub fn new(
        label: &'static str,
        unit: &'static str,
        total_bytes: u64,
        interactive: bool,
    ) -> Self {
        let bar = interactive.then(|| {
            let bar = ProgressBar::new(total_bytes);
            let style = ProgressStyle::with_template(
                "{prefix:>9} [{bar:30}] {bytes}/{total_bytes} {msg} (ETA {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(label);
            bar
        });
        let now = Instant::now();
        Progress {
            label,
            unit,
            bar,
            started: now,
            last_log: now,
            total_bytes,
        }
    }

    fn rate(&self, count: u64) -> u64 {
        let secs = self.started.elapsed().as_secs_f64();
        if secs > 0.0 {
            (count as f64 / secs) as u64
        } else {
            0
        }
    }

    pub fn update(&mut self, bytes: u64, count: u64) {
        let rate = self.rate(count);
        if let Some(bar) = &self.bar {
            bar.set_position(bytes.min(self.total_bytes));
            bar.set_message(format!("{count} {} ({rate}/s)", self.unit));
        } else if self.last_log.elapsed() >= LOG_EVERY {
            self.last_log = Instant::now();
            let percent = (bytes.min(self.total_bytes) * 100)
                .checked_div(self.total_bytes)
                .unwrap_or(100);
            tracing::info!(
                "{}: {percent}% of the input, {count} {} ({rate}/s)",
                self.label,
                self.unit
            );
        }
    }

    pub fn finish(self, count: u64) {
        let rate = self.rate(count);
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        tracing::info!(
            "{}: {count} {} in {:.1} s ({rate}/s)",
            self.label,
            self.unit,
            self.started.elapsed().as_secs_f64()
        );
    }
}
