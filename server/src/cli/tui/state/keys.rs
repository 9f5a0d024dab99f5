//! What each key does, by what is on screen: help, an open dialog, the
//! filter being typed, then the global keys (`q`, `?`, `tab`, `P`, `U`)
//! and the screen's own.

use wire::{RolloutStatus, WorkerActionKind};

use super::dialog::DialogKind;
use super::{Effect, Key, Level, Screen, State};

/// Rows a page key moves.
const PAGE_ROWS: isize = 10;

impl State {
    pub(super) fn on_key(&mut self, key: Key) -> Vec<Effect> {
        if key == Key::Interrupt {
            self.quit = true;
            return Vec::new();
        }
        if self.help {
            self.help = false;
            return Vec::new();
        }
        if self.dialog.is_some() {
            return self.dialog_key(key);
        }
        if self.fleet.filtering && self.screen == Screen::Workers {
            self.filter_key(key);
            return Vec::new();
        }
        match key {
            Key::Char('q') => self.quit = true,
            Key::Char('?') => self.help = true,
            Key::Tab => return self.switch(1),
            Key::BackTab => return self.switch(-1),
            Key::Char('P') => self.open(DialogKind::Pause),
            Key::Char('U') => self.open_resume(),
            _ => {
                return match self.screen {
                    Screen::Workers => self.workers_key(key),
                    Screen::Audit => self.audit_key(key),
                    Screen::Queues => {
                        self.queues_key(key);
                        Vec::new()
                    }
                }
            }
        }
        Vec::new()
    }

    /// `tab` / `shift-tab`: the next screen; the Audit screen reloads its
    /// page on entry.
    fn switch(&mut self, by: isize) -> Vec<Effect> {
        let all = Screen::ALL;
        let i = all.iter().position(|s| *s == self.screen).unwrap_or(0) as isize;
        self.screen = all[(i + by).rem_euclid(all.len() as isize) as usize];
        if self.screen == Screen::Audit {
            return vec![Effect::LoadEvents {
                before: self.audit.before,
            }];
        }
        Vec::new()
    }

    fn open_resume(&mut self) {
        if self.pause.as_ref().is_some_and(|p| !p.workers_paused) {
            self.flash(Level::Info, "the fleet is running: nothing to resume");
        } else {
            self.open(DialogKind::Resume);
        }
    }

    fn filter_key(&mut self, key: Key) {
        let f = &mut self.fleet;
        match key {
            Key::Enter => f.filtering = false,
            Key::Esc => {
                f.filtering = false;
                f.filter.clear();
            }
            Key::Backspace => drop(f.filter.pop()),
            Key::Char(c) => f.filter.push(c),
            Key::Up => f.move_cursor(-1),
            Key::Down => f.move_cursor(1),
            _ => {}
        }
    }

    fn workers_key(&mut self, key: Key) -> Vec<Effect> {
        let f = &mut self.fleet;
        match key {
            Key::Up | Key::Char('k') => f.move_cursor(-1),
            Key::Down | Key::Char('j') => f.move_cursor(1),
            Key::PageUp => f.move_cursor(-PAGE_ROWS),
            Key::PageDown => f.move_cursor(PAGE_ROWS),
            Key::Home | Key::Char('g') => f.move_cursor(isize::MIN / 2),
            Key::End | Key::Char('G') => f.move_cursor(isize::MAX / 2),
            Key::Char(' ') => f.toggle_current(),
            Key::Char('a') => f.toggle_all_shown(),
            Key::Esc => f.selected.clear(),
            Key::Char('/') => f.filtering = true,
            Key::Char('s') => f.cycle_sort(),
            Key::Char('S') => f.reverse_sort(),
            Key::Char('p') => self.open_workers(WorkerActionKind::Pause),
            Key::Char('r') => self.open_workers(WorkerActionKind::Resume),
            Key::Char('d') => self.open_workers(WorkerActionKind::Drain),
            Key::Char('R') => self.open_rollout(),
            Key::Char('c') => self.open_cancel_rollout(),
            Key::Char('x')
                if self
                    .rollout
                    .as_ref()
                    .is_some_and(|r| r.status != RolloutStatus::Running) =>
            {
                self.rollout = None;
            }
            _ => {}
        }
        Vec::new()
    }

    fn open_workers(&mut self, action: WorkerActionKind) {
        let ids = self.fleet.targets();
        if ids.is_empty() {
            self.flash(Level::Warn, "no worker to act on");
        } else {
            self.open(DialogKind::Workers { action, ids });
        }
    }

    fn open_rollout(&mut self) {
        if self.running_rollout().is_some() {
            self.flash(Level::Warn, "a rolling restart is running: c cancels it");
        } else if self.fleet.workers.is_empty() {
            self.flash(Level::Warn, "no worker to restart");
        } else {
            let ids = (!self.fleet.selected.is_empty())
                .then(|| self.fleet.selected.iter().cloned().collect());
            self.open(DialogKind::Rollout { ids });
        }
    }

    fn open_cancel_rollout(&mut self) {
        match self.running_rollout() {
            Some(id) => self.open(DialogKind::CancelRollout { id }),
            None => self.flash(Level::Info, "no rolling restart is running"),
        }
    }

    fn running_rollout(&self) -> Option<uuid::Uuid> {
        self.rollout
            .as_ref()
            .filter(|r| r.status == RolloutStatus::Running)
            .map(|r| r.id)
    }

    /// The Queues screen: move, and pause or resume the queue under the
    /// cursor.
    fn queues_key(&mut self, key: Key) {
        let q = &mut self.queues;
        match key {
            Key::Up | Key::Char('k') => q.move_cursor(-1),
            Key::Down | Key::Char('j') => q.move_cursor(1),
            Key::PageUp => q.move_cursor(-PAGE_ROWS),
            Key::PageDown => q.move_cursor(PAGE_ROWS),
            Key::Home | Key::Char('g') => q.move_cursor(isize::MIN / 2),
            Key::End | Key::Char('G') => q.move_cursor(isize::MAX / 2),
            Key::Char('p') => match q.current() {
                Some(queue) => {
                    let name = queue.name.clone();
                    self.open(DialogKind::PauseQueue { name });
                }
                None => self.flash(Level::Warn, "no queue to pause"),
            },
            Key::Char('r') => match q.current() {
                Some(queue) if !queue.paused => {
                    let text = format!("queue {} is running: nothing to resume", queue.name);
                    self.flash(Level::Info, text);
                }
                Some(queue) => {
                    let name = queue.name.clone();
                    self.open(DialogKind::ResumeQueue { name });
                }
                None => self.flash(Level::Warn, "no queue to resume"),
            },
            _ => {}
        }
    }

    fn audit_key(&mut self, key: Key) -> Vec<Effect> {
        let a = &mut self.audit;
        let before = match key {
            Key::Up | Key::Char('k') => {
                a.move_cursor(-1);
                return Vec::new();
            }
            Key::Down | Key::Char('j') => {
                a.move_cursor(1);
                return Vec::new();
            }
            Key::Char('n') | Key::PageDown | Key::Right => a.older(),
            Key::Char('b') | Key::PageUp | Key::Left => a.newer(),
            Key::Char('g') | Key::Home => Some(a.newest()),
            _ => None,
        };
        before
            .map(|before| vec![Effect::LoadEvents { before }])
            .unwrap_or_default()
    }
}
