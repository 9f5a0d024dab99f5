-- Per-worker actions are control events too: whom they targeted, and each
-- worker's result.
ALTER TABLE system_control_events ADD COLUMN targets TEXT NOT NULL DEFAULT '[]';
ALTER TABLE system_control_events ADD COLUMN details TEXT;

-- Rolling restarts; the per-worker progress is kept as JSON.
CREATE TABLE rolling_restarts (
    id               TEXT PRIMARY KEY,
    status           TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'cancelled')),
    max_unavailable  INTEGER NOT NULL,
    deadline_seconds INTEGER NOT NULL,
    reason           TEXT NOT NULL,
    actor            TEXT NOT NULL,
    workers          TEXT NOT NULL,
    message          TEXT,
    created_at       INTEGER NOT NULL,
    finished_at      INTEGER
);
-- Only one rolling restart runs at a time.
CREATE UNIQUE INDEX rolling_restarts_one_running ON rolling_restarts (status) WHERE status = 'running';
