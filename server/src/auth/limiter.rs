//! The authentication-failure limiter: a GCRA bucket per client address
//! (governor's keyed limiter), charged only when a credential has already
//! failed. A valid credential is never looked up here, so no number of
//! failures from an address (or from everyone behind one proxy) can refuse
//! it; what the limiter slows down is guessing, and the token lookups that
//! unknown token ids cost.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

/// Below this many tracked addresses nothing is swept.
const SWEEP_FLOOR: usize = 4096;

/// A burst of failures per client address, then one more per `refill`.
pub struct FailureLimiter<C: Clock = DefaultClock> {
    limiter: RateLimiter<IpAddr, DashMapStateStore<IpAddr>, C, NoOpMiddleware<C::Instant>>,
    clock: C,
    /// Sweep when more addresses than this are tracked. After a sweep it is
    /// set to twice what is left (at least [`SWEEP_FLOOR`]), so the cost of
    /// sweeping stays proportional to the failures that grew the map.
    sweep_above: AtomicUsize,
}

impl FailureLimiter {
    pub fn new(burst: u32, refill: Duration) -> Self {
        FailureLimiter::with_clock(burst, refill, DefaultClock::default())
    }
}

impl<C: Clock + Clone> FailureLimiter<C> {
    /// With a clock of the caller's (tests use governor's fake clock).
    pub fn with_clock(burst: u32, refill: Duration, clock: C) -> Self {
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(refill.max(Duration::from_millis(1)))
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        FailureLimiter {
            limiter: RateLimiter::dashmap_with_clock(quota, clock.clone()),
            clock,
            sweep_above: AtomicUsize::new(SWEEP_FLOOR),
        }
    }

    /// Records one failed authentication from `ip`: `Err(retry_after)` when
    /// the address has used up its failures (answer 429 instead of 401).
    pub fn fail(&self, ip: IpAddr) -> Result<(), Duration> {
        let outcome = self.limiter.check_key(&bucket_of(ip));
        self.sweep_if_grown();
        outcome.map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// How many addresses are tracked.
    pub fn tracked(&self) -> usize {
        self.limiter.len()
    }

    /// Eviction by age: drops the buckets that have refilled completely —
    /// they are indistinguishable from an address never seen, so nobody's
    /// limit is reset — once the map has grown past its threshold. An
    /// address sprayer therefore holds at most the addresses it used within
    /// one refill of the burst, and an active attacker keeps its bucket.
    fn sweep_if_grown(&self) {
        let len = self.limiter.len();
        if len <= self.sweep_above.load(Ordering::Relaxed) {
            return;
        }
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
        let left = self.limiter.len();
        self.sweep_above
            .store((2 * left).max(SWEEP_FLOOR), Ordering::Relaxed);
    }
}

/// The bucket an address is charged to: IPv4 addresses one by one, IPv6 by
/// their /64 (one host usually holds a whole /64, so per-address buckets
/// would give it 2^64 of them).
fn bucket_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|_| panic!("{s}"))
    }

    #[test]
    fn a_burst_then_blocked_then_refilled_per_address() {
        let clock = FakeRelativeClock::default();
        let l = FailureLimiter::with_clock(3, Duration::from_secs(1), clock.clone());
        for _ in 0..3 {
            assert_eq!(l.fail(ip("10.0.0.1")), Ok(()));
        }
        let wait = l.fail(ip("10.0.0.1")).expect_err("blocked after the burst");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert_eq!(l.fail(ip("10.0.0.2")), Ok(()), "per address");
        clock.advance(Duration::from_millis(1100));
        assert_eq!(l.fail(ip("10.0.0.1")), Ok(()), "refilled");
    }

    #[test]
    fn ipv6_addresses_share_their_64() {
        let l = FailureLimiter::with_clock(2, Duration::from_secs(1), FakeRelativeClock::default());
        assert_eq!(l.fail(ip("2001:db8:1:2::1")), Ok(()));
        assert_eq!(l.fail(ip("2001:db8:1:2::ffff")), Ok(()));
        assert!(l.fail(ip("2001:db8:1:2:abcd::7")).is_err(), "same /64");
        assert_eq!(l.fail(ip("2001:db8:1:3::1")), Ok(()), "another /64");
        // An IPv4-mapped IPv6 peer is the IPv4 address.
        assert_eq!(bucket_of(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }

    /// A sprayer's addresses are evicted once they refill, the map stays
    /// near the sweep threshold, and the attacker that keeps failing keeps
    /// its (empty) bucket through every sweep.
    #[test]
    fn eviction_is_by_age_and_keeps_an_active_attackers_bucket() {
        let clock = FakeRelativeClock::default();
        let l = FailureLimiter::with_clock(5, Duration::from_millis(100), clock.clone());
        let attacker = ip("198.51.100.7");
        for _ in 0..5 {
            assert_eq!(l.fail(attacker), Ok(()));
        }
        assert!(l.fail(attacker).is_err());
        let mut most = 0;
        for round in 0u32..20 {
            for i in 0..1000u32 {
                let n = round * 1000 + i;
                let sprayed = IpAddr::from([10, (n >> 16) as u8, (n >> 8) as u8, n as u8]);
                let _ = l.fail(sprayed);
            }
            most = most.max(l.tracked());
            // One failure refills per 100 ms: the attacker gets that one
            // and is refused again at once. A reset bucket (the old
            // clear-everything eviction) would let a whole burst through.
            let _ = l.fail(attacker);
            assert!(l.fail(attacker).is_err(), "round {round}: reset");
            clock.advance(Duration::from_millis(100));
        }
        assert!(
            most < 8000,
            "20 000 sprayed addresses, at most {most} tracked at once"
        );
    }
}
