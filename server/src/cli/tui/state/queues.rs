//! The Queues screen's data: every queue the server lists (`GET
//! /api/queues`: those with jobs or a pause), by name, and the cursor. The
//! list is re-read with the fleet on every refresh, so a queue's state and
//! counts move live; the cursor stays on its queue by name.

use wire::QueueInfo;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Queues {
    pub queues: Vec<QueueInfo>,
    /// Row of the cursor.
    pub cursor: usize,
    /// A list has arrived at least once.
    pub loaded: bool,
}

impl Queues {
    /// A fresh list: the cursor follows the queue it was on.
    pub fn replace(&mut self, mut queues: Vec<QueueInfo>) {
        queues.sort_by(|a, b| a.name.cmp(&b.name));
        let on = self.current().map(|q| q.name.clone());
        self.queues = queues;
        self.loaded = true;
        self.cursor = on
            .and_then(|name| self.queues.iter().position(|q| q.name == name))
            .unwrap_or(self.cursor)
            .min(self.queues.len().saturating_sub(1));
    }

    /// One queue's new state (a pause or resume answer), in place.
    pub fn update(&mut self, queue: QueueInfo) {
        match self.queues.iter_mut().find(|q| q.name == queue.name) {
            Some(q) => *q = queue,
            None => {
                let mut all = std::mem::take(&mut self.queues);
                all.push(queue);
                self.replace(all);
            }
        }
    }

    pub fn move_cursor(&mut self, by: isize) {
        let last = self.queues.len().saturating_sub(1) as isize;
        self.cursor = (self.cursor as isize).saturating_add(by).clamp(0, last) as usize;
    }

    /// The queue under the cursor.
    pub fn current(&self) -> Option<&QueueInfo> {
        self.queues.get(self.cursor)
    }

    pub fn get(&self, name: &str) -> Option<&QueueInfo> {
        self.queues.iter().find(|q| q.name == name)
    }
}
