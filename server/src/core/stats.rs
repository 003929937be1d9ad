//! Server-wide counters for `srvr`, `stat` and `mntr`.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

#[derive(Debug)]
pub struct Stats {
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    pub auth_failed: AtomicU64,
    /// `gtmk`/`stmk`: ZooKeeper's request trace mask. Kept and reported; ferrokeeper's
    /// logging is configured with `RUST_LOG` instead, so the mask changes nothing else.
    pub trace_mask: AtomicI64,
    latency_count: AtomicU64,
    latency_total_ms: AtomicU64,
    latency_min_ms: AtomicI64,
    latency_max_ms: AtomicI64,
    /// Sizes of replies and notifications sent to clients, bytes (ZooKeeper's client
    /// response stats); -1 until the first.
    response_last: AtomicI64,
    response_min: AtomicI64,
    response_max: AtomicI64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            packets_received: AtomicU64::new(0),
            packets_sent: AtomicU64::new(0),
            auth_failed: AtomicU64::new(0),
            trace_mask: AtomicI64::new(306),
            latency_count: AtomicU64::new(0),
            latency_total_ms: AtomicU64::new(0),
            latency_min_ms: AtomicI64::new(i64::MAX),
            latency_max_ms: AtomicI64::new(0),
            response_last: AtomicI64::new(-1),
            response_min: AtomicI64::new(-1),
            response_max: AtomicI64::new(-1),
        }
    }
}

/// Client response sizes as ZooKeeper reports them: -1 before the first response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseSizes {
    pub last: i64,
    pub min: i64,
    pub max: i64,
}

/// Latency as ZooKeeper reports it: min/avg/max in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub min: i64,
    pub avg: f64,
    pub max: i64,
}

impl Stats {
    pub fn record_latency(&self, ms: u64) {
        let ms_i = i64::try_from(ms).unwrap_or(i64::MAX);
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_total_ms.fetch_add(ms, Ordering::Relaxed);
        self.latency_min_ms.fetch_min(ms_i, Ordering::Relaxed);
        self.latency_max_ms.fetch_max(ms_i, Ordering::Relaxed);
    }

    /// A response of `bytes` left for a client.
    pub fn record_response(&self, bytes: usize) {
        let n = i64::try_from(bytes).unwrap_or(i64::MAX);
        self.response_last.store(n, Ordering::Relaxed);
        let _ = self
            .response_min
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |m| {
                (m < 0 || n < m).then_some(n)
            });
        self.response_max.fetch_max(n, Ordering::Relaxed);
        crate::metrics::global()
            .response_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub fn response_sizes(&self) -> ResponseSizes {
        ResponseSizes {
            last: self.response_last.load(Ordering::Relaxed),
            min: self.response_min.load(Ordering::Relaxed),
            max: self.response_max.load(Ordering::Relaxed),
        }
    }

    pub fn latency(&self) -> Latency {
        let count = self.latency_count.load(Ordering::Relaxed);
        if count == 0 {
            return Latency {
                min: 0,
                avg: 0.0,
                max: 0,
            };
        }
        Latency {
            min: self.latency_min_ms.load(Ordering::Relaxed),
            avg: self.latency_total_ms.load(Ordering::Relaxed) as f64 / count as f64,
            max: self.latency_max_ms.load(Ordering::Relaxed),
        }
    }

    /// `srst`: ZooKeeper resets latency and packet counters.
    pub fn reset(&self) {
        self.packets_received.store(0, Ordering::Relaxed);
        self.packets_sent.store(0, Ordering::Relaxed);
        self.latency_count.store(0, Ordering::Relaxed);
        self.latency_total_ms.store(0, Ordering::Relaxed);
        self.latency_min_ms.store(i64::MAX, Ordering::Relaxed);
        self.latency_max_ms.store(0, Ordering::Relaxed);
        self.response_last.store(-1, Ordering::Relaxed);
        self.response_min.store(-1, Ordering::Relaxed);
        self.response_max.store(-1, Ordering::Relaxed);
        crate::metrics::global().reset();
    }
}
