//! ZooKeeper's summaries: count, sum, min, max and average of observed values (its
//! `AvgMinMaxCounter`), and for the "advanced" ones also percentiles (its
//! `AvgMinMaxPercentileCounter`). Lock-free, so the request path can record into them,
//! and bounded: percentiles come from a fixed log-linear histogram, not kept samples.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Values below this are counted exactly; above, 16 buckets per power of two (at most
/// about 6% off), so the histogram is small whatever the range.
const EXACT: u64 = 64;
const SUB_BUCKETS: u64 = 16;
const BUCKETS: usize = (EXACT + (64 - 6) * SUB_BUCKETS) as usize;

/// The percentiles ZooKeeper's `mntr` prints for an advanced summary, with their key
/// prefixes.
pub const MNTR_PERCENTILES: [(&str, f64); 4] =
    [("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999)];

/// The quantiles ZooKeeper's Prometheus provider exports: 0.5 for every summary, and
/// 0.9 and 0.99 as well for advanced ones.
pub const BASIC_QUANTILES: [f64; 1] = [0.5];
pub const ADVANCED_QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];

#[derive(Debug)]
pub struct Summary {
    count: AtomicU64,
    sum: AtomicU64,
    min: AtomicI64,
    max: AtomicI64,
    /// ZooKeeper's "advanced" level: `mntr` prints percentiles and Prometheus gets three
    /// quantiles instead of the median only.
    advanced: bool,
    histogram: Box<[AtomicU64]>,
}

/// A summary's figures at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryValues {
    pub count: u64,
    pub sum: u64,
    /// 0 when nothing was observed, as ZooKeeper reports.
    pub min: i64,
    pub max: i64,
    /// Rounded to 4 decimals, as ZooKeeper's `avg_*`.
    pub avg: f64,
}

fn bucket_of(value: u64) -> usize {
    if value < EXACT {
        return value as usize;
    }
    let exponent = 63 - u64::from(value.leading_zeros());
    let sub = (value >> (exponent - 4)) & (SUB_BUCKETS - 1);
    (EXACT + (exponent - 6) * SUB_BUCKETS + sub) as usize
}

/// The smallest value that falls in `bucket`.
fn bucket_floor(bucket: usize) -> u64 {
    let bucket = bucket as u64;
    if bucket < EXACT {
        return bucket;
    }
    let exponent = (bucket - EXACT) / SUB_BUCKETS + 6;
    let sub = (bucket - EXACT) % SUB_BUCKETS;
    (1u64 << exponent) | (sub << (exponent - 4))
}

impl Summary {
    pub fn basic() -> Summary {
        Summary {
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            min: AtomicI64::new(i64::MAX),
            max: AtomicI64::new(i64::MIN),
            advanced: false,
            histogram: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub fn advanced() -> Summary {
        Summary {
            advanced: true,
            ..Summary::basic()
        }
    }

    pub fn is_advanced(&self) -> bool {
        self.advanced
    }

    pub fn observe(&self, value: u64) {
        let signed = i64::try_from(value).unwrap_or(i64::MAX);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
        self.min.fetch_min(signed, Ordering::Relaxed);
        self.max.fetch_max(signed, Ordering::Relaxed);
        self.histogram[bucket_of(value)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn observe_duration(&self, elapsed: std::time::Duration) {
        self.observe(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
    }

    pub fn values(&self) -> SummaryValues {
        let count = self.count.load(Ordering::Relaxed);
        let sum = self.sum.load(Ordering::Relaxed);
        if count == 0 {
            return SummaryValues {
                count,
                sum,
                min: 0,
                max: 0,
                avg: 0.0,
            };
        }
        let avg = sum as f64 / count as f64;
        SummaryValues {
            count,
            sum,
            min: self.min.load(Ordering::Relaxed),
            max: self.max.load(Ordering::Relaxed),
            avg: (avg * 10_000.0).round() / 10_000.0,
        }
    }

    /// The value at quantile `q` (0..=1) of what was observed; 0 when nothing was.
    pub fn quantile(&self, q: f64) -> u64 {
        let counts: Vec<u64> = self
            .histogram
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (bucket, n) in counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                // Never report more than was seen: the top bucket is wide.
                let max = u64::try_from(self.max.load(Ordering::Relaxed)).unwrap_or(0);
                return bucket_floor(bucket).min(max);
            }
        }
        0
    }

    /// `srst`: ZooKeeper resets every metric.
    pub fn reset(&self) {
        self.count.store(0, Ordering::Relaxed);
        self.sum.store(0, Ordering::Relaxed);
        self.min.store(i64::MAX, Ordering::Relaxed);
        self.max.store(i64::MIN, Ordering::Relaxed);
        for c in self.histogram.iter() {
            c.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order() {
        let mut last = 0;
        for v in (0..10_000u64).chain([u64::MAX / 2, u64::MAX]) {
            let b = bucket_of(v);
            assert!(b < BUCKETS, "{v} -> {b}");
            assert!(b >= last, "buckets must not decrease");
            assert!(bucket_floor(b) <= v);
            last = b;
        }
        assert_eq!(bucket_of(63), 63);
        assert_eq!(bucket_floor(bucket_of(1000)), 992);
    }

    #[test]
    fn figures_and_percentiles() {
        let s = Summary::advanced();
        assert_eq!(s.values().min, 0);
        assert_eq!(s.quantile(0.5), 0);
        for v in 1..=100 {
            s.observe(v);
        }
        let v = s.values();
        assert_eq!((v.count, v.sum, v.min, v.max), (100, 5050, 1, 100));
        assert_eq!(v.avg, 50.5);
        assert_eq!(s.quantile(0.5), 50);
        // 95 and 99 fall in buckets 16 wide below 128.
        assert!(
            (92..=95).contains(&s.quantile(0.95)),
            "{}",
            s.quantile(0.95)
        );
        assert!((96..=99).contains(&s.quantile(0.99)));
        s.reset();
        assert_eq!(s.values().count, 0);
        assert_eq!(s.quantile(0.99), 0);
    }

    #[test]
    fn basic_summaries_have_a_median_too() {
        let s = Summary::basic();
        s.observe(7);
        assert!(!s.is_advanced());
        assert_eq!(s.quantile(0.5), 7);
        assert_eq!(s.values().avg, 7.0);
    }
}
