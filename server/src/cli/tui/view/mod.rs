//! Rendering: a pure function of the [`State`] (and the [`Theme`]) onto a
//! ratatui frame, so it draws the same into a terminal and into the
//! tests' `TestBackend`. Every screen has the header (the global banner
//! and the live-connection state), the tabs, and a footer with the last
//! action's note and the keys; dialogs and help are popups over it.
//!
//! Submodules: [`workers`] (the table and the rolling-restart panel),
//! [`queues`], [`audit`], [`dialog`] (dialogs and help), [`theme`].

mod audit;
mod dialog;
mod queues;
pub mod theme;
mod workers;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::state::format::{clock, eta};
use super::state::{Screen, State, StreamLink};
pub use theme::Theme;

/// Draws the whole screen.
pub fn render(frame: &mut Frame, s: &State, theme: Theme) {
    let [banner, tabs, body, footer] = frame.area().layout(&Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(2),
    ]));
    render_banner(frame, banner, s, theme);
    render_tabs(frame, tabs, s, theme);
    match s.screen {
        Screen::Workers => workers::render(frame, body, s, theme),
        Screen::Audit => audit::render(frame, body, s, theme),
        Screen::Queues => queues::render(frame, body, s, theme),
    }
    render_footer(frame, footer, s, theme);
    if let Some(d) = &s.dialog {
        dialog::render(frame, s, d, theme);
    }
    if s.help {
        dialog::render_help(frame, theme);
    }
}

/// The global banner (as the dashboard's): state, version, actor, since,
/// reason and drain metrics; and the connection on the right.
fn render_banner(frame: &mut Frame, area: Rect, s: &State, theme: Theme) {
    let link = s.link.label();
    let link_style = match (&s.link.stream, &s.link.refresh_error) {
        (_, Some(_)) => theme.level(super::state::Level::Error),
        (StreamLink::Up, None) => theme.level(super::state::Level::Info),
        _ => theme.level(super::state::Level::Warn),
    };
    // The connection takes the first row's right end; the second row
    // (reason, metrics) gets the full width.
    let [first_row, second_row] = area.layout(&Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
    ]));
    let [left, right] = first_row.layout(&Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(link.chars().count().min(40) as u16 + 1),
    ]));
    frame.render_widget(
        Paragraph::new(Span::styled(link, link_style)).right_aligned(),
        right,
    );
    let Some(p) = &s.pause else {
        frame.render_widget(
            Line::from(vec![
                Span::styled(" Lull ", theme.bold()),
                Span::raw(format!("· {} · loading…", s.server)),
            ]),
            left,
        );
        return;
    };
    let (state, style) = if p.workers_paused {
        let mode = match p.mode {
            Some(wire::PauseMode::Quiesce) => "Quiesce",
            _ => "Drain",
        };
        (format!(" Workers: Paused ({mode}) "), theme.paused())
    } else {
        (" Workers: Running ".to_string(), theme.running())
    };
    let mut first = vec![
        Span::styled(" Lull ", theme.bold()),
        Span::styled(state, style),
        Span::raw(format!(" v{}", p.version)),
    ];
    if let Some(by) = &p.requested_by {
        first.push(Span::raw(format!(" · by {by}")));
    }
    if let Some(at) = p.requested_at {
        first.push(Span::raw(format!(" · since {}", clock(at))));
    }
    let m = p.metrics;
    let mut second = Vec::new();
    if p.workers_paused {
        second.push(Span::raw(format!(
            " reason: {} ·",
            p.reason.as_deref().unwrap_or("-")
        )));
    }
    second.push(Span::raw(format!(
        " queued {} · running {} · stale {} · ",
        m.queued, m.running, m.stale_running
    )));
    if m.is_drained {
        second.push(Span::styled(
            "drained",
            theme.level(super::state::Level::Info),
        ));
    } else {
        second.push(Span::styled(
            "not drained",
            theme.level(super::state::Level::Warn),
        ));
        if let Some(e) = s.drain.as_ref().and_then(|d| d.eta_seconds) {
            second.push(Span::raw(format!(" · ETA {}", eta(e))));
        }
    }
    if let Some(until) = p.until {
        second.push(Span::raw(format!(" · resumes at {}", clock(until))));
    }
    if !p.workers_paused && resumed_before_drain(p) {
        second.push(Span::styled(
            " · ⚠ resumed before full drain",
            theme.level(super::state::Level::Warn),
        ));
    }
    // How many online workers have applied this version (the operator's
    // "has every worker stopped taking work?"), last on the line and only
    // when it fits: the state and the drain come first. The pending workers
    // are named on the Workers screen and by `lull wait --applied`.
    if let Some(a) = p.acknowledgement.as_ref().filter(|a| a.total > 0) {
        let text = format!(" · applied {}/{}", a.applied, a.total);
        let used: usize = second.iter().map(|s| s.content.chars().count()).sum();
        if used + text.chars().count() <= usize::from(area.width) {
            let level = if a.complete {
                super::state::Level::Info
            } else {
                super::state::Level::Warn
            };
            second.push(Span::styled(text, theme.level(level)));
        }
    }
    frame.render_widget(Line::from(first), left);
    frame.render_widget(Line::from(second), second_row);
}

