//! The process's life as a service manager sees it: starting → ready
//! (migrations ran, the pause cache is loaded, the listener is bound) →
//! stopping (SIGTERM or Ctrl-C). Each step is told to systemd through
//! `sd_notify` (`READY=1`, `STOPPING=1`; a no-op when `NOTIFY_SOCKET` is
//! unset, i.e. outside a `Type=notify` unit), and kept in a [`Readiness`]
//! that the HTTP layer can read (a readiness probe) and that long-lived
//! responses wait on so a graceful stop is not held up by an open
//! dashboard's event stream.

use std::net::SocketAddr;

use sd_notify::NotifyState;
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Starting,
    Ready,
    Stopping,
}

/// A cloneable handle on the process's [`Phase`].
#[derive(Debug, Clone)]
pub struct Readiness {
    phase: watch::Sender<Phase>,
}

impl Default for Readiness {
    fn default() -> Self {
        Readiness {
            phase: watch::Sender::new(Phase::Starting),
        }
    }
}

impl Readiness {
    pub fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    /// Serving: ready, and not stopping.
    pub fn is_ready(&self) -> bool {
        self.phase() == Phase::Ready
    }

    /// Called once the listener is bound (after migrations and the cache
    /// load): `READY=1` to systemd.
    pub fn set_ready(&self, addr: SocketAddr) {
        self.phase.send_replace(Phase::Ready);
        let status = format!("listening on http://{addr}");
        notify(&[NotifyState::Ready, NotifyState::Status(&status)]);
    }

    /// Called when the stop begins: `STOPPING=1` to systemd; streams end.
    pub fn set_stopping(&self) {
        if self.phase.send_replace(Phase::Stopping) != Phase::Stopping {
            notify(&[
                NotifyState::Stopping,
                NotifyState::Status("stopping: finishing open requests"),
            ]);
        }
    }

    /// Resolves when the stop has begun.
    pub async fn stopping(&self) {
        let mut rx = self.phase.subscribe();
        // The sender lives in `self`, so this cannot fail while we wait.
        let _ = rx.wait_for(|p| *p == Phase::Stopping).await;
    }
}

fn notify(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "sd_notify failed (NOTIFY_SOCKET is set but unusable)");
    }
}

/// Resolves on SIGTERM (systemd's stop) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn phases_in_order_and_stopping_wakes_waiters() {
        let r = Readiness::default();
        assert_eq!(r.phase(), Phase::Starting);
        assert!(!r.is_ready());
        r.set_ready("127.0.0.1:1".parse().unwrap());
        assert!(r.is_ready());
        let waiter = tokio::spawn({
            let r = r.clone();
            async move { r.stopping().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        r.set_stopping();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("the waiter wakes")
            .unwrap();
        assert!(!r.is_ready());
        // Already stopping: resolves at once.
        r.stopping().await;
    }
}
