//! The Audit screen's data: the control log, newest first, a page at a
//! time. Paging goes by event id (`before`), as the API does, so a page
//! stays the same while new events arrive above it.

use wire::{ControlEvent, EventsPage};

/// Events per page: what fits an 80×24 terminal under the header.
pub const PAGE: u32 = 12;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Audit {
    pub events: Vec<ControlEvent>,
    /// The `before` of the page on screen (`None`: the newest page).
    pub before: Option<i64>,
    /// The `before` of the next (older) page; `None` on the last page.
    pub next_before: Option<i64>,
    /// The `before`s of the newer pages, to go back to them.
    pub newer: Vec<Option<i64>>,
    /// Row of the cursor on this page.
    pub cursor: usize,
    pub loaded: bool,
    pub error: Option<String>,
}

impl Audit {
    /// A page arrived (for `before`).
    pub fn loaded(&mut self, before: Option<i64>, result: Result<EventsPage, String>) {
        match result {
            Ok(page) => {
                if before != self.before {
                    self.cursor = 0;
                }
                self.before = before;
                self.events = page.events;
                self.next_before = page.next_before;
                self.cursor = self.cursor.min(self.events.len().saturating_sub(1));
                self.loaded = true;
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// Whether the newest page on screen misses the event `newest`.
    pub fn is_stale(&self, newest: Option<i64>) -> bool {
        self.before.is_none() && newest != self.events.first().map(|e| e.id)
    }

    /// The older page's `before`, remembering this one.
    pub fn older(&mut self) -> Option<Option<i64>> {
        let next = self.next_before?;
        self.newer.push(self.before);
        Some(Some(next))
    }

    /// The newer page's `before`, if this is not the newest.
    pub fn newer(&mut self) -> Option<Option<i64>> {
        self.newer.pop()
    }

    /// Back to the newest page.
    pub fn newest(&mut self) -> Option<i64> {
        self.newer.clear();
        None
    }

    pub fn move_cursor(&mut self, by: isize) {
        let last = self.events.len().saturating_sub(1) as isize;
        self.cursor = (self.cursor as isize + by).clamp(0, last.max(0)) as usize;
    }

    pub fn current(&self) -> Option<&ControlEvent> {
        self.events.get(self.cursor)
    }

    /// The page's number, counted from the newest (1).
    pub fn page_number(&self) -> usize {
        self.newer.len() + 1
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::event;
    use super::*;

    fn page(ids: &[i64], next: Option<i64>) -> Result<EventsPage, String> {
        Ok(EventsPage {
            events: ids.iter().map(|i| event(*i, "pause")).collect(),
            next_before: next,
        })
    }

    #[test]
    fn pages_go_older_and_back_by_event_id() {
        let mut a = Audit::default();
        a.loaded(None, page(&[30, 29, 28], Some(28)));
        assert_eq!(a.page_number(), 1);
        a.move_cursor(5);
        assert_eq!(a.current().map(|e| e.id), Some(28), "clamped to the page");
        let older = a.older().expect("there is an older page");
        assert_eq!(older, Some(28));
        a.loaded(older, page(&[27, 26], None));
        assert_eq!((a.page_number(), a.cursor), (2, 0));
        assert_eq!(a.older(), None, "the last page");
        assert_eq!(a.newer(), Some(None));
        a.loaded(None, page(&[30, 29, 28], Some(28)));
        assert_eq!(a.newer(), None, "already the newest");
        assert!(!a.is_stale(Some(30)));
        assert!(a.is_stale(Some(31)), "a newer event is not on screen");
    }

    #[test]
    fn a_failed_load_keeps_the_page_and_says_why() {
        let mut a = Audit::default();
        a.loaded(None, page(&[3], None));
        a.loaded(Some(3), Err("refused".into()));
        assert_eq!(a.events.len(), 1);
        assert_eq!(a.before, None);
        assert_eq!(a.error.as_deref(), Some("refused"));
    }
}
