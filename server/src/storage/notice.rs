//! Changes other server processes are told about, and the PostgreSQL
//! channels that carry them.
//!
//! An operation sends its notice inside its transaction (`pg_notify`), so
//! it is delivered when, and only if, the change commits. SQLite has one
//! process: its dialect sends nothing, and the service wakes its own
//! waiters when the call returns.

/// A change another server process made, learned through the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The pause state moved to this version.
    PauseChanged(i64),
    /// A queue's pause moved to this version.
    QueuePauseChanged(String, i64),
    /// Jobs were enqueued (wake long-polling claimers).
    JobsAvailable,
    /// A worker's desired state changed (answer its waiting claims).
    FleetChanged,
    /// A token was created or revoked (drop cached tokens).
    TokensChanged,
    /// The notification connection was (re)established: anything may have
    /// been missed, so re-read the state.
    Reconnected,
    /// The notification connection was lost (a reconnect is under way;
    /// `/health` reports it until it succeeds).
    Disconnected,
}

/// The channel of pause changes; the payload is the new version.
pub(crate) const PAUSE_CHANNEL: &str = "lull_pause";
/// Enqueues and retries: wakes long-polling claimers on every process.
/// (The PostgreSQL enqueue statement names it literally; a test checks.)
pub(crate) const JOBS_CHANNEL: &str = "lull_jobs";
/// A token was created or revoked: every process drops its token cache.
pub(crate) const TOKENS_CHANNEL: &str = "lull_tokens";
/// A worker's desired state changed: answer its waiting claims.
pub(crate) const FLEET_CHANNEL: &str = "lull_fleet";
/// A queue's pause changed; the payload is `<version>:<queue>`.
pub(crate) const QUEUE_PAUSE_CHANNEL: &str = "lull_queue_pause";

/// Every channel a listener subscribes to.
pub(crate) const CHANNELS: [&str; 5] = [
    PAUSE_CHANNEL,
    JOBS_CHANNEL,
    TOKENS_CHANNEL,
    FLEET_CHANNEL,
    QUEUE_PAUSE_CHANNEL,
];

impl Notice {
    /// The channel and payload that carry this notice (`None` for
    /// [`Notice::Reconnected`] and [`Notice::Disconnected`], which only a
    /// listener produces).
    pub(crate) fn channel(&self) -> Option<(&'static str, String)> {
        match self {
            Notice::PauseChanged(v) => Some((PAUSE_CHANNEL, v.to_string())),
            Notice::QueuePauseChanged(q, v) => Some((QUEUE_PAUSE_CHANNEL, format!("{v}:{q}"))),
            Notice::JobsAvailable => Some((JOBS_CHANNEL, String::new())),
            Notice::FleetChanged => Some((FLEET_CHANNEL, String::new())),
            Notice::TokensChanged => Some((TOKENS_CHANNEL, String::new())),
            Notice::Reconnected | Notice::Disconnected => None,
        }
    }

    /// The notice a channel message carries; an unreadable one asks for a
    /// full re-read.
    pub(crate) fn from_channel(channel: &str, payload: &str) -> Notice {
        match channel {
            JOBS_CHANNEL => Notice::JobsAvailable,
            TOKENS_CHANNEL => Notice::TokensChanged,
            FLEET_CHANNEL => Notice::FleetChanged,
            QUEUE_PAUSE_CHANNEL => payload
                .split_once(':')
                .and_then(|(v, q)| Some(Notice::QueuePauseChanged(q.into(), v.parse().ok()?)))
                .unwrap_or(Notice::Reconnected),
            _ => payload
                .parse::<i64>()
                .map(Notice::PauseChanged)
                .unwrap_or(Notice::Reconnected),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_round_trip_through_their_channels() {
        for n in [
            Notice::PauseChanged(7),
            Notice::QueuePauseChanged("emails:eu".into(), 3),
            Notice::JobsAvailable,
            Notice::FleetChanged,
            Notice::TokensChanged,
        ] {
            let (channel, payload) = n.channel().unwrap();
            assert!(CHANNELS.contains(&channel));
            assert_eq!(Notice::from_channel(channel, &payload), n);
        }
        assert_eq!(Notice::Reconnected.channel(), None);
        assert_eq!(
            Notice::from_channel(PAUSE_CHANNEL, "garbage"),
            Notice::Reconnected
        );
        assert_eq!(
            Notice::from_channel(QUEUE_PAUSE_CHANNEL, "x:q"),
            Notice::Reconnected
        );
    }
}
