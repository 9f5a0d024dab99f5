//! The Audit screen: the control log, newest first, a page at a time, and
//! the event under the cursor in full.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, HighlightSpacing, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;
use wire::ControlEvent;

use super::Theme;
use crate::cli::tui::state::format::clock;
use crate::cli::tui::state::{Level, State};

pub fn render(frame: &mut Frame, area: Rect, s: &State, theme: Theme) {
    let a = &s.audit;
    let [table_area, detail] = area.layout(&Layout::vertical([
        Constraint::Min(5),
        Constraint::Length(4),
    ]));
    let title = format!(
        " Audit log · newest first · page {}{} ",
        a.page_number(),
        if a.next_before.is_some() {
            " · n older"
        } else {
            " (last)"
        }
    );
    let block = Block::bordered().title(title).border_style(theme.border());
    if a.events.is_empty() {
        let text = match (&a.error, a.loaded) {
            (Some(e), _) => format!("Cannot read the audit log: {e}"),
            (None, false) => "Loading the audit log…".into(),
            (None, true) => "Nothing has been recorded yet.".into(),
        };
        frame.render_widget(Paragraph::new(text).block(block), table_area);
        return;
    }
    let rows = a.events.iter().map(|e| {
        let ok = if e.success {
            Cell::from("ok")
        } else {
            Cell::from("FAIL").style(theme.level(Level::Error))
        };
        Row::new(vec![
            Cell::from(clock(e.created_at)),
            Cell::from(e.action.clone()),
            Cell::from(e.actor.clone()),
            Cell::from(e.version.to_string()),
            ok,
            Cell::from(summary(e)),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(21),
            Constraint::Length(8),
            Constraint::Length(4),
            Constraint::Length(4),
            Constraint::Fill(1),
        ],
    )
    .header(Row::new(["TIME", "ACTION", "ACTOR", "VER", "OK", "WHAT"]).style(theme.bold()))
    .block(block)
    .row_highlight_style(theme.cursor())
    .highlight_symbol("›")
    .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::default().with_selected(Some(a.cursor));
    frame.render_stateful_widget(table, table_area, &mut state);
    if let Some(e) = a.current() {
        frame.render_widget(
            Paragraph::new(details(e))
                .wrap(Wrap { trim: true })
                .style(theme.dim()),
            detail,
        );
    }
    if let Some(err) = &a.error {
        frame.render_widget(
            Paragraph::new(Line::styled(format!(" {err}"), theme.level(Level::Error))),
            Rect {
                height: 1,
                ..detail
            },
        );
    }
}

/// The row's last column: mode or targets, and the reason.
fn summary(e: &ControlEvent) -> String {
    let mut out = String::new();
    if let Some(m) = e.mode {
        out.push_str(m.as_str());
        out.push_str(": ");
    }
    if !e.targets.is_empty() {
        out.push_str(&format!("[{}] ", e.targets.join(",")));
    }
    if e.force_resume {
        out.push_str("FORCE ");
    }
    out.push_str(&e.reason);
    out
}

fn details(e: &ControlEvent) -> Vec<Line<'static>> {
    let m = e.metrics;
    let mut lines = vec![Line::raw(format!(
        "#{} {} by {} at {} — reason: {}",
        e.id,
        e.action,
        e.actor,
        e.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        e.reason
    ))];
    let mut second = format!(
        "then: queued {} · running {} · stale {}",
        m.queued, m.running, m.stale_running
    );
    if e.force_resume {
        second.push_str(" · resumed before drained (force)");
    }
    if !e.targets.is_empty() {
        second.push_str(&format!(" · workers: {}", e.targets.join(", ")));
    }
    lines.push(Line::raw(second));
    lines
}
