//! How the benchmarks reach a server: through the typed [`client::Client`],
//! one per server, shared by every load task of a scenario. Its connection
//! pool opens one kept-alive connection per concurrent request and reuses
//! it, so a scenario with N load tasks runs on N connections, opened in its
//! warm-up; a connection that breaks (a killed server) is re-opened by the
//! next request, which the fault scenarios rely on.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{anyhow, Result};
use client::Client;

/// The longest any single request may take before it counts as failed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The client of the server at `addr`.
pub fn client(addr: SocketAddr) -> Result<Client> {
    Ok(Client::builder(format!("http://{addr}"))
        .timeout(REQUEST_TIMEOUT)
        .build()?)
}

/// One counter of `/metrics` (the first sample named exactly `name`).
pub async fn metric(c: &Client, name: &str) -> Result<f64> {
    let text = c.metrics_text().await?;
    sample(&text, name).ok_or_else(|| anyhow!("/metrics has no {name}"))
}

/// The value of the sample `name` (name and labels exactly) in a Prometheus
/// text exposition.
fn sample(exposition: &str, name: &str) -> Option<f64> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            (k == name).then(|| v.parse().ok()).flatten()
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_sample_is_found_by_its_exact_name() {
        let text = "# HELP x\nlull_a_total 3\nlull_a_total_other 9\nlull_b{k=\"v\"} 1.5\n";
        assert_eq!(super::sample(text, "lull_a_total"), Some(3.0));
        assert_eq!(super::sample(text, "lull_b{k=\"v\"}"), Some(1.5));
        assert_eq!(super::sample(text, "lull_c"), None);
    }
}
