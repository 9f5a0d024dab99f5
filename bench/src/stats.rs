//! Latency summaries and small formatting helpers.

use std::time::Duration;

/// Percentiles of a set of latencies.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latency {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Latency {
    /// Nearest-rank percentiles (no interpolation: every figure is a sample
    /// that was really observed).
    pub fn of(mut samples: Vec<Duration>) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        samples.sort_unstable();
        let rank = |p: f64| {
            let i = ((p / 100.0) * samples.len() as f64).ceil() as usize;
            samples[i.clamp(1, samples.len()) - 1]
        };
        Latency {
            count: samples.len(),
            p50: rank(50.0),
            p99: rank(99.0),
            max: samples[samples.len() - 1],
        }
    }
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// A rate with thousands separators, no decimals.
pub fn per_sec(v: f64) -> String {
    let n = v.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out}/s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let l = Latency::of((1..=100).map(Duration::from_millis).collect());
        assert_eq!(l.p50, Duration::from_millis(50));
        assert_eq!(l.p99, Duration::from_millis(99));
        assert_eq!(l.max, Duration::from_millis(100));
        assert_eq!(Latency::of(vec![]).count, 0);
    }

    #[test]
    fn rates_read_well() {
        assert_eq!(per_sec(12345.4), "12,345/s");
        assert_eq!(per_sec(999.0), "999/s");
    }
}
