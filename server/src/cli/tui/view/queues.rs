//! The Queues screen: every queue with its state and live counts, and the
//! queue under the cursor in full (who paused it, when, why, until when).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, HighlightSpacing, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;
use wire::QueueInfo;

use super::Theme;
use crate::cli::tui::state::format::{age, clock};
use crate::cli::tui::state::{Level, State};

pub fn render(frame: &mut Frame, area: Rect, s: &State, theme: Theme) {
    let q = &s.queues;
    let [table_area, detail] = area.layout(&Layout::vertical([
        Constraint::Min(5),
        Constraint::Length(3),
    ]));
    let paused = q.queues.iter().filter(|q| q.paused).count();
    let title = format!(" Queues {} · paused {} ", q.queues.len(), paused);
    let block = Block::bordered().title(title).border_style(theme.border());
    if q.queues.is_empty() {
        let text = if q.loaded {
            "No queue yet: a queue appears with its first job or its first pause."
        } else {
            "Loading the queues…"
        };
        frame.render_widget(Paragraph::new(text).block(block), table_area);
        return;
    }
    let rows = q.queues.iter().map(|queue| {
        let state = Cell::from(state_label(queue));
        let state = if queue.paused {
            state.style(theme.level(Level::Warn))
        } else {
            state
        };
        let stale = Cell::from(queue.stale_running.to_string());
        let stale = if queue.stale_running > 0 {
            stale.style(theme.level(Level::Error))
        } else {
            stale
        };
        Row::new(vec![
            Cell::from(queue.name.clone()),
            state,
            Cell::from(queue.queued.to_string()),
            Cell::from(queue.scheduled.to_string()),
            Cell::from(queue.running.to_string()),
            stale,
            Cell::from(queue.reason.clone().unwrap_or_default()),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(16),
            Constraint::Length(16),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Fill(1),
        ],
    )
    .header(
        Row::new([
            "QUEUE", "STATE", "QUEUED", "SCHED", "RUNNING", "STALE", "REASON",
        ])
        .style(theme.bold()),
    )
    .block(block)
    .row_highlight_style(theme.cursor())
    .highlight_symbol("›")
    .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::default().with_selected(Some(q.cursor));
    frame.render_stateful_widget(table, table_area, &mut state);
    if let Some(queue) = q.current() {
        frame.render_widget(
            Paragraph::new(details(queue, s))
                .wrap(Wrap { trim: true })
                .style(theme.dim()),
            detail,
        );
    }
}

/// "running", "paused (drain)", "paused (quiesce)".
fn state_label(q: &QueueInfo) -> String {
    match (q.paused, q.mode) {
        (false, _) => "running".into(),
        (true, Some(m)) => format!("paused ({})", m.as_str()),
        (true, None) => "paused".into(),
    }
}

/// The queue under the cursor: its latest pause or resume, and whether it
/// has drained.
fn details(q: &QueueInfo, s: &State) -> Vec<Line<'static>> {
    let mut first = format!("{} · {} · version {}", q.name, state_label(q), q.version);
    if let Some(actor) = &q.actor {
        first.push_str(&format!(" · by {actor}"));
    }
    if let Some(since) = q.since {
        first.push_str(&format!(
            " · since {} ({} ago)",
            clock(since),
            age((s.now - since).num_seconds())
        ));
    }
    let mut second = match &q.reason {
        Some(r) => format!("reason: {r}"),
        None => "never paused".into(),
    };
    if let Some(until) = q.until {
        second.push_str(&format!(" · resumes by itself at {}", clock(until)));
    }
    if q.paused {
        second.push_str(if q.is_drained {
            " · drained"
        } else {
            " · NOT drained"
        });
    }
    vec![Line::raw(first), Line::raw(second)]
}
