//! LISTEN for the changes other server processes make (see
//! [`crate::storage::Notice`]), reconnecting when the connection drops.

use sqlx::postgres::PgListener;
use tokio::sync::mpsc;

use crate::storage::notice::CHANNELS;
use crate::storage::{Notice, StoreResult};

/// Starts listening. Connects once up front so a bad URL fails start-up,
/// not a background task; after that a lost connection is re-made every
/// second; each loss is announced as [`Notice::Disconnected`] and each
/// (re)connection as [`Notice::Reconnected`]: anything sent meanwhile was
/// lost, so the service re-reads the state.
pub(super) async fn start(url: &str) -> StoreResult<mpsc::Receiver<Notice>> {
    let first = connect(url).await?;
    let (tx, rx) = mpsc::channel(64);
    let url = url.to_string();
    tokio::spawn(async move {
        let mut listener = Some(first);
        loop {
            let mut l = match listener.take() {
                Some(l) => l,
                None => match connect(&url).await {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(error = %e, "LISTEN reconnect failed; retrying in 1s");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        if tx.is_closed() {
                            return;
                        }
                        continue;
                    }
                },
            };
            if tx.send(Notice::Reconnected).await.is_err() {
                return;
            }
            loop {
                match l.try_recv().await {
                    Ok(Some(n)) => {
                        let notice = Notice::from_channel(n.channel(), n.payload());
                        if tx.send(notice).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => {
                        tracing::warn!("LISTEN connection lost; reconnecting");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "LISTEN failed; reconnecting");
                        break;
                    }
                }
            }
            if tx.send(Notice::Disconnected).await.is_err() {
                return;
            }
        }
    });
    Ok(rx)
}

async fn connect(url: &str) -> StoreResult<PgListener> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen_all(CHANNELS).await?;
    Ok(listener)
}
