//! `lull events`: the audit log, newest first.

use wire::EventsQuery;

use super::output::events_lines;
use super::{CliResult, Ctx};

pub async fn list(c: &Ctx, limit: u32) -> CliResult<()> {
    let query = EventsQuery {
        limit: Some(limit),
        before: None,
    };
    let page = c.call(c.api.events(&query)).await?;
    c.print(&page, events_lines(&page));
    Ok(())
}
