//! Colours, or none: with `NO_COLOR` set (and not empty) every style is
//! colourless and only bold/reversed/dim mark what colour would have —
//! the cursor row is reversed either way.

use ratatui::style::{Color, Modifier, Style};
use wire::ObservedState;

use crate::cli::tui::state::Level;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    /// Colour unless `NO_COLOR` is set to something (<https://no-color.org>).
    pub fn from_env() -> Theme {
        Theme {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub fn bold(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn dim(self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    /// The banner while the fleet runs.
    pub fn running(self) -> Style {
        self.fg(Color::Green).add_modifier(Modifier::BOLD)
    }

    /// The banner while the fleet is paused: it must be impossible to miss.
    pub fn paused(self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        }
    }

    pub fn level(self, l: Level) -> Style {
        match l {
            Level::Info => self.fg(Color::Green),
            Level::Warn => self.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            Level::Error => self.fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }

    pub fn cursor(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn selected(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// A key in the hints.
    pub fn key(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn border(self) -> Style {
        self.fg(Color::Blue)
    }

    pub fn state(self, s: ObservedState) -> Style {
        match s {
            ObservedState::Running => self.fg(Color::Green),
            ObservedState::Paused => self.fg(Color::Yellow),
            ObservedState::Draining => self.fg(Color::Magenta),
            ObservedState::Stopped => self.dim(),
            ObservedState::Offline => self.fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }
}
