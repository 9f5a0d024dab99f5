//! Pure domain rules: no I/O, no clock (callers pass `now`), unit-tested
//! beside the code. Storage and HTTP call into these; never the reverse.

pub mod acknowledgement;
pub mod actions;
pub mod batch;
pub mod claim_next;
pub mod drain;
pub mod enqueue;
pub mod events;
pub mod fleet;
pub mod input;
pub mod pause;
pub mod pause_command;
pub mod queue;
pub mod queues;
pub mod results;
pub mod retention;
pub mod retry;
pub mod rollout;
pub mod runbook;
pub mod tokens;

pub use acknowledgement::{acknowledgement, parse_wait_applied, pause_impact};
pub use actions::*;
pub use batch::*;
pub use claim_next::CompleteNext;
pub use drain::{JobCounts, LiveCounts};
pub use enqueue::*;
pub use events::EventFilter;
pub use fleet::*;
pub use input::*;
pub use pause::*;
pub use pause_command::*;
pub use queue::*;
pub use queues::*;
pub use results::*;
pub use retention::RetentionPolicy;
pub use runbook::*;
pub use tokens::*;
