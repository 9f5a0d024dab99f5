//! The Workers screen: the fleet table (cursor, selection, stale
//! heartbeats marked) and, while one is followed, the rolling restart's
//! progress worker by worker.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, HighlightSpacing, Paragraph, Row, Table, TableState};
use ratatui::Frame;
use wire::{RollingRestart, RolloutStatus, RolloutWorkerState, WorkerInfo};

use super::Theme;
use crate::cli::tui::state::format::{age, short};
use crate::cli::tui::state::{Fleet, Level, State};

pub fn render(frame: &mut Frame, area: Rect, s: &State, theme: Theme) {
    match &s.rollout {
        Some(r) => {
            let panel = (r.workers.len() as u16 + 3).min(8);
            let [table, progress] = area.layout(&Layout::vertical([
                Constraint::Min(5),
                Constraint::Length(panel),
            ]));
            render_table(frame, table, s, theme);
            render_rollout(frame, progress, r, theme);
        }
        None => render_table(frame, area, s, theme),
    }
}

fn title(f: &Fleet) -> String {
    let mut t = format!(
        " Workers {} · selected {} · sort {} {} ",
        f.workers.len(),
        f.selected.len(),
        f.sort.label(),
        if f.descending { "↓" } else { "↑" }
    );
    if f.filtering || !f.filter.is_empty() {
        t.push_str(&format!(
            "· filter /{}{} ",
            f.filter,
            if f.filtering { "▏" } else { "" }
        ));
    }
    t
}

fn render_table(frame: &mut Frame, area: Rect, s: &State, theme: Theme) {
    let f = &s.fleet;
    let block = Block::bordered()
        .title(title(f))
        .border_style(theme.border());
    let shown = f.shown();
    if shown.is_empty() {
        let text = if !f.loaded {
            "Loading the fleet…"
        } else if f.workers.is_empty() {
            "No worker has registered yet."
        } else {
            "No worker matches the filter (Esc in / clears it)."
        };
        frame.render_widget(Paragraph::new(text).style(theme.dim()).block(block), area);
        return;
    }
    let rows = shown.iter().map(|w| row(f, w, s, theme));
    let header = Row::new(["", "ID", "NAME", "OBSERVED", "DESIRED", "HEARTBEAT", "JOBS"])
        .style(theme.bold());
    let table = Table::new(
        rows,
        [
            Constraint::Length(1),
            Constraint::Fill(3),
            Constraint::Fill(2),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(10),
            Constraint::Length(11),
        ],
    )
    .header(header)
    .block(block)
    .row_highlight_style(theme.cursor())
    .highlight_symbol("›")
    .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::default().with_selected(f.cursor_index(&shown));
    frame.render_stateful_widget(table, area, &mut state);
}

fn row<'a>(f: &Fleet, w: &'a WorkerInfo, s: &State, theme: Theme) -> Row<'a> {
    let selected = f.selected.contains(&w.id);
    let heartbeat = if f.is_stale(w, s.now) {
        Cell::from(format!("{} STALE", age(Fleet::age(w, s.now)))).style(theme.level(Level::Error))
    } else {
        Cell::from(format!("{} ago", age(Fleet::age(w, s.now))))
    };
    let jobs = match w.active_jobs.as_slice() {
        [] => "0".to_string(),
        [one] => format!("1 {}", short(&one.to_string())),
        many => format!("{} {}…", many.len(), short(&many[0].to_string())),
    };
    // Desired and observed disagree while a worker is still acting on an
    // order: the desired state is shown bold until it catches up.
    let settling = w.desired_state.as_str() != w.observed_state.as_str()
        && !(w.desired_state == wire::DesiredState::Active
            && w.observed_state == wire::ObservedState::Running);
    let desired_style = if settling {
        theme.bold()
    } else {
        Default::default()
    };
    let r = Row::new(vec![
        Cell::from(if selected { "●" } else { " " }),
        Cell::from(w.id.as_str()),
        Cell::from(w.name.as_str()),
        Cell::from(w.observed_state.as_str()).style(theme.state(w.observed_state)),
        Cell::from(w.desired_state.as_str()).style(desired_style),
        heartbeat,
        Cell::from(jobs),
    ]);
    if selected {
        r.style(theme.selected())
    } else {
        r
    }
}

fn render_rollout(frame: &mut Frame, area: Rect, r: &RollingRestart, theme: Theme) {
    let n = |st: RolloutWorkerState| r.workers.iter().filter(|w| w.state == st).count();
    let in_progress = n(RolloutWorkerState::Draining) + n(RolloutWorkerState::Restarting);
    let status_style = match r.status {
        RolloutStatus::Running => theme.level(Level::Warn),
        RolloutStatus::Done => theme.level(Level::Info),
        _ => theme.level(Level::Error),
    };
    let hint = if r.status == RolloutStatus::Running {
        "c cancel"
    } else {
        "x hide"
    };
    let title = Line::from(vec![
        Span::raw(format!(" Rolling restart {} ", short(&r.id.to_string()))),
        Span::styled(r.status.as_str(), status_style),
        Span::raw(format!(
            " · max unavailable {} · {hint} ",
            r.max_unavailable
        )),
    ]);
    let mut lines = vec![Line::raw(format!(
        "done {} · in progress {} · waiting {} · failed {}",
        n(RolloutWorkerState::Done),
        in_progress,
        n(RolloutWorkerState::Pending),
        n(RolloutWorkerState::Failed)
    ))];
    for w in &r.workers {
        let style = match w.state {
            RolloutWorkerState::Done => theme.level(Level::Info),
            RolloutWorkerState::Failed => theme.level(Level::Error),
            RolloutWorkerState::Pending => theme.dim(),
            _ => theme.level(Level::Warn),
        };
        lines.push(Line::from(vec![
            Span::raw(format!("{:<24} ", w.worker_id)),
            Span::styled(format!("{:<11}", w.state.as_str()), style),
            Span::styled(w.message.clone().unwrap_or_default(), theme.dim()),
        ]));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title).border_style(theme.border())),
        area,
    );
}
