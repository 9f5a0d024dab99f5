//! The Lull worker runtime (being written).
