//! The popups: a confirmation dialog (its impact, its inputs, why the
//! last `Enter` did not go through) and the key help.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;
use wire::PauseMode;

use super::Theme;
use crate::cli::tui::state::dialog::{Dialog, Field, Step};
use crate::cli::tui::state::impact::notes;
use crate::cli::tui::state::{Level, State};

pub fn render(frame: &mut Frame, s: &State, d: &Dialog, theme: Theme) {
    let mut lines: Vec<Line> = notes(s, d)
        .into_iter()
        .map(|n| match n.level {
            // Plain information is not coloured (green is for success).
            Level::Info => Line::raw(n.text),
            l => Line::styled(n.text, theme.level(l)),
        })
        .collect();
    lines.push(Line::raw(""));
    for field in d.fields() {
        lines.push(field_line(d, field, theme));
    }
    if let Some(e) = &d.error {
        lines.push(Line::styled(e.clone(), theme.level(Level::Error)));
    }
    let hint = match (&d.step, d.sending) {
        (_, Some(_)) => "Sending…  (Esc closes; the answer shows below)",
        (Step::ForceResume, None) => "Enter force resume · Esc keep the fleet paused",
        (_, None) if d.fields().len() > 1 => "Enter confirm · Esc cancel · Tab next field",
        (_, None) => "Enter confirm · Esc cancel",
    };
    lines.push(Line::styled(hint, theme.dim()));
    let area = popup(frame.area(), &lines);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::bordered()
                .title(format!(" {} ", d.title()))
                .title_style(theme.bold())
                .border_style(theme.level(Level::Warn)),
        ),
        area,
    );
}

fn field_line(d: &Dialog, field: Field, theme: Theme) -> Line<'static> {
    let focused = d.focus == field;
    let caret = if focused { "▏" } else { "" };
    let marker = Span::styled(if focused { "› " } else { "  " }, theme.key());
    let (label, value) = match field {
        Field::Reason => ("Reason: ", format!("{}{caret}", d.reason)),
        Field::Phrase => ("Phrase: ", format!("{}{caret}", d.typed)),
        Field::MaxUnavailable => ("Max unavailable: ", format!("{}{caret}", d.max_unavailable)),
        Field::Mode => {
            let dot = |m: PauseMode| if d.mode == m { "(•)" } else { "( )" };
            (
                "Mode: ",
                format!(
                    "{} drain  {} quiesce{}",
                    dot(PauseMode::Drain),
                    dot(PauseMode::Quiesce),
                    if focused { "   ←/→ switch" } else { "" }
                ),
            )
        }
    };
    Line::from(vec![
        marker,
        Span::styled(label, theme.bold()),
        Span::raw(value),
    ])
}

/// A centred box wide enough for the text (at most the screen).
fn popup(screen: Rect, lines: &[Line]) -> Rect {
    let width = screen.width.saturating_sub(4).clamp(20, 76);
    let inner = width.saturating_sub(2).max(1) as usize;
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let height = (rows as u16 + 2).min(screen.height);
    screen.centered(Constraint::Length(width), Constraint::Length(height))
}

/// The key map.
pub fn render_help(frame: &mut Frame, theme: Theme) {
    let keys: &[(&str, &str)] = &[
        ("↑/↓ j/k", "move (PgUp/PgDn, g/G: page, top, bottom)"),
        ("space", "select or unselect the worker"),
        ("a", "select all shown (again: unselect them)"),
        ("p r d", "pause, resume, drain the selected (or current)"),
        ("R", "rolling restart of the selected (or all)"),
        ("c / x", "cancel the rolling restart / hide its panel"),
        ("P / U", "pause / resume the whole fleet"),
        ("/", "filter (id, name, host, state); Esc clears"),
        ("s / S", "sort by the next column / reverse"),
        ("Esc", "clear the selection; in a dialog: cancel"),
        ("n / b / g", "Audit: older, newer, newest page"),
        ("p / r", "Queues: pause / resume the queue under the cursor"),
        ("tab", "next screen"),
        ("q", "quit"),
    ];
    let lines: Vec<Line> = keys
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!("{k:<10}"), theme.key()),
                Span::raw(*what),
            ])
        })
        .collect();
    let area = popup(frame.area(), &lines);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::bordered()
                .title(" Keys (any key closes) ")
                .border_style(theme.border()),
        ),
        area,
    );
}
