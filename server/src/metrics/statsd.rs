//! The StatsD side of the metrics: where datagrams go (`LULL_STATSD`),
//! the StatsD recorder, and the fan-out that feeds it and Prometheus the
//! same updates.

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::Arc;

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

/// Where StatsD datagrams go (`LULL_STATSD=host:port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsdTarget {
    pub host: String,
    pub port: u16,
}

impl StatsdTarget {
    /// Parses `host:port` (an IPv6 host in brackets).
    pub fn parse(s: &str) -> Result<StatsdTarget, String> {
        let (host, port) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("LULL_STATSD must be host:port, not {s:?}"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("LULL_STATSD: {port:?} is not a port (1-65535)"))?;
        if host.is_empty() {
            return Err(format!("LULL_STATSD must be host:port, not {s:?}"));
        }
        Ok(StatsdTarget {
            host: host.to_string(),
            port,
        })
    }
}

impl std::fmt::Display for StatsdTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// The StatsD recorder: one datagram per update, sent from cadence's queue
/// thread (never blocks the request), unbuffered so an alert on a pause
/// fires at once rather than when a buffer fills.
pub(super) fn statsd_recorder(
    target: &StatsdTarget,
) -> Result<metrics_exporter_statsd::StatsdRecorder, String> {
    let addr: SocketAddr = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| format!("LULL_STATSD {target}: {e}"))?
        .next()
        .ok_or_else(|| format!("LULL_STATSD {target}: no address"))?;
    let bind = if addr.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = UdpSocket::bind(bind).map_err(|e| format!("StatsD socket: {e}"))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| format!("StatsD socket: {e}"))?;
    let udp = cadence::UdpMetricSink::from(addr, socket)
        .map_err(|e| format!("StatsD sink {target}: {e}"))?;
    let sink = cadence::QueuingMetricSink::with_capacity(udp, 8192);
    metrics_exporter_statsd::StatsdBuilder::from(target.host.clone(), target.port)
        .with_sink(sink)
        .build(None)
        .map_err(|e| format!("StatsD recorder: {e}"))
}

/// Two recorders fed the same updates: Prometheus and StatsD. (Our own
/// because `metrics_util`'s `Fanout` is not `Send`, and the service shares
/// its recorder across threads.)
pub(super) struct Both<A, B>(pub A, pub B);

/// A handle that forwards to both recorders' handles.
struct Pair<T>(T, T);

impl CounterFn for Pair<Counter> {
    fn increment(&self, value: u64) {
        self.0.increment(value);
        self.1.increment(value);
    }

    fn absolute(&self, value: u64) {
        self.0.absolute(value);
        self.1.absolute(value);
    }
}

impl GaugeFn for Pair<Gauge> {
    fn increment(&self, value: f64) {
        self.0.increment(value);
        self.1.increment(value);
    }

    fn decrement(&self, value: f64) {
        self.0.decrement(value);
        self.1.decrement(value);
    }

    fn set(&self, value: f64) {
        self.0.set(value);
        self.1.set(value);
    }
}

impl HistogramFn for Pair<Histogram> {
    fn record(&self, value: f64) {
        self.0.record(value);
        self.1.record(value);
    }
}

impl<A: Recorder, B: Recorder> Recorder for Both<A, B> {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0
            .describe_counter(key.clone(), unit, description.clone());
        self.1.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0
            .describe_gauge(key.clone(), unit, description.clone());
        self.1.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0
            .describe_histogram(key.clone(), unit, description.clone());
        self.1.describe_histogram(key, unit, description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::new(Pair(
            self.0.register_counter(key, metadata),
            self.1.register_counter(key, metadata),
        )))
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(Arc::new(Pair(
            self.0.register_gauge(key, metadata),
            self.1.register_gauge(key, metadata),
        )))
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(Pair(
            self.0.register_histogram(key, metadata),
            self.1.register_histogram(key, metadata),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statsd_targets_parse() {
        assert_eq!(
            StatsdTarget::parse("127.0.0.1:8125").unwrap(),
            StatsdTarget {
                host: "127.0.0.1".into(),
                port: 8125
            }
        );
        assert_eq!(StatsdTarget::parse("[::1]:9125").unwrap().host, "::1");
        assert_eq!(
            StatsdTarget::parse("[::1]:9125").unwrap().to_string(),
            "[::1]:9125"
        );
        for bad in ["", "host", "host:", ":8125", "host:0", "host:99999"] {
            assert!(StatsdTarget::parse(bad).is_err(), "{bad:?}");
        }
    }
}
