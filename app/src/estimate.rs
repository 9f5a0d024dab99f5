//! How far the drain has come and when it should end: ONE pure function,
//! [`drain_estimate`], that everything on the page asks. The server
//! computes both (its `domain::drain`, once, for every client) and sends
//! them in the drain view; the page only reads them.

use wire::{DrainMetrics, DrainProgress, DrainView, WorkerPauseStatus};

use crate::format;

/// The drain's progress and ETA.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DrainEstimate {
    pub progress: DrainProgress,
    /// Seconds until drained at the recent completion rate; `None` when
    /// drained or when nothing has completed recently.
    pub eta_seconds: Option<f64>,
    /// Jobs finished per minute over the last five minutes.
    pub completions_per_minute: f64,
}

/// The estimate for a paused fleet: `None` while it runs (nothing drains)
/// and until the drain view of the pause has arrived.
pub fn drain_estimate(
    status: &WorkerPauseStatus,
    view: Option<&DrainView>,
) -> Option<DrainEstimate> {
    if !status.workers_paused {
        return None;
    }
    let view = view?;
    Some(DrainEstimate {
        progress: view.progress?,
        eta_seconds: view.eta_seconds,
        completions_per_minute: view.completions_per_minute,
    })
}

/// The text under the progress bar: the ETA, or why there is none.
pub fn eta_text(metrics: &DrainMetrics, estimate: &DrainEstimate) -> String {
    if metrics.is_drained {
        return "The fleet has drained: nothing is running.".to_string();
    }
    match estimate.eta_seconds {
        Some(eta) => format!(
            "Drained in {} at {} jobs/min (last 5 min).",
            format::eta(eta),
            format::tenths(estimate.completions_per_minute)
        ),
        None => "No estimate yet: no job finished in the last 5 minutes.".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::status;
    use wire::PauseMode;

    fn view(progress: Option<DrainProgress>, eta: Option<f64>) -> DrainView {
        DrainView {
            metrics: DrainMetrics::default(),
            blocking: vec![],
            history: vec![],
            completions_per_minute: 1.0,
            eta_seconds: eta,
            progress,
        }
    }

    const ONE_OF_THREE: DrainProgress = DrainProgress {
        left: 2,
        total: 3,
        percent: 33,
    };

    #[test]
    fn a_paused_fleet_shows_the_servers_progress_and_eta() {
        let paused = status(true, Some(PauseMode::Drain));
        let m = DrainMetrics::new(4, 2, 0);
        let v = view(Some(ONE_OF_THREE), Some(120.0));
        let e = drain_estimate(&paused, Some(&v)).expect("paused");
        assert_eq!(e.progress, ONE_OF_THREE);
        assert_eq!(
            eta_text(&m, &e),
            "Drained in about 2 min at 1.0 jobs/min (last 5 min)."
        );
        let e = drain_estimate(&paused, Some(&view(Some(ONE_OF_THREE), None))).expect("paused");
        assert_eq!(
            eta_text(&m, &e),
            "No estimate yet: no job finished in the last 5 minutes."
        );
        assert_eq!(
            eta_text(&DrainMetrics::new(0, 0, 0), &e),
            "The fleet has drained: nothing is running."
        );
    }

    #[test]
    fn nothing_to_estimate_while_running_or_before_the_view_of_the_pause() {
        let v = view(Some(ONE_OF_THREE), Some(120.0));
        assert_eq!(drain_estimate(&status(false, None), Some(&v)), None);
        let paused = status(true, Some(PauseMode::Drain));
        assert_eq!(drain_estimate(&paused, None), None);
        assert_eq!(drain_estimate(&paused, Some(&view(None, None))), None);
    }
}
