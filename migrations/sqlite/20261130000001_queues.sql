-- Named queues, scheduled and unique jobs, retention, a producer role
-- (issue 13). Timestamps are INTEGER milliseconds, as everywhere.

-- One row per queue that has (had) jobs or a pause: the queue's own pause
-- state, its version starting at 1 like the global pause's. Rows are never
-- deleted: a claim locks the row of the queue it claims from, and an
-- enqueue writes the row before the job, so no job exists without its
-- queue's row (see server/src/storage/queue_pause.rs).
CREATE TABLE queues (
    name         TEXT PRIMARY KEY,
    paused       INTEGER NOT NULL DEFAULT 0,
    mode         TEXT CHECK (mode IN ('drain', 'quiesce')),
    reason       TEXT,
    requested_by TEXT,
    requested_at INTEGER,
    paused_at    INTEGER,
    resumed_at   INTEGER,
    until_at     INTEGER,
    updated_at   INTEGER NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at   INTEGER NOT NULL
);
INSERT INTO queues (name, updated_at, created_at) VALUES (
    'default',
    CAST(unixepoch('subsec') * 1000 AS INTEGER),
    CAST(unixepoch('subsec') * 1000 AS INTEGER)
);

-- The server checks names; the bound here is a last line of defence.
ALTER TABLE jobs ADD COLUMN queue TEXT NOT NULL DEFAULT 'default'
    CHECK (length(queue) BETWEEN 1 AND 128);
ALTER TABLE jobs ADD COLUMN unique_key TEXT;

-- Claims that name their queues: next queued job of a queue by priority.
CREATE INDEX jobs_claimable_queue ON jobs (queue, priority DESC, run_after, created_at)
    WHERE status = 'queued';
-- Every count of the drain metrics and the queue list reads only live
-- (queued and running) rows, through this index: the time of a pause does
-- not grow with the number of finished jobs.
CREATE INDEX jobs_live ON jobs (queue, status, run_after, lease_expires_at)
    WHERE status IN ('queued', 'running');
-- Unique jobs: at most one live (queued, scheduled or running) job per key;
-- enqueues use it through ON CONFLICT, so concurrent ones cannot both win.
CREATE UNIQUE INDEX jobs_unique_live ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND status IN ('queued', 'running');
-- Retention: finished jobs by status and age.
CREATE INDEX jobs_finished ON jobs (status, finished_at)
    WHERE status IN ('succeeded', 'failed', 'cancelled');
-- The job list filtered by queue, newest first (and "has this queue jobs").
CREATE INDEX jobs_queue_created ON jobs (queue, created_at DESC);

-- A queue's pause and resume are control events too.
ALTER TABLE system_control_events ADD COLUMN queue TEXT;

-- The producer role (enqueue and read jobs, nothing else). SQLite cannot
-- change a CHECK constraint: the table is rebuilt with the new one.
CREATE TABLE api_tokens_new (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('viewer', 'worker', 'operator', 'producer')),
    secret_hash TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
INSERT INTO api_tokens_new (id, name, role, secret_hash, created_at, revoked_at)
    SELECT id, name, role, secret_hash, created_at, revoked_at FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_new RENAME TO api_tokens;
