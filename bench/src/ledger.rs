//! What the clients were told, kept to check the database against later:
//! acknowledged enqueues and completions, every claim with the instant it
//! was sent, and the windows in which a pause had been acknowledged.
//!
//! The guarantee under test (SPEC §2) is about acknowledgements and send
//! times: a claim *sent* after a pause response *arrived*, and before the
//! next resume was *sent*, must not receive a job. Instants are taken on
//! the client's monotonic clock, sent-time before the request goes out and
//! ack-time after the answer is read, so any slack favours the server.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Instant;

use uuid::Uuid;

/// One claim request: when it was sent, and the job it got (if any).
#[derive(Debug, Clone, Copy)]
pub struct Claim {
    pub sent: Instant,
    pub job: Option<Uuid>,
    /// Which server (index) answered.
    pub server: usize,
}

#[derive(Default)]
struct Inner {
    enqueued: HashSet<Uuid>,
    completed: HashSet<Uuid>,
    claims: Vec<Claim>,
    /// (pause acknowledged, resume sent) — open while still paused.
    paused: Vec<(Instant, Option<Instant>)>,
    /// Versions returned by acknowledged pause/resume requests.
    acked_versions: Vec<(String, i64)>,
}

/// Shared by every load task of a scenario.
#[derive(Default)]
pub struct Ledger {
    inner: Mutex<Inner>,
}

/// A claim that broke the guarantee.
#[derive(Debug, Clone, Copy)]
pub struct Violation {
    pub claim: Claim,
    /// How long after the pause acknowledgement it was sent.
    pub after_ack_ms: f64,
}

impl Ledger {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }

    pub fn enqueued(&self, id: Uuid) {
        self.with(|i| i.enqueued.insert(id));
    }

    pub fn completed(&self, id: Uuid) {
        self.with(|i| i.completed.insert(id));
    }

    pub fn claim(&self, c: Claim) {
        self.with(|i| i.claims.push(c));
    }

    /// A pause was acknowledged (call right after reading the answer).
    pub fn pause_acked(&self, at: Instant, version: i64) {
        self.with(|i| {
            if i.paused.last().is_none_or(|(_, end)| end.is_some()) {
                i.paused.push((at, None));
            }
            i.acked_versions.push(("pause".into(), version));
        });
    }

    /// A resume is about to be sent (call right before sending it): claims
    /// sent from now on may get jobs again.
    pub fn resume_sending(&self, at: Instant) {
        self.with(|i| {
            if let Some((_, end @ None)) = i.paused.last_mut() {
                *end = Some(at);
            }
        });
    }

    pub fn resume_acked(&self, version: i64) {
        self.with(|i| i.acked_versions.push(("resume".into(), version)));
    }

    pub fn enqueued_ids(&self) -> Vec<Uuid> {
        self.with(|i| i.enqueued.iter().copied().collect())
    }

    pub fn completed_ids(&self) -> Vec<Uuid> {
        self.with(|i| i.completed.iter().copied().collect())
    }

    pub fn acked_versions(&self) -> Vec<(String, i64)> {
        self.with(|i| i.acked_versions.clone())
    }

    /// Claims sent inside an acknowledged pause window.
    pub fn claims_while_paused(&self) -> usize {
        self.with(|i| {
            i.claims
                .iter()
                .filter(|c| in_window(&i.paused, c.sent).is_some())
                .count()
        })
    }

    /// Claims that returned a job outside pause windows (the load was real).
    pub fn jobs_granted(&self) -> usize {
        self.with(|i| i.claims.iter().filter(|c| c.job.is_some()).count())
    }

    pub fn claims(&self) -> usize {
        self.with(|i| i.claims.len())
    }

    /// Claims sent inside an acknowledged pause window that got a job.
    pub fn violations(&self) -> Vec<Violation> {
        self.with(|i| {
            i.claims
                .iter()
                .filter(|c| c.job.is_some())
                .filter_map(|c| {
                    in_window(&i.paused, c.sent).map(|ack| Violation {
                        claim: *c,
                        after_ack_ms: (c.sent - ack).as_secs_f64() * 1000.0,
                    })
                })
                .collect()
        })
    }
}

/// The pause acknowledgement whose window holds `t`, if any.
fn in_window(windows: &[(Instant, Option<Instant>)], t: Instant) -> Option<Instant> {
    windows
        .iter()
        .find(|(ack, end)| t > *ack && end.is_none_or(|e| t < e))
        .map(|(ack, _)| *ack)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn only_claims_sent_inside_an_acknowledged_pause_count() {
        let l = Ledger::default();
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        l.pause_acked(at(10), 2);
        l.resume_sending(at(20));
        l.pause_acked(at(30), 4);
        let job = Some(Uuid::nil());
        for (sent, job) in [(5, job), (15, None), (16, job), (25, job), (40, job)] {
            l.claim(Claim {
                sent: at(sent),
                job,
                server: 0,
            });
        }
        let v = l.violations();
        assert_eq!(v.len(), 2, "sent at 16 ms and 40 ms");
        assert_eq!(l.claims_while_paused(), 3);
    }
}
