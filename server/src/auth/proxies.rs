//! The client address behind trusted proxies (`--trusted-proxies`).
//!
//! `X-Forwarded-For` is a list anyone can write to: each proxy appends the
//! address it received the request from. Only the entries appended by our
//! own proxies can be believed, so the header is read only when the socket
//! peer is a trusted proxy, from the right, skipping trusted hops: the
//! first untrusted address is the client. Everything to its left was
//! written by the client itself and is never looked at.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` entries are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses CIDRs (`10.0.0.0/8`, `fd00::/8`) or single addresses.
    pub fn parse<S: AsRef<str>>(list: &[S]) -> Result<TrustedProxies, String> {
        list.iter()
            .map(|s| s.as_ref().trim())
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| {
                        format!(
                            "trusted_proxies entry {s:?} is not an IP address or CIDR (e.g. 10.0.0.0/8)"
                        )
                    })
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the socket peer, unless it is a trusted proxy;
    /// then the right-most `X-Forwarded-For` entry that is not a trusted
    /// proxy (the left-most entry when all are). An unreadable entry ends
    /// the walk at the last address known good: a trusted proxy never
    /// writes one, so whatever lies beyond it is not believed.
    pub fn client_addr(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        // Several headers are one list, in order (RFC 9110 §5.3).
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for hop in hops.into_iter().rev() {
            let Some(ip) = parse_hop(hop.trim()) else {
                break;
            };
            client = ip.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port
/// (`192.0.2.1:5000`, `[2001:db8::1]:443`) as some proxies write it.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|_| panic!("{s}"))
    }

    fn xff(values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let t = TrustedProxies::parse(&["10.0.0.0/8", "2001:db8:ffff::1"]).unwrap();
        let proxy = ip("10.1.2.3");
        // Spoofed entries on the left are never believed.
        let h = xff(&["6.6.6.6, 203.0.113.9, 10.9.9.9"]);
        assert_eq!(t.client_addr(proxy, &h), ip("203.0.113.9"));
        // The same across several headers, and with ports.
        let h = xff(&["6.6.6.6", "203.0.113.9:5123", "10.9.9.9"]);
        assert_eq!(t.client_addr(proxy, &h), ip("203.0.113.9"));
        let h = xff(&["[2001:db8::7]:443"]);
        assert_eq!(t.client_addr(ip("2001:db8:ffff::1"), &h), ip("2001:db8::7"));
        // Every hop trusted: the left-most one.
        assert_eq!(t.client_addr(proxy, &xff(&["10.0.0.9"])), ip("10.0.0.9"));
        // No header: the proxy itself.
        assert_eq!(t.client_addr(proxy, &HeaderMap::new()), proxy);
        // Garbage stops the walk at the last good address.
        let h = xff(&["203.0.113.9, garbage, 10.0.0.2"]);
        assert_eq!(t.client_addr(proxy, &h), ip("10.0.0.2"));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_sends() {
        let t = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        let h = xff(&["203.0.113.9"]);
        assert_eq!(t.client_addr(ip("198.51.100.1"), &h), ip("198.51.100.1"));
        assert_eq!(
            TrustedProxies::default().client_addr(ip("10.0.0.1"), &h),
            ip("10.0.0.1"),
            "no proxies configured: the header is ignored"
        );
        // An IPv4-mapped IPv6 peer is its IPv4 address.
        assert_eq!(t.client_addr(ip("::ffff:10.0.0.1"), &h), ip("203.0.113.9"));
    }

    #[test]
    fn parse_takes_cidrs_and_addresses_and_names_a_bad_entry() {
        let t = TrustedProxies::parse(&["10.0.0.0/8", " 192.0.2.1 ", "", "fd00::/8"]).unwrap();
        assert_eq!(t.0.len(), 3);
        assert!(t.trusts(ip("192.0.2.1")) && !t.trusts(ip("192.0.2.2")));
        let e = TrustedProxies::parse(&["10.0.0.0/33"]).unwrap_err();
        assert!(e.contains("10.0.0.0/33"), "{e}");
        assert!(TrustedProxies::parse(&["proxy.internal"]).is_err());
    }
}
