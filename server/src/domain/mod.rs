//! Pure domain rules: no I/O, no clock (callers pass `now`), unit-tested
//! beside the code. Storage and HTTP call into these; never the reverse.

pub mod input;
pub mod pause;
pub mod retry;

pub use input::*;
pub use pause::*;