/// The latest global pause event is a resume that was forced.
pub(crate) fn resumed_before_drain(p: &wire::WorkerPauseStatus) -> bool {
    p.audit
        .latest
        .iter()
        .find(|e| e.action == "pause" || e.action == "resume")
        .is_some_and(|e| e.action == "resume" && e.force_resume)
}

fn render_tabs(frame: &mut Frame, area: Rect, s: &State, theme: Theme) {
    let mut spans = Vec::new();
    for screen in Screen::ALL {
        let style = if screen == s.screen {
            theme.cursor().patch(theme.bold())
        } else {
            theme.dim()
        };
        spans.push(Span::styled(format!(" {} ", screen.title()), style));
        spans.push(Span::raw(" "));
    }
    spans.push(Span::styled(format!(" {}", s.server), theme.dim()));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn render_footer(frame: &mut Frame, area: Rect, s: &State, theme: Theme) {
    let [note, keys] = area.layout(&Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
    ]));
    let line = match (&s.flash, &s.link.refresh_error, s.link.refreshed_at) {
        (Some(f), _, _) => Line::styled(format!(" {}", f.text), theme.level(f.level)),
        (None, Some(_), Some(at)) => Line::styled(
            format!(" showing data as of {}", clock(at)),
            theme.level(super::state::Level::Warn),
        ),
        _ => Line::raw(""),
    };
    frame.render_widget(Paragraph::new(line), note);
    let hints: &[(&str, &str)] = match s.screen {
        Screen::Workers if s.fleet.filtering => {
            &[("Enter", "keep filter"), ("Esc", "clear"), ("↑↓", "move")]
        }
        Screen::Workers => &[
            ("spc", "select"),
            ("a", "all"),
            ("p", "pause"),
            ("r", "resume"),
            ("d", "drain"),
            ("R", "restart"),
            ("P/U", "fleet"),
            ("?", "help"),
            ("q", "quit"),
        ],
        Screen::Audit => &[
            ("↑↓", "move"),
            ("n", "older"),
            ("b", "newer"),
            ("g", "newest"),
            ("P/U", "fleet"),
            ("tab", "screen"),
            ("?", "help"),
            ("q", "quit"),
        ],
        Screen::Queues => &[
            ("↑↓", "move"),
            ("p", "pause queue"),
            ("r", "resume queue"),
            ("P/U", "fleet"),
            ("tab", "screen"),
            ("?", "help"),
            ("q", "quit"),
        ],
    };
    let mut spans = vec![Span::raw(" ")];
    for (k, what) in hints {
        spans.push(Span::styled(*k, theme.key()));
        spans.push(Span::raw(format!(" {what} ")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), keys);
}
