-- Timestamps are INTEGER milliseconds since the Unix epoch (UTC): they sort
-- and compare exactly, unlike text. Ids are UUID text.

-- The global pause: a singleton row (id = 1), version starting at 1.
CREATE TABLE worker_pause_state (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    workers_paused INTEGER NOT NULL DEFAULT 0,
    mode           TEXT CHECK (mode IN ('drain', 'quiesce')),
    reason         TEXT,
    requested_by   TEXT,
    requested_at   INTEGER,
    paused_at      INTEGER,
    resumed_at     INTEGER,
    updated_at     INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    version        INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1)
);
INSERT INTO worker_pause_state (id) VALUES (1);

-- The append-only audit log of control actions.
CREATE TABLE system_control_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    action        TEXT NOT NULL,
    mode          TEXT,
    reason        TEXT NOT NULL,
    actor         TEXT NOT NULL,
    force_resume  INTEGER NOT NULL DEFAULT 0,
    queued        INTEGER NOT NULL,
    running       INTEGER NOT NULL,
    stale_running INTEGER NOT NULL,
    is_drained    INTEGER NOT NULL,
    version       INTEGER NOT NULL,
    success       INTEGER NOT NULL,
    request_id    TEXT UNIQUE,
    created_at    INTEGER NOT NULL
);

CREATE TABLE jobs (
    id                   TEXT PRIMARY KEY,
    type                 TEXT NOT NULL,
    payload              TEXT NOT NULL,
    priority             INTEGER NOT NULL DEFAULT 0,
    status               TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempts             INTEGER NOT NULL DEFAULT 0,
    max_attempts         INTEGER NOT NULL,
    worker_id            TEXT,
    lease_token          TEXT,
    lease_seconds        INTEGER,
    lease_expires_at     INTEGER,
    run_after            INTEGER NOT NULL,
    paused_at_checkpoint INTEGER NOT NULL DEFAULT 0,
    result               TEXT,
    error                TEXT,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    started_at           INTEGER,
    finished_at          INTEGER
);
CREATE INDEX jobs_claimable ON jobs (priority DESC, run_after, created_at) WHERE status = 'queued';
CREATE INDEX jobs_running_lease ON jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_status_created ON jobs (status, created_at DESC);
CREATE INDEX jobs_started_at ON jobs (started_at);
