//! The dashboard's event streams: opening one against the caps
//! ([`crate::streams`]) and ending those whose token was revoked.

use super::{Service, ServiceResult};
use crate::auth::Caller;
use crate::streams::StreamPermit;

impl Service {
    /// Counts a new event stream of `caller` (per token; disabled mode has
    /// none, so only the total cap applies). `TooManyStreams` at a cap.
    pub fn open_stream(&self, caller: &Caller) -> ServiceResult<StreamPermit> {
        let permit = self.streams.open(caller.token_id.as_deref());
        if let Err(full) = &permit {
            tracing::warn!(actor = %caller.name, %full, "event stream refused");
        }
        Ok(permit?)
    }

    /// Event streams open in this process.
    pub fn open_streams(&self) -> usize {
        self.streams.count()
    }

    /// Ends the open streams of every token that is now revoked (or gone).
    /// A stream authenticates once, when it opens, so without this a
    /// revoked token would keep its stream. Run on each token notice
    /// (PostgreSQL: at once on every replica) and on every `streams` tick
    /// (SQLite, where `lull token revoke` runs in another process and
    /// sends no notice; and a lost notice on PostgreSQL). Reads one row per
    /// token holding a stream, and nothing when none is open.
    pub async fn end_revoked_streams(&self) {
        for id in self.streams.tokens() {
            match self.store.find_token(&id).await {
                Ok(Some(t)) if t.revoked_at.is_none() => {}
                Ok(t) => {
                    let ended = self.streams.end_token(&id);
                    let name = t.map(|t| t.name).unwrap_or_default();
                    tracing::info!(token = %name, streams = ended, "token revoked: its event streams end");
                }
                Err(e) => tracing::warn!(error = %e, "could not check the tokens of open streams"),
            }
        }
    }
}
