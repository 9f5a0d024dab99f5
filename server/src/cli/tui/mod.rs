//! `lull tui`: the fleet control plane in the terminal — watch the fleet
//! live, pause/resume/drain one or many workers, run and follow a rolling
//! restart, pause and resume the whole fleet, read the audit log; every
//! change confirmed in a dialog that states its impact.
//!
//! The parts, as in ratatui's own examples: [`state`] is a pure state
//! machine (keys and answers in, client calls out) tested without a
//! terminal; [`view`] draws a state; [`io`] makes the calls and keeps the
//! live stream open, feeding messages back; [`terminal`] owns raw mode.
//! This module runs the loop that ties them together.

pub mod io;
pub mod state;
mod terminal;
pub mod view;

#[cfg(test)]
mod tests;

use std::time::Duration;

use chrono::Utc;
use client::Client;
use futures::StreamExt;
use ratatui::backend::Backend;
use ratatui::Terminal;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use self::io::Io;
use self::state::{Effect, Msg, State};
use self::terminal::TerminalGuard;
use self::view::Theme;
use super::{failure, CliResult, Failure, Remote};

/// How often the clock ticks (ages, polling, rolling-restart progress).
const TICK: Duration = Duration::from_secs(1);

/// Runs the TUI until `q`, Ctrl-C, SIGINT, SIGTERM or SIGHUP; the
/// terminal is restored on every way out.
pub async fn run(remote: Remote) -> CliResult<()> {
    let api = Client::builder(&remote.server)
        .token_opt(remote.token)
        .build()
        .map_err(|e| failure(&remote.server, e))?;
    let theme = Theme::from_env();
    let mut guard = TerminalGuard::enter()
        .map_err(|e| Failure(1, format!("cannot open the terminal UI: {e}")))?;
    let result = event_loop(&mut guard.terminal, api, remote.server, theme).await;
    drop(guard);
    result.map_err(|e| Failure(1, format!("terminal UI: {e}")))
}

async fn event_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    api: Client,
    server: String,
    theme: Theme,
) -> std::io::Result<()>
where
    B::Error: Into<std::io::Error>,
{
    let (tx, mut rx) = mpsc::unbounded_channel();
    let io = Io { api: api.clone() };
    let live = tokio::spawn(io::live(api, tx.clone()));
    let mut state = State::new(server, Utc::now());
    let mut keys = crossterm::event::EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let spawn = |effects: Vec<Effect>| {
        for effect in effects {
            let (io, tx) = (io.clone(), tx.clone());
            tokio::spawn(async move {
                let _ = tx.send(io.run(effect).await);
            });
        }
    };
    spawn(state.start());
    let result = loop {
        if let Err(e) = terminal.draw(|f| view::render(f, &state, theme)) {
            break Err(e.into());
        }
        if state.quit {
            break Ok(());
        }
        let msg = tokio::select! {
            event = keys.next() => match event {
                Some(Ok(event)) => match terminal::key(&event) {
                    Some(key) => Msg::Key(key),
                    None => continue,
                },
                Some(Err(e)) => break Err(e),
                None => break Ok(()),
            },
            Some(msg) = rx.recv() => msg,
            _ = tick.tick() => Msg::Tick(Utc::now()),
            _ = term.recv() => break Ok(()),
            _ = int.recv() => break Ok(()),
            _ = hup.recv() => break Ok(()),
        };
        spawn(state.update(msg));
    };
    live.abort();
    result
}
