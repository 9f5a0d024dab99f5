//! The real terminal: raw mode and the alternate screen for as long as a
//! [`TerminalGuard`] lives, restored when it drops (a normal quit, an
//! error, a signal) and by ratatui's panic hook (a panic); and the
//! terminal's key events as the state machine's [`Key`]s.

use crossterm::event::{Event, KeyCode, KeyModifiers};
use ratatui::DefaultTerminal;

use super::state::Key;

/// The terminal in raw mode on the alternate screen, until dropped.
pub struct TerminalGuard {
    pub terminal: DefaultTerminal,
}

impl TerminalGuard {
    /// Enters raw mode and the alternate screen, and installs the panic
    /// hook that leaves them before a panic is reported.
    pub fn enter() -> std::io::Result<TerminalGuard> {
        match ratatui::try_init() {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
            Err(e) => {
                // It may have got as far as raw mode before failing.
                ratatui::restore();
                Err(e)
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// A key press as a [`Key`]; `None` for anything else (releases, mouse,
/// resize — the loop redraws after every event anyway).
pub fn key(event: &Event) -> Option<Key> {
    let k = event.as_key_press_event()?;
    if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
        return Some(Key::Interrupt);
    }
    Some(match k.code {
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Tab => Key::Tab,
        KeyCode::BackTab => Key::BackTab,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Left => Key::Left,
        KeyCode::Right => Key::Right,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyEvent, KeyEventKind, KeyEventState};

    fn press(code: KeyCode, modifiers: KeyModifiers) -> Event {
        Event::Key(KeyEvent {
            code,
            modifiers,
            kind: KeyEventKind::Press,
            state: KeyEventState::NONE,
        })
    }

    #[test]
    fn key_presses_map_and_ctrl_c_interrupts() {
        assert_eq!(
            key(&press(KeyCode::Char('d'), KeyModifiers::NONE)),
            Some(Key::Char('d'))
        );
        assert_eq!(
            key(&press(KeyCode::Char('P'), KeyModifiers::SHIFT)),
            Some(Key::Char('P'))
        );
        assert_eq!(
            key(&press(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Key::Interrupt)
        );
        assert_eq!(key(&press(KeyCode::F(1), KeyModifiers::NONE)), None);
        let mut release = press(KeyCode::Char('q'), KeyModifiers::NONE);
        if let Event::Key(k) = &mut release {
            k.kind = KeyEventKind::Release;
        }
        assert_eq!(key(&release), None, "only presses");
        assert_eq!(key(&Event::Resize(80, 24)), None);
    }
}
